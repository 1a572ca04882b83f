"""Both EVTX backends on damaged logs (issue 9, item 11): a corpus of mutated copies of the
third-party samples and of writer-made logs full of 14031 events, every record taken as a
candidate so that every field of every record is compared. They must read, skip and decode the
same records; where the Rust parser reads a record differently, only the notes say so."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from exops.sources import evtx_python
from exops.sources.eventlog import rust_available
from exops.sources.evtx_binxml import shifted
from exops.sources.evtx_walk import scan_chunks
from tests.hostile import evtx_craft
from tests.hostile.evtx_craft import EveryRecord

pytestmark = pytest.mark.skipif(not rust_available(),
                                reason="the Rust `evtx` package is not installed")
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "evtx-samples"
MUTANTS = 40


def decode(path: Path, read_chunk) -> EveryRecord:
    tally = EveryRecord(str(path))
    with path.open("rb") as stream:
        scan_chunks(stream, tally, None, None, read_chunk)
    return tally


def corpus(folder: Path):
    made = [evtx_craft.ordinary(folder / "clean.evtx", 3000),
            evtx_craft.ordinary(folder / "dirty.evtx", 3000, dirty=True)]
    seeds = [p.read_bytes() for p in made + sorted(SAMPLES.glob("*.evtx"))
             if p.stat().st_size < 1_200_000]
    rng = random.Random(14031)
    for number in range(MUTANTS):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 20)):
            at, length = rng.randrange(len(data)), rng.choice((1, 2, 4, 8, 64, 400))
            data[at:at + length] = (bytes(length) if rng.random() < 0.4
                                    else rng.randbytes(length))[:len(data) - at]
        path = folder / f"mutant{number}.evtx"
        path.write_bytes(bytes(data))
        yield path


def test_backends_agree_record_for_record_on_damaged_logs(tmp_path):
    from exops.sources import evtx_rust
    compared = 0
    for path in corpus(tmp_path):
        python, rust = decode(path, evtx_python.read_chunk), decode(path, evtx_rust.read_chunk)
        assert (rust.records_read, rust.skipped) == (python.records_read, python.skipped)
        assert rust.notes == python.notes
        assert rust.decoded == python.decoded, path.name
        assert not any(shifted(t) for f in python.decoded
                       for t in (f["provider"], f["computer"], f["message"], *f["data"]))
        compared += len(python.decoded)
    assert compared > 10_000
