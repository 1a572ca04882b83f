"""Hypothesis fuzzer over the EVTX readers (issue 9): mutated copies of real and writer-made
logs, and of the crafted hostile ones, must each give a LogScan or one EventLogError, never a
traceback; within a per-input deadline; in a child process whose address space is capped; with
both backends reporting the same records, skips and events.

`fuzz_evtx` runs inside the child (see `test_fuzz_evtx_in_a_cage`). CI runs a fixed, derandomized
set of examples; EXOPS_FUZZ_EXAMPLES=5000 explores further by hand.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exops.sources.eventlog import EventLogError, rust_available, scan_log
from exops.sources.evtx_rust import DISPUTED
from tests.hostile import evtx_craft

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "evtx-samples"
EXAMPLES = int(os.environ.get("EXOPS_FUZZ_EXAMPLES", "150"))
INTERESTING = [b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x00\x10\x00\x00", b"**\x00\x00",
               b"ElfChnk\x00", b"\x0c\x01", b"\x0f\x01\x01\x00", b"\x21", b"\x00\xd8"]


def seeds(folder: Path) -> list[bytes]:
    """Small logs to mutate: writer-made with 14031 events, clean and dirty, three samples,
    and two of the crafted hostile logs."""
    made = [evtx_craft.ordinary(folder / "clean.evtx", 600),
            evtx_craft.ordinary(folder / "dirty.evtx", 600, dirty=True),
            evtx_craft.exponential_fragments(folder / "bomb.evtx"),
            evtx_craft.bad_values(folder / "values.evtx")]
    samples = [SAMPLES / name for name in ("pyevtx__dns_log_malformed.evtx",
                                           "omer__Application_no_crc32.evtx",
                                           "omer__MSExchange_Management_wec.evtx")]
    return [p.read_bytes() for p in made + samples]


mutation = st.one_of(
    st.tuples(st.integers(0, 1 << 22), st.binary(min_size=1, max_size=64)),
    st.tuples(st.integers(0, 1 << 22), st.sampled_from(INTERESTING)),
    st.tuples(st.integers(0, 1 << 22), st.integers(0, 1 << 22)),   # copy 256 bytes from there
)


def mutate(data: bytes, mutations: list, cut: int | None) -> bytes:
    out = bytearray(data)
    for at, change in mutations:
        at %= len(out)
        if isinstance(change, int):
            source = change % len(out)
            change = bytes(out[source:source + 256])
        out[at:at + len(change)] = change[:len(out) - at]
    return bytes(out[:cut % len(out)] if cut is not None else out)


def outcome(path: Path, backend: str):
    try:
        scan = scan_log(path, backend=backend)
    except EventLogError as error:
        return str(error).splitlines()
    texts = [scan.path, *scan.notes, *scan.skipped]
    for group in scan.groups:
        texts += [group.provider, group.dn, group.computer]
        for example in group.examples:
            texts += [example.message, *example.dns]
    "\n".join(texts).encode("utf-8")             # no lone surrogate leaves the reader
    return replace(scan, backend="", notes=tuple(n for n in scan.notes if DISPUTED not in n))


def fuzz_evtx() -> None:
    with tempfile.TemporaryDirectory() as folder:
        corpus = seeds(Path(folder))
        path = Path(folder) / "fuzzed.evtx"
        backends = ["python", "rust"] if rust_available() else ["python"]

        @settings(max_examples=EXAMPLES, deadline=timedelta(seconds=10), database=None,
                  derandomize=EXAMPLES <= 150, suppress_health_check=list(HealthCheck))
        @given(seed=st.integers(0, len(corpus) - 1), mutations=st.lists(mutation, max_size=12),
               cut=st.none() | st.integers(0, 1 << 22))
        def one(seed: int, mutations: list, cut: int | None) -> None:
            path.write_bytes(mutate(corpus[seed], mutations, cut))
            results = [outcome(path, backend) for backend in backends]
            assert all(r == results[0] for r in results), results

        one()


def test_fuzz_evtx_in_a_cage():
    result = evtx_craft.run_bounded(
        "from tests.hostile.test_evtx_fuzz import fuzz_evtx\nfuzz_evtx()\nprint('{}')",
        seconds=300, memory=1536 << 20)
    assert result["rss_mb"] < 300
