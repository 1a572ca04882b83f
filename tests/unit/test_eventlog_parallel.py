"""The parallel chunk walk (issue 12): across worker processes it must return exactly what one
process returns, record for record, on every sample and on damaged logs, with progress in file
order and cancellation between batches."""
from __future__ import annotations

import random
import threading

import pytest

from exops.sources import eventlog
from exops.sources.eventlog import ScanCancelled, rust_available, scan_log
from exops.sources.evtx_format import CHUNK_SIZE, HEADER_SIZE
from exops.sources.evtx_parallel import BATCH
from tests.hostile import evtx_craft

BACKENDS = ["python", pytest.param("rust", marks=pytest.mark.skipif(
    not rust_available(), reason="the Rust `evtx` package is not installed"))]


@pytest.fixture(scope="module")
def long_log(tmp_path_factory):
    """A dirty writer-made log of more than two batches of chunks, 14031 events among them."""
    path = evtx_craft.ordinary(tmp_path_factory.mktemp("parallel") / "Application.evtx",
                               12_000, dirty=True)
    assert path.stat().st_size > HEADER_SIZE + 2 * BATCH * CHUNK_SIZE
    return path


@pytest.mark.parametrize("backend", BACKENDS)
def test_parallel_scan_equals_one_process_on_every_sample(samples_dir, backend):
    for path in sorted(samples_dir.glob("*.evtx")):
        assert scan_log(path, backend=backend, workers=2) == scan_log(path, backend=backend,
                                                                      workers=1), path.name


@pytest.mark.parametrize("backend", BACKENDS)
def test_parallel_scan_equals_one_process_on_damaged_logs(long_log, tmp_path, backend):
    clean = long_log.read_bytes()
    rng = random.Random(12)
    for trial in range(3):
        data = bytearray(clean)
        for _ in range(rng.randint(5, 40)):
            at, length = rng.randrange(len(data)), rng.choice((1, 8, 64, 400, CHUNK_SIZE))
            data[at:at + length] = (bytes(length) if rng.random() < 0.4
                                    else rng.randbytes(length))[:len(data) - at]
        path = tmp_path / f"damaged{trial}.evtx"
        path.write_bytes(bytes(data[:len(data) - rng.randrange(CHUNK_SIZE)]))
        one, many = (scan_log(path, backend=backend, workers=n) for n in (1, 2))
        assert many == one
        assert one.records_read > 9_000 and one.groups


def test_parallel_scan_reports_progress_in_order_and_stops_when_cancelled(long_log):
    calls = []
    scan = scan_log(long_log, workers=2, progress=lambda done, total: calls.append((done, total)))
    size = long_log.stat().st_size
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert calls[-1] == (size, size) and len(calls) >= 3
    assert scan.records_read == 12_000
    cancel = threading.Event()
    seen = []

    def stop_after_one(done, total):
        seen.append(done)
        cancel.set()
    with pytest.raises(ScanCancelled):
        scan_log(long_log, workers=2, cancel=cancel, progress=stop_after_one)
    assert len(seen) == 1


def test_a_large_log_is_read_by_every_core_unless_told(long_log, monkeypatch):
    """Above PARALLEL_FROM chunks, `workers=None` reads in parallel; the result is the same."""
    monkeypatch.setattr(eventlog, "PARALLEL_FROM", 2 * BATCH)
    assert scan_log(long_log) == scan_log(long_log, workers=1)


def test_when_worker_processes_cannot_start_the_log_is_read_in_one_process(long_log):
    """A process whose stderr reports no usable file descriptor (as under Textual, which
    redirects it) cannot start a process pool; the scan must still return every record, and say
    how it was read."""
    import json
    import subprocess
    import sys
    code = ("import json, sys\n"
            "class Redirected:\n"
            "    def write(self, text): pass\n"
            "    def flush(self): pass\n"
            "    def fileno(self): return -1\n"
            "sys.stderr = Redirected()\n"
            "from exops.sources.eventlog import scan_log\n"
            "s = scan_log(sys.argv[1], workers=2)\n"
            "print(json.dumps([s.records_read, s.skipped, list(s.notes)]))")
    done = subprocess.run([sys.executable, "-c", code, str(long_log)], capture_output=True, text=True,
                          timeout=120)
    records, skipped, notes = json.loads(done.stdout)
    alone = scan_log(long_log, workers=1)
    assert (records, skipped) == (alone.records_read, alone.skipped)
    assert any(n.startswith("read in one process") for n in notes)
