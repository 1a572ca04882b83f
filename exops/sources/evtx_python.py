"""The pure-Python EVTX backend: every record of a chunk read by the BinXML reader.

Rendering every record to XML with python-evtx runs at a few hundred records a second. Here each
*template* is parsed once per file, which tells where EventID, Provider and the data items sit
among a record's substitution values; each record is then read with a handful of `struct` reads,
and only records with a free/busy event ID get their values turned into text.
"""
from __future__ import annotations

from typing import Any

from exops.sources.eventtally import ScanTally
from exops.sources.evtx_binxml import ChunkReader, RecordDamage
from exops.sources.evtx_format import Record
from exops.sources.evtx_walk import ChunkWalk

Candidate = tuple[Record, dict[str, Any]]


def read_chunk(chunk: bytes, walk: ChunkWalk, reader: ChunkReader,
               tally: ScanTally) -> list[Candidate]:
    """Count the chunk's records into the tally; returns the free/busy candidates added."""
    candidates: list[Candidate] = []
    for record, wanted in zip(walk.records, walk.may_be_wanted()):
        if not wanted:
            tally.records_read += 1
            continue
        try:
            if reader.event_id(record) in tally.event_ids:
                fields = reader.fields(record)
                candidates.append((record, fields))
                tally.add(**fields)
        except RecordDamage as damage:
            tally.skip(damage.reason)
            continue
        tally.records_read += 1
    return candidates
