"""The reference backend: python-evtx, the parser the format's documentation grew up with,
reading the log its own way, for an analyst who wants a second opinion on what exops found.

It is slow (every record rendered to XML, a few hundred records a second) and it stops where
the log is damaged: it reads only the chunks the file header counts (a dirty log's header
undercounts them), and a chunk it cannot parse ends the scan. Both are reported in the notes,
so a difference from exops's own reader is explained rather than mistaken for lost events.
"""
from __future__ import annotations

import mmap
import os
import threading
from typing import BinaryIO

from Evtx.Evtx import FileHeader

from exops.sources.eventtally import EventLogError, Progress, ScanCancelled, ScanTally
from exops.sources.eventxml import fields_from_string
from exops.sources.evtx_format import CHUNK_MAGIC, CHUNK_SIZE, HEADER_SIZE


def scan(stream: BinaryIO, tally: ScanTally, cancel: threading.Event | None,
         progress: Progress | None) -> None:
    size = os.fstat(stream.fileno()).st_size
    if size < HEADER_SIZE:
        raise EventLogError(f"{tally.source}: truncated EVTX header ({size} of {HEADER_SIZE} "
                            "bytes)")
    with mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data:
        header = FileHeader(data, 0)
        declared = header.chunk_count()
        done = 0
        try:
            for done, chunk in enumerate(header.chunks(), start=1):
                if cancel is not None and cancel.is_set():
                    raise ScanCancelled(tally.source)
                for record in chunk.records():
                    _read(record, tally)
                if progress is not None:
                    progress(min(HEADER_SIZE + done * CHUNK_SIZE, size), size)
        except ScanCancelled:
            raise
        except Exception as exc:            # python-evtx raises many types on damage
            tally.note(f"python-evtx stopped in chunk {done + 1} of {declared}: "
                       f"{type(exc).__name__}: {exc}")
        beyond = sum(data[offset:offset + 8] == CHUNK_MAGIC
                     for offset in range(HEADER_SIZE + declared * CHUNK_SIZE, size, CHUNK_SIZE))
    if beyond:
        tally.note(f"python-evtx reads only the {declared} chunks the header counts; "
                   f"{beyond} more were not read (exops's own reader reads them)")


def _read(record, tally: ScanTally) -> None:
    try:
        xml = record.xml()
    except Exception:                       # a record python-evtx cannot render
        tally.skip("record python-evtx cannot read")
        return
    fields = fields_from_string(xml)
    if fields is None:
        tally.skip("record python-evtx renders as malformed XML")
        return
    tally.records_read += 1
    if fields["event_id"] in tally.event_ids and fields["time"] is not None:
        if fields["record_id"] is None:
            fields["record_id"] = record.record_num()
        tally.add(**fields)
