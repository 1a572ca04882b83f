"""Crafted wevtutil XML exports (issue 9, items 8, 10, 12): elements that are not events are
dropped as they are read, so memory stays flat whatever an export holds; a character XML
forbids (a control character, a reference to a lone surrogate) costs one replacement character,
not the scan; a reference cut by the reader's block boundary is still recognised."""
from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from exops.console import scans_json
from exops.sources import eventxml
from exops.sources.eventlog import scan_log

EUROPE = "/o=EUROPE/ou=First Administrative Group"


def event(record_id: int, item: str = "jdoe") -> str:
    return ("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
            "<Provider Name='MSExchange FreeBusy Assistant'/><EventID>14031</EventID>"
            "<TimeCreated SystemTime='2011-08-09T10:00:00.000000000Z'/>"
            f"<EventRecordID>{record_id}</EventRecordID><Computer>L12EX1</Computer></System>"
            f"<EventData><Data>{item}</Data><Data>{EUROPE}</Data></EventData></Event>\n")


def export_with_noise(folder: Path, noise: int) -> Path:
    """Ten events among `noise` elements that are not events: siblings, and children of one
    long element that is not an event either."""
    path = folder / f"noise{noise}.xml"
    with path.open("w") as out:
        for i in range(5):
            out.write(event(i))
        out.write("<Noise>" * 3 + "<n a='1'>text</n>" * noise + "</Noise>" * 3 + "\n")
        out.write("<Other>x</Other>\n" * noise)
        for i in range(5, 10):
            out.write(event(i))
    return path


def test_elements_that_are_not_events_do_not_pile_up(tmp_path):
    peaks = []
    for noise in (2_000, 40_000):
        path = export_with_noise(tmp_path, noise)
        tracemalloc.start()
        scan = scan_log(path)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert scan.records_read == 10
    assert peaks[1] < 2 * peaks[0], peaks


@pytest.mark.parametrize("bad", ["&#xD800;", "&#55296;", "&#x1;", "\x01", "&#x110000;",
                                 "&#xFFFE;"])
def test_a_forbidden_character_is_one_replacement_character(tmp_path, bad):
    path = tmp_path / "export.xml"
    path.write_text(event(1) + event(2, f"j{bad}doe") + event(3), encoding="utf-8")
    scan = scan_log(path)
    assert (scan.records_read, scan.skipped) == (3, {})
    assert scan.groups[0].examples[1].message == f"j\ufffddoe | {EUROPE}"
    json.dumps(json.loads(scans_json([scan])), ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize("cut", range(1, 8))
def test_a_reference_cut_by_a_block_boundary_is_still_replaced(tmp_path, cut):
    """The export is read in blocks of eventxml.BLOCK bytes; `cut` characters of the reference
    fall in the first block."""
    second = event(2, "j&#xD800;doe")
    reference_at = second.index("&#x")
    head = event(1) + " " * (eventxml.BLOCK - len(event(1)) - reference_at - cut)
    path = tmp_path / "export.xml"
    path.write_text(head + second + event(3), encoding="utf-8")
    assert path.read_bytes()[eventxml.BLOCK - cut:eventxml.BLOCK + 1].startswith(b"&#xD800;"[:cut])
    scan = scan_log(path)
    assert (scan.records_read, scan.skipped) == (3, {})
    assert scan.groups[0].examples[1].message == f"j\ufffddoe | {EUROPE}"
