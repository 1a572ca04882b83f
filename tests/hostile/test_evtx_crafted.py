"""Crafted .evtx files (issue 9, items 5, 6, 10, 12): each hostile record is refused with its
reason or read with a replacement character, everything around it is still read, both backends
give the same answer, and no input costs more than a bounded amount of time and memory. The
scans run in a child process with an address-space limit, so a regression fails the test
instead of taking the machine down."""
from __future__ import annotations

import json
import os
import subprocess
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from exops.console import scans_json
from exops.sources.eventlog import EventLogError, open_log, rust_available, scan_log
from exops.sources.evtx_binxml import TOO_DEEP, TOO_LARGE
from tests.hostile import evtx_craft

BACKENDS = ["python", pytest.param("rust", marks=pytest.mark.skipif(
    not rust_available(), reason="the Rust `evtx` package is not installed"))]
EUROPE = evtx_craft.EUROPE


@pytest.mark.parametrize("backend", BACKENDS)
def test_record_expanding_exponentially_is_skipped_and_the_rest_read(tmp_path, backend):
    """16**12 embedded fragments in one record: before, the Python reader never finished and the
    Rust parser aborted the process allocating memory."""
    path = evtx_craft.exponential_fragments(tmp_path / "bomb.evtx")
    scan = evtx_craft.scan_bounded(path, backend, seconds=60, memory=1 << 30)
    assert scan["skipped"] == {TOO_LARGE: 1}
    assert scan["records_read"] == 3
    assert [EUROPE, 2] in [[dn, count] for _, dn, count in scan["groups"]]
    assert scan["rss_mb"] < 100


@pytest.mark.parametrize("backend", BACKENDS)
def test_deeply_nested_templates_cost_bounded_memory(tmp_path, backend):
    """20 chunks of templates nested 4,000 deep (1.3 MB of log): before, 1.3 GB of memory;
    now each is refused past MAX_DEPTH."""
    path = evtx_craft.deep_templates(tmp_path / "deep.evtx")
    scan = evtx_craft.scan_bounded(path, backend, memory=1 << 30)
    assert scan["skipped"] == {TOO_DEEP: 20}
    assert scan["records_read"] == 20
    assert scan["rss_mb"] < 100


def test_memory_for_templates_stays_flat_however_many_a_log_defines(tmp_path):
    """Every record defines its own template, 30 elements deep (allowed): the templates kept
    for the file are capped, so three times the log costs no more memory (before: 113 MB for
    the 60-chunk log, growing with it)."""
    peaks = []
    for chunks in (20, 60):
        path = evtx_craft.deep_templates(tmp_path / f"many{chunks}.evtx", chunks, depth=30)
        scan = evtx_craft.scan_bounded(path, "python", memory=1 << 30)
        assert scan["skipped"] == {}
        peaks.append(scan["rss_mb"])
    assert peaks[1] < peaks[0] + 10 and peaks[1] < 100, peaks


def test_value_tables_of_every_size_cost_bounded_memory(tmp_path):
    """A record for each value-table size from 3,400 to 4,095: before, a parser kept per size
    (183 MB here, growing for the life of the process)."""
    path = evtx_craft.many_value_counts(tmp_path / "counts.evtx")
    scan = evtx_craft.scan_bounded(path, "python", memory=1 << 30)
    assert (scan["records_read"], scan["skipped"]) == (696, {})
    assert scan["rss_mb"] < 100


def test_impossible_values_cost_one_record_or_one_character(tmp_path):
    """A character reference to a lone surrogate (before: every report writer crashed on it),
    a template with an inline SYSTEMTIME of month 13 (before: the scan ended with a
    ValueError), a SYSTEMTIME value of month 13."""
    path = evtx_craft.bad_values(tmp_path / "values.evtx")
    scans = [scan_log(path, backend="python")]
    if rust_available():
        scans.append(scan_log(path, backend="rust"))
        assert replace(scans[1], backend="python", notes=()) == replace(scans[0], notes=())
    scan = scans[0]
    assert scan.skipped == {"record whose template is unreadable": 1}
    assert scan.records_read == 5
    (group,) = scan.groups
    assert group.count == 5
    assert group.examples[0].message == f"user | \ufffd | {EUROPE}"
    strings = json.dumps(json.loads(scans_json(scans)), ensure_ascii=False)
    assert "\ufffd" in strings
    strings.encode("utf-8")                      # no lone surrogate left anywhere


def test_events_command_prints_a_log_with_bad_values(tmp_path):
    path = evtx_craft.bad_values(tmp_path / "values.evtx")
    for fmt in ("table", "json"):
        done = subprocess.run(["exops", "events", "--format", fmt, str(path)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr


@pytest.mark.parametrize("build, skipped, reason", [
    (evtx_craft.header_only, {}, "nothing read: the log holds no records"),
    (evtx_craft.every_record_size_zero, {"record lost in a damaged part of a chunk": 298,
                                         "record of size 0": 2},
     "nothing read: all 300 records or chunks are damaged"),
])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_log_that_yields_nothing_says_so(tmp_path, build, skipped, reason, backend):
    scan = scan_log(build(tmp_path / "empty.evtx"), backend=backend)
    assert (scan.records_read, scan.skipped) == (0, skipped)
    assert reason in scan.notes


@pytest.mark.parametrize("backend", BACKENDS)
def test_zeroed_chunk_the_header_counts_is_skipped(tmp_path, backend):
    scan = scan_log(evtx_craft.zeroed_chunk(tmp_path / "zeroed.evtx"), backend=backend)
    assert scan.skipped == {"chunk zeroed (the header counts it in use)": 1}
    assert 0 < scan.records_read < 1500


def test_log_through_a_pipe_reads_like_the_file(tmp_path):
    """`exops events <(cat log)`: before, 0 records (opened twice, size taken from fstat)."""
    path = evtx_craft.ordinary(tmp_path / "Application.evtx")
    done = subprocess.run(["bash", "-c", f"exops events --format json <(cat '{path}')"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    piped = json.loads(done.stdout)["files"][0]
    assert (piped["records_read"], piped["records_skipped"]) == (1500, 0)
    assert piped["events"][0]["count"] == 30


def test_fifo_is_read_as_a_stream_and_one_without_a_writer_is_given_up(tmp_path):
    path = evtx_craft.ordinary(tmp_path / "Application.evtx")
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    with pytest.raises(EventLogError, match=r"log\.fifo: nothing arrived through the pipe"):
        with open_log(fifo, timeout=0.3):
            pass

    def write() -> None:
        with open(fifo, "wb") as out:
            out.write(path.read_bytes())
    writer = threading.Thread(target=write)
    writer.start()
    try:
        piped, direct = scan_log(fifo), scan_log(path)
        assert (piped.records_read, piped.skipped, piped.notes) == (1500, {}, ())
        assert [g.count for g in piped.groups] == [g.count for g in direct.groups] == [30]
    finally:
        writer.join(timeout=30)


def test_devices_are_refused_in_one_line():
    with pytest.raises(EventLogError, match=r"/dev/zero: unreadable \(not a file or a pipe\)"):
        scan_log(Path("/dev/zero"))
