"""The pure-Python EVTX backend: every record of a chunk read by the BinXML reader.

Rendering every record to XML with python-evtx runs at a few hundred records a second. Here each
*template* is parsed once per file, which tells where EventID, Provider and the data items sit
among a record's substitution values; each record is then read with a handful of `struct` reads,
and only records with a free/busy event ID get their values turned into text.
"""
from __future__ import annotations

from exops.sources.eventtally import ScanTally
from exops.sources.evtx_binxml import ChunkReader, RecordDamage
from exops.sources.evtx_format import Record
from exops.sources.evtx_walk import ChunkWalk


def read_chunk(chunk: bytes, walk: ChunkWalk, reader: ChunkReader, tally: ScanTally) -> None:
    tally.records_read += sum(read_record(reader, record, tally) for record in walk.records)


def read_record(reader: ChunkReader, record: Record, tally: ScanTally) -> bool:
    """Read one record, adding it to the tally if it is a candidate; False if it is damaged."""
    try:
        if reader.event_id(record) in tally.event_ids:
            tally.add(**reader.fields(record))
    except RecordDamage as damage:
        tally.skip(damage.reason)
        return False
    return True
