"""Event log scans of .evtx files made by the lab writer: free/busy grouping in both backends,
and each kind of damage a real log shows (stale header, zeroed chunk, size-0 record, cut file,
broken string) reported with its reason while every readable record is still read."""
from __future__ import annotations

import random
import struct
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from exops.lab.evtx_writer import CHUNK_SIZE, FILE_HEADER_SIZE, EventSpec, write_evtx
from exops.sources.eventlog import EventLogError, ScanCancelled, rust_available, scan_log

BACKENDS = ["python", pytest.param("rust", marks=pytest.mark.skipif(
    not rust_available(), reason="the Rust `evtx` package is not installed"))]
EUROPE = "/o=EUROPE/ou=First Administrative Group"
START = datetime(2011, 8, 9, 10, 0, tzinfo=timezone.utc)
TOTAL = 6000


def events(count: int = TOTAL):
    """Thousands of ordinary events with the three free/busy events among them."""
    for i in range(count):
        at = START + timedelta(minutes=i)
        if i % 100 == 5:
            yield EventSpec(14031, "MSExchange FreeBusy Assistant", at, "L12EX1.litware.com",
                            level=2, qualifiers=49152, data=(f"user{i}", EUROPE))
        elif i % 250 == 7:
            yield EventSpec(8207, "MSExchangeFBPublish", at, "L12EX2.litware.com", level=2,
                            qualifiers=49152, data=("L12EX2", "0x80004005"))
        elif i == 4321:
            yield EventSpec(3047, "MSExchangeIS Public Store", at, "L12EX1.litware.com",
                            qualifiers=16384, data=(f"EX:{EUROPE.lower()}",))
        else:
            yield EventSpec(1000 + i % 9, "Application Error", at, "L12EX1.litware.com",
                            data=tuple(f"item {j} of event {i}" for j in range(i % 6)))


@pytest.fixture(scope="module")
def dirty_log(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("evtx") / "Application.evtx"
    write_evtx(path, events(), dirty=True)
    return path


def damaged(source: Path, folder: Path, patch) -> Path:
    data = bytearray(source.read_bytes())
    patch(data)
    path = folder / "damaged.evtx"
    path.write_bytes(bytes(data))
    return path


def same_in_both_backends(path: Path):
    scans = [scan_log(path, backend="python")]
    if rust_available():
        scans.append(scan_log(path, backend="rust"))
        assert replace(scans[0], backend="") == replace(scans[1], backend="")
    return scans[0]


def chunk_count(path: Path) -> int:
    return (path.stat().st_size - FILE_HEADER_SIZE) // CHUNK_SIZE


def record_offsets(data: bytes, chunk: int) -> list[int]:
    start = FILE_HEADER_SIZE + chunk * CHUNK_SIZE
    offsets, offset = [], start + 0x200
    while data[offset:offset + 4] == b"**\x00\x00":
        offsets.append(offset)
        offset += struct.unpack_from("<I", data, offset + 4)[0]
    return offsets


def test_dirty_multichunk_log_gives_the_same_groups_in_both_backends(dirty_log):
    scan = same_in_both_backends(dirty_log)
    assert scan.records_read == TOTAL
    assert scan.skipped == {}
    assert scan.notes == (f"dirty log: header counts 1 chunk, {chunk_count(dirty_log)} found",)
    groups = {(g.event_id, g.dn, g.computer): g for g in scan.groups}
    missing = groups[14031, EUROPE, "L12EX1.litware.com"]
    assert missing.count == TOTAL // 100
    assert missing.first_seen == START + timedelta(minutes=5)
    assert missing.last_seen == START + timedelta(minutes=TOTAL - 95)
    assert sum(missing.per_day.values()) == missing.count
    assert [e.record_id for e in missing.examples] == [6, 106, 206]
    publish = groups[8207, "", "L12EX2.litware.com"]
    assert (publish.count, publish.error_codes) == (TOTAL // 250, ("0x80004005",))
    created = groups[3047, EUROPE.lower(), "L12EX1.litware.com"]
    assert created.examples[0].time == START + timedelta(minutes=4321)


@pytest.mark.parametrize("backend", BACKENDS)
def test_auto_backend_and_explicit_backends_read_alike(dirty_log, backend):
    scan = scan_log(dirty_log, backend=backend)
    assert scan.backend == backend
    auto = scan_log(dirty_log)
    assert auto.backend == "python"          # the Rust backend is a cross-check, run when asked
    assert replace(scan, backend="") == replace(auto, backend="")


def test_zeroed_chunk_header_is_reported_and_its_records_still_read(dirty_log, tmp_path):
    def zero_header(data):
        start = FILE_HEADER_SIZE + 2 * CHUNK_SIZE
        data[start:start + 0x200] = bytes(0x200)
    scan = same_in_both_backends(damaged(dirty_log, tmp_path, zero_header))
    assert scan.skipped == {"chunk with bad magic (zeroed)": 1}
    assert scan.records_read == TOTAL


def test_zeroed_records_are_counted_as_lost_and_the_rest_read(dirty_log, tmp_path):
    def zero_middle(data):
        start = FILE_HEADER_SIZE + CHUNK_SIZE
        data[start + 0x2000:start + 0x5000] = bytes(0x3000)
    scan = same_in_both_backends(damaged(dirty_log, tmp_path, zero_middle))
    lost = scan.skipped.pop("record lost in a damaged part of a chunk")
    assert lost > 10
    assert scan.records_read + lost + sum(scan.skipped.values()) == TOTAL


def test_record_of_size_zero_is_skipped_and_the_rest_of_its_chunk_read(dirty_log, tmp_path):
    def size_zero(data):
        struct.pack_into("<I", data, record_offsets(data, 1)[10] + 4, 0)
    scan = same_in_both_backends(damaged(dirty_log, tmp_path, size_zero))
    assert scan.skipped == {"record of size 0": 1}
    assert scan.records_read == TOTAL - 1


def test_file_cut_inside_a_chunk_reads_every_whole_record(dirty_log, tmp_path):
    data = dirty_log.read_bytes()
    cut = FILE_HEADER_SIZE + 2 * CHUNK_SIZE + CHUNK_SIZE // 2
    in_first_three = struct.unpack_from("<Q", data, FILE_HEADER_SIZE + 2 * CHUNK_SIZE + 32)[0]
    path = tmp_path / "cut.evtx"
    path.write_bytes(data[:cut])
    scan = same_in_both_backends(path)
    assert f"file ends inside a chunk ({CHUNK_SIZE // 2} bytes)" in scan.notes
    lost = scan.skipped.pop("record lost in a damaged part of a chunk")
    assert scan.skipped == {"record cut off by the end of the file": 1}
    assert scan.records_read + 1 + lost == in_first_three


def test_broken_string_in_a_free_busy_record_is_still_read(dirty_log, tmp_path):
    def lone_surrogate(data):
        name = "user105".encode("utf-16-le")
        at = data.index(name)
        data[at:at + 2] = b"\x00\xd8"                 # an unpaired high surrogate
    scan = same_in_both_backends(damaged(dirty_log, tmp_path, lone_surrogate))
    assert scan.records_read == TOTAL and scan.skipped == {}
    missing = next(g for g in scan.groups if g.event_id == 14031)
    assert missing.count == TOTAL // 100
    assert missing.examples[1].message == f"ser105 | {EUROPE}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_progress_per_chunk_and_cancel_between_chunks(dirty_log, backend):
    calls = []
    scan_log(dirty_log, backend=backend, progress=lambda done, total: calls.append((done, total)))
    size = dirty_log.stat().st_size
    assert calls == [(FILE_HEADER_SIZE + (i + 1) * CHUNK_SIZE, size)
                     for i in range(chunk_count(dirty_log))]
    cancel = threading.Event()
    seen = []

    def stop_after_two(done, total):
        seen.append(done)
        if len(seen) == 2:
            cancel.set()
    with pytest.raises(ScanCancelled):
        scan_log(dirty_log, backend=backend, cancel=cancel, progress=stop_after_two)
    assert len(seen) == 2


@pytest.mark.parametrize("content, expected", [
    (b"", "empty file"),
    (b"MZ\x90\x00" + bytes(5000), "not an event log"),
    (b"ElfFile\x00" + bytes(100), r"truncated EVTX header \(108 of 4096 bytes\)"),
    (b"hello, world", "not an event log"),
])
def test_bad_input_names_the_file_and_what_was_expected(tmp_path, content, expected):
    path = tmp_path / "Application.evtx"
    path.write_bytes(content)
    with pytest.raises(EventLogError, match=rf"Application\.evtx: {expected}"):
        scan_log(path)


def test_unreadable_paths_are_one_line_errors(tmp_path):
    with pytest.raises(EventLogError, match=r"missing\.evtx: unreadable \(No such file"):
        scan_log(tmp_path / "missing.evtx")
    with pytest.raises(EventLogError, match=r"unreadable \(Is a directory\)"):
        scan_log(tmp_path)
    with pytest.raises(ValueError, match="backend must be one of"):
        scan_log(tmp_path / "missing.evtx", backend="fast")


@pytest.mark.parametrize("backend", BACKENDS)
def test_randomly_damaged_logs_never_crash_or_hang(tmp_path, backend):
    source = tmp_path / "source.evtx"
    write_evtx(source, events(1500), dirty=True)
    clean = source.read_bytes()
    rng = random.Random(2011)
    for trial in range(25):
        data = bytearray(clean)
        for _ in range(rng.randint(1, 20)):
            at = rng.randrange(len(data))
            length = rng.choice((1, 1, 8, 64, 400))
            data[at:at + length] = (bytes(length) if rng.random() < 0.4
                                    else rng.randbytes(length))[:len(data) - at]
        if trial % 5 == 4:
            data = data[:rng.randrange(FILE_HEADER_SIZE, len(data))]
        path = tmp_path / f"fuzz{trial}.evtx"
        path.write_bytes(bytes(data))
        scan = scan_log(path, backend=backend)
        assert scan.records_read + scan.records_skipped > 0
