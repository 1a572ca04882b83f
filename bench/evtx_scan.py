"""Benchmark: exops's event log scan against the obvious ways of reading .evtx files.

Four readers go over the same files in one run:

- naive python-evtx: `record.xml()` on every record (what a script built on python-evtx does);
- exops, pure-Python backend (`scan_log(..., backend="python")`);
- the Rust-based `evtx` package's plain `records()` loop (XML of every record, nothing else);
- exops, Rust backend (`scan_log(..., backend="rust")`).

Each counts the records it read and its wall time over all files; the result is records per
second and the ratio to the naive loop. The naive loop runs once (it takes tens of seconds), the
others `--repeat` times, best time kept. exops reads more records than the naive loop on damaged
files (it walks every chunk and steps over damage), so compare rates, not totals.

    python bench/evtx_scan.py [FILES...] [--repeat 5]

Without FILES: every .evtx in $EXOPS_SAMPLES, else the vendored copy in tests/data/evtx-samples.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from Evtx.Evtx import Evtx  # noqa: E402

from exops.sources.eventlog import rust_available, scan_log  # noqa: E402


def naive_python_evtx(path: Path) -> int:
    read = 0
    try:
        with Evtx(str(path)) as log:
            for record in log.records():
                try:
                    record.xml()
                except Exception:       # a damaged record: the naive loop just moves on
                    continue
                read += 1
    except Exception:                   # python-evtx gave up on the rest of the file
        pass
    return read


def exops_python(path: Path) -> int:
    return scan_log(path, backend="python").records_read


def rust_records(path: Path) -> int:
    import evtx
    records = evtx.PyEvtxParser(str(path)).records()
    read = 0
    while True:
        try:
            next(records)
        except StopIteration:
            return read
        except RuntimeError:            # a damaged record or chunk; the iterator goes on
            continue
        read += 1


def exops_rust(path: Path) -> int:
    return scan_log(path, backend="rust").records_read


def measure(reader: Callable[[Path], int], files: list[Path], repeat: int) -> tuple[int, float]:
    """(records read, best total seconds over `repeat` passes)."""
    best = float("inf")
    records = 0
    for _ in range(repeat):
        started = time.perf_counter()
        records = sum(reader(path) for path in files)
        best = min(best, time.perf_counter() - started)
    return records, best


def default_files() -> list[Path]:
    folder = Path(os.environ.get("EXOPS_SAMPLES", REPO / "tests" / "data" / "evtx-samples"))
    return sorted(folder.glob("*.evtx"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=5, help="passes for the fast readers")
    args = parser.parse_args()
    files = args.files or default_files()
    if not files:
        print("no .evtx files: give FILES or set EXOPS_SAMPLES", file=sys.stderr)
        return 2
    size = sum(p.stat().st_size for p in files)
    print(f"{len(files)} files, {size / 1e6:.1f} MB, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs\n")

    readers = [("python-evtx record.xml() (naive)", naive_python_evtx, 1),
               ("exops, pure Python backend", exops_python, args.repeat)]
    if rust_available():
        readers += [("evtx (Rust) records() loop", rust_records, args.repeat),
                    ("exops, Rust backend", exops_rust, args.repeat)]
    else:
        print("the Rust `evtx` package is not installed: its rows are left out\n")

    print(f"| {'reader':34} | {'records':>7} | {'seconds':>7} | {'records/s':>9} "
          f"| {'vs naive':>8} |")
    print(f"|{'-' * 36}|{'-' * 8}:|{'-' * 8}:|{'-' * 10}:|{'-' * 9}:|")
    smallest = min(files, key=lambda p: p.stat().st_size)
    naive_rate = None
    for name, reader, repeat in readers:
        reader(smallest)                # warm up imports outside the timing
        records, seconds = measure(reader, files, repeat)
        rate = records / seconds
        naive_rate = naive_rate or rate
        print(f"| {name:34} | {records:7} | {seconds:7.3f} | {rate:9,.0f} | "
              f"{rate / naive_rate:7,.0f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
