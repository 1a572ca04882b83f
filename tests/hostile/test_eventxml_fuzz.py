"""Hypothesis fuzzer over the XML export reader (issue 9): a wevtutil export with text inserted,
removed or replaced, in UTF-8 or UTF-16, must give a LogScan or one EventLogError, never a
traceback; within a per-input deadline; in a child process whose address space is capped; and
every string it hands on must encode.

`fuzz_eventxml` runs inside the child (see `test_fuzz_eventxml_in_a_cage`).
"""
from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exops.sources.eventlog import EventLogError, scan_log
from tests.hostile import evtx_craft

EXPORT = Path(__file__).resolve().parents[2] / "fixtures" / "xml" / "freebusy-wevtutil.xml"
EXAMPLES = int(os.environ.get("EXOPS_FUZZ_EXAMPLES", "200"))
NASTY = ["&#xD800;", "&#0;", "&#x110000;", "&#99999999999;", "\x00", "\x1b[2J", "\ud800",
         "<Event>", "</Event>", "<![CDATA[", "]]>", "<?xml version='1.0'?>",
         "<!DOCTYPE x [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;'>]>",
         "&b;", "<EventID>14031</EventID>", "<Data>/o=EUROPE/ou=Evil</Data>", "&", "<", "'"]

edit = st.tuples(st.integers(0, 1 << 16), st.integers(0, 64),
                 st.one_of(st.sampled_from(NASTY), st.text(max_size=40)))


def outcome(path: Path) -> None:
    try:
        scan = scan_log(path)
    except EventLogError:
        return
    texts = [*scan.notes, *scan.skipped]
    for group in scan.groups:
        texts += [group.provider, group.dn, group.computer]
        for example in group.examples:
            texts += [example.message, *example.dns]
    "\n".join(texts).encode("utf-8")


def fuzz_eventxml() -> None:
    original = EXPORT.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzzed.xml"

        @settings(max_examples=EXAMPLES, deadline=timedelta(seconds=10), database=None,
                  derandomize=EXAMPLES <= 200, suppress_health_check=list(HealthCheck))
        @given(edits=st.lists(edit, max_size=8), encoding=st.sampled_from(["utf-8", "utf-16"]))
        def one(edits: list, encoding: str) -> None:
            text = original
            for at, removed, inserted in edits:
                at %= len(text) + 1
                text = text[:at] + inserted + text[at + removed:]
            path.write_bytes(text.encode(encoding, "surrogatepass"))
            outcome(path)

        one()


def test_fuzz_eventxml_in_a_cage():
    result = evtx_craft.run_bounded(
        "from tests.hostile.test_eventxml_fuzz import fuzz_eventxml\nfuzz_eventxml()\n"
        "print('{}')", seconds=300, memory=1 << 30)
    assert result["rss_mb"] < 200
