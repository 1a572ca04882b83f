"""The Rust-based `evtx` backend: the same walk and the same record reading as the pure-Python
backend, with the free/busy candidates' fields decoded by the `evtx` package instead.

Which records exist, which are damaged and what their EventIDs are is decided by the Python
reader for both backends, so the two count alike on any log. The Rust parser renders whole
chunks, and renders everything it is given, however far a crafted record expands: so it only
sees a chunk that holds a candidate, and only when the Python reader found every record of it
sound and bounded (`ChunkReader.expansion`); any other chunk is read by the Python reader
alone. Each chunk is handed over on its own, behind a clean one-chunk file header, so
cancellation and progress work per chunk as in the Python backend.
"""
from __future__ import annotations

import io
import struct
import zlib

import evtx

from exops.sources.eventtally import ScanTally
from exops.sources.eventxml import fields_from_string
from exops.sources.evtx_binxml import ChunkReader, RecordDamage
from exops.sources.evtx_format import HEADER_SIZE, Record
from exops.sources.evtx_python import read_record
from exops.sources.evtx_values import written_time
from exops.sources.evtx_walk import ChunkWalk

def _one_chunk_header() -> bytes:
    head = struct.pack("<8sQQQIHHHH", b"ElfFile\x00", 0, 0, 1, 0x80, 1, 3, HEADER_SIZE, 1)
    head = head.ljust(0x78, b"\x00") + struct.pack("<I", 0)
    return (head + struct.pack("<I", zlib.crc32(head))).ljust(HEADER_SIZE, b"\x00")


_HEADER = _one_chunk_header()


def read_chunk(chunk: bytes, walk: ChunkWalk, reader: ChunkReader, tally: ScanTally) -> None:
    candidates: list[Record] = []
    for record in walk.records:
        try:
            if reader.event_id(record) in tally.event_ids:
                candidates.append(record)
        except RecordDamage as damage:
            tally.skip(damage.reason)
            continue
        tally.records_read += 1
    rendered = _render(chunk, len(walk.records)) if candidates and _sound(walk, reader) else {}
    for record in candidates:
        _add(record, rendered.get(record[2]), reader, tally)


def _sound(walk: ChunkWalk, reader: ChunkReader) -> bool:
    """Whether the Rust parser may have the chunk: no damage, distinct record IDs (its results
    are matched by ID), and every record bounded."""
    if not walk.header_ok or walk.damage or len({r[2] for r in walk.records}) < len(walk.records):
        return False
    try:
        for record in walk.records:
            reader.expansion(record)
    except RecordDamage:
        return False
    return True


def _add(record: Record, xml: str | None, reader: ChunkReader, tally: ScanTally) -> None:
    """One candidate, as the Rust parser rendered it when it did (with the EventID the Python
    reader read), else as the Python reader reads it."""
    fields = fields_from_string(xml) if xml is not None else None
    if fields is None or fields["event_id"] != reader.event_id(record):
        tally.records_read -= not read_record(reader, record, tally)
        return
    fields["time"] = fields["time"] or written_time(record[3])
    if fields["record_id"] is None:
        fields["record_id"] = record[2]
    tally.add(**fields)


def _render(chunk: bytes, expected: int) -> dict[int, str]:
    """Record ID -> XML for every record of the chunk the Rust parser decodes."""
    records = evtx.PyEvtxParser(io.BytesIO(_HEADER + chunk), number_of_threads=1).records()
    rendered: dict[int, str] = {}
    failures = 0
    while failures <= expected:            # it moves on after each failure; this is a backstop
        try:
            record = next(records)
        except StopIteration:
            break
        except RuntimeError:
            failures += 1
            continue
        rendered[record["event_record_id"]] = record["data"]
    return rendered
