"""The Rust-based `evtx` backend: the pure-Python reading, cross-checked record for record by the
`evtx` package on every free/busy candidate.

Which records exist, which are damaged, what their EventIDs and fields are, is decided by the
Python reader in both backends, so the two report the same events on any log, damaged or not:
on damaged data two decoders that each guess differently would otherwise disagree, and a guess
can turn garbage into a finding. The Rust parser renders each chunk that holds a candidate and
its reading is compared with the Python one; where they differ the notes count it, so an
analyst knows which results to cross-check (`--backend python-evtx`).

The Rust parser renders whole chunks, everything it is given however far a crafted record
expands (it allocates until the process aborts): so it only sees a chunk whose every record
the Python reader found sound and bounded (`ChunkReader.expansion`). Each chunk is handed over
on its own, behind a clean one-chunk file header.
"""
from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import evtx

from exops.sources import evtx_python
from exops.sources.eventtally import ScanTally
from exops.sources.eventxml import fields_from_string
from exops.sources.evtx_binxml import ChunkReader, RecordDamage
from exops.sources.evtx_format import HEADER_SIZE, Record
from exops.sources.evtx_values import written_time
from exops.sources.evtx_python import Candidate
from exops.sources.evtx_walk import ChunkWalk


def _one_chunk_header() -> bytes:
    head = struct.pack("<8sQQQIHHHH", b"ElfFile\x00", 0, 0, 1, 0x80, 1, 3, HEADER_SIZE, 1)
    head = head.ljust(0x78, b"\x00") + struct.pack("<I", 0)
    return (head + struct.pack("<I", zlib.crc32(head))).ljust(HEADER_SIZE, b"\x00")


_HEADER = _one_chunk_header()
DISPUTED = ("free/busy records the Rust parser reads differently (damaged); "
            "the Python reading was kept")


def read_chunk(chunk: bytes, walk: ChunkWalk, reader: ChunkReader,
               tally: ScanTally) -> list[Candidate]:
    candidates = evtx_python.read_chunk(chunk, walk, reader, tally)
    if candidates and _sound(walk, reader):
        rendered = _render(chunk, len(walk.records))
        for record, ours in candidates:
            theirs = _fields(rendered.get(record[2]), record)
            if theirs is not None and theirs != ours:
                tally.remark(DISPUTED)
    return candidates


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


def _fields(xml: str | None, record: Record) -> dict[str, Any] | None:
    """The fields of the Rust parser's rendering, completed as the Python reader completes
    them; None when it rendered nothing readable."""
    fields = fields_from_string(xml) if xml is not None else None
    if fields is not None:
        fields["time"] = fields["time"] or written_time(record[3])
        if fields["record_id"] is None:
            fields["record_id"] = record[2]
    return fields


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
