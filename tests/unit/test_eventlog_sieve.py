"""The sieve (issue 12): a sound chunk is counted, not read, where no record can hold a wanted
EventID, and only the records that can are read. It must never change a scan's result: every
test compares with the same scan reading every record, which a tally whose wanted IDs are not a
plain set gets."""
from __future__ import annotations

import random
import struct

import pytest

from exops.lab.evtx_writer import EventSpec, write_evtx
from exops.sources import evtx_python
from exops.sources.eventtally import FREE_BUSY_EVENT_IDS, ScanTally
from exops.sources.evtx_binxml import ChunkReader, TemplateCache
from exops.sources.evtx_format import CHUNK_SIZE, HEADER_SIZE
from exops.sources.evtx_sieve import candidate_bytes, sieve
from exops.sources.evtx_walk import scan_chunks, walk_chunk
from exops.lab.evtx_writer import _element, _Sub
from tests.hostile import evtx_craft
from tests.hostile.evtx_craft import STRING, text


class EveryRecordRead(ScanTally):
    """The same wanted IDs as a list: no sieve, every record of every chunk is read."""

    event_ids = sorted(FREE_BUSY_EVENT_IDS)


def scan(path, tally_class=ScanTally):
    """The LogScan of one process, and how many records the reader was asked to read."""
    asked = 0

    def read(chunk, walk, reader, tally):
        nonlocal asked
        asked += sum(walk.may_be_wanted())
        return evtx_python.read_chunk(chunk, walk, reader, tally)

    tally = tally_class(str(path))
    with open(path, "rb") as stream:
        scan_chunks(stream, tally, None, None, read)
    return tally.result("python"), asked


@pytest.fixture(scope="module")
def mixed_log(tmp_path_factory):
    """Ordinary events of several providers, every free/busy event ID now and then."""
    path = tmp_path_factory.mktemp("sieve") / "Application.evtx"
    rng = random.Random(7)
    start = evtx_craft.START

    def events():
        for n in range(20_000):
            at = start.replace(second=n % 60, minute=n // 60 % 60)
            if n % 700 == 350:
                event_id = (14031, 8207, 3047)[n // 700 % 3]
                yield EventSpec(event_id, evtx_craft.PROVIDER, at, "L12EX1.litware.com", level=2,
                                data=(f"user{n}", evtx_craft.EUROPE, "0x8004010f"))
            else:
                yield EventSpec(rng.choice((1000, 1001, 9317, 326, 8224)),
                                rng.choice(("Application Error", "MSExchangeSA", "ESE", "VSS")),
                                at, "L12EX1.litware.com",
                                data=tuple(f"item {j}" for j in range(n % 5)))
    write_evtx(path, events())
    return path


def test_the_sieve_changes_nothing_and_reads_few_records(mixed_log):
    sieved, asked = scan(mixed_log)
    everything, asked_all = scan(mixed_log, EveryRecordRead)
    assert sieved == everything
    assert sum(group.count for group in sieved.groups) == len(range(350, 20_000, 700))
    assert asked_all == sieved.records_read == 20_000
    assert asked < 1_000        # the 29 events, records sharing their bytes, a chunk in doubt


def test_the_sieve_changes_nothing_on_any_sample(samples_dir):
    for path in sorted(samples_dir.glob("*.evtx")):
        assert scan(path)[0] == scan(path, EveryRecordRead)[0], path.name


def test_the_sieve_changes_nothing_on_damaged_logs(mixed_log, tmp_path):
    clean = mixed_log.read_bytes()
    rng = random.Random(12)
    for trial in range(4):
        data = bytearray(clean)
        for _ in range(rng.randint(5, 40)):
            at, length = rng.randrange(HEADER_SIZE, len(data)), rng.choice((1, 8, 64, 400))
            data[at:at + length] = (bytes(length) if rng.random() < 0.4
                                    else rng.randbytes(length))[:len(data) - at]
        path = tmp_path / f"damaged{trial}.evtx"
        path.write_bytes(bytes(data))
        assert scan(path)[0] == scan(path, EveryRecordRead)[0]


def chunks_of(path):
    data = path.read_bytes()
    return [data[at:at + CHUNK_SIZE] for at in range(HEADER_SIZE, len(data), CHUNK_SIZE)]


def test_the_sieve_points_into_the_record_that_holds_the_event(mixed_log):
    wanted = candidate_bytes(FREE_BUSY_EVENT_IDS)
    with open(mixed_log, "rb") as stream:
        templates = TemplateCache(stream)
        verdicts = [(chunk, sieve(chunk, wanted, templates)) for chunk in chunks_of(mixed_log)]
    # a chunk may also be read in full where record-like bytes sit inside a record
    assert sum(hits == [] for _, hits in verdicts) > len(verdicts) // 2
    chunk, hits = next((c, h) for c, h in verdicts if h)
    walk = walk_chunk(chunk)
    walk.sieve = hits
    reader = ChunkReader(chunk, TemplateCache(None))
    marked = [reader.event_id(r) for r, m in zip(walk.records, walk.may_be_wanted()) if m]
    assert set(marked) & FREE_BUSY_EVENT_IDS


def test_a_chunk_is_read_in_full_when_its_checksum_fails_or_it_has_no_templates(
        mixed_log, samples_dir):
    wanted = candidate_bytes(FREE_BUSY_EVENT_IDS)
    chunk = bytearray(chunks_of(mixed_log)[0])
    chunk[0x300] ^= 0xFF
    assert sieve(bytes(chunk), wanted, TemplateCache(None)) is None
    forwarded = samples_dir / "omer__MSExchange_Management_wec.evtx"    # template-less records
    with open(forwarded, "rb") as stream:
        assert sieve(chunks_of(forwarded)[0], wanted, TemplateCache(stream)) is None


def event_with_id_of_type(kind: int) -> tuple:
    """A 14031-shaped event whose template declares its EventID value of type `kind`."""
    system = _element("System", children=(
        _element("Provider", (("Name", _Sub(1, STRING)),)),
        _element("EventID", children=(_Sub(2, kind),)),
        _element("Computer", children=(_Sub(3, STRING),))))
    data = _element("EventData", children=(_element("Data", children=(_Sub(4, STRING),)),))
    return _element("Event", (("xmlns", evtx_craft.NAMESPACE),), (system, data))


def test_an_event_id_of_any_integer_type_is_read_and_text_in_a_value_never_is(tmp_path):
    """Windows writes EventID as a UInt16; any integer is read. Text in the template's one
    value is damage when its chunk is read in full; in a sound chunk the sieve counts it without
    reading it (it cannot find text): either way it is never an event."""
    crafted = evtx_craft.CraftedChunk()
    for record_id, (kind, raw) in enumerate(((0x08, struct.pack("<I", 14031)),
                                             (STRING, "14031".encode("utf-16-le"))), 1):
        values = [text("x"), text(evtx_craft.PROVIDER), (kind, raw), text("L12EX1"),
                  text(evtx_craft.EUROPE)]
        crafted.add(record_id, values, tree=event_with_id_of_type(kind))
    path = evtx_craft.write_chunks(tmp_path / "types.evtx", [crafted])
    sieved, everything = scan(path)[0], scan(path, EveryRecordRead)[0]
    assert sieved.groups == everything.groups
    assert [(group.event_id, group.count) for group in sieved.groups] == [(14031, 1)]
    assert (sieved.records_read, sieved.skipped) == (2, {})
    assert (everything.records_read, everything.skipped) == (
        1, {"record without a readable EventID": 1})
