"""The Rust-based `evtx` backend: the same walk as the pure-Python one, with each chunk's records
decoded by the `evtx` package.

Each chunk is handed to the Rust parser on its own (behind a clean one-chunk file header), so
cancellation and progress work per chunk as in the Python backend. The Rust parser raises
`RuntimeError` for a record it cannot decode and then carries on; such records, and whole chunks
it refuses (a zeroed header), are read by the Python reader instead, so both backends recover
exactly the same records.
"""
from __future__ import annotations

import io
import re
import struct
import threading
import zlib
from pathlib import Path

import evtx

from exops.sources.eventlog import Progress, ScanTally
from exops.sources.eventxml import fields_from_string
from exops.sources.evtx_binxml import ChunkReader
from exops.sources.evtx_format import HEADER_SIZE
from exops.sources.evtx_python import read_record
from exops.sources.evtx_values import written_time
from exops.sources.evtx_walk import ChunkWalk, scan_chunks

_EVENT_ID = re.compile(r"<EventID\b[^>]*>\s*(\d+)\s*<")


def _one_chunk_header() -> bytes:
    head = struct.pack("<8sQQQIHHHH", b"ElfFile\x00", 0, 0, 1, 0x80, 1, 3, HEADER_SIZE, 1)
    head = head.ljust(0x78, b"\x00") + struct.pack("<I", 0)
    return (head + struct.pack("<I", zlib.crc32(head))).ljust(HEADER_SIZE, b"\x00")


_HEADER = _one_chunk_header()


def scan(path: Path, tally: ScanTally, cancel: threading.Event | None,
         progress: Progress | None) -> None:
    scan_chunks(path, tally, cancel, progress, read_chunk)


def read_chunk(chunk: bytes, walk: ChunkWalk, reader: ChunkReader, tally: ScanTally) -> None:
    rendered = _render(chunk, len(walk.records)) if walk.header_ok else {}
    wanted = tally.event_ids
    event_id = _EVENT_ID.search
    read = 0
    for record in walk.records:
        _, _, record_id, written = record
        xml = rendered.pop(record_id, None)
        match = event_id(xml) if xml is not None else None
        fields = None
        if match is not None and int(match[1]) in wanted:
            fields = fields_from_string(xml)
            match = match if fields is not None else None
        if match is None:       # not decoded, decoded without an EventID, or not well-formed
            read += read_record(reader, record, tally)
            continue
        read += 1
        if fields is not None:
            fields["time"] = fields["time"] or written_time(written)
            if fields["record_id"] is None:
                fields["record_id"] = record_id
            tally.add(**fields)
    tally.records_read += read


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
