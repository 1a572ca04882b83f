"""The walk over chunks and records that both EVTX backends share, so that they agree on which
records exist: it visits every 64 KiB chunk in the file (a dirty log's header undercounts them),
carves records out of chunks whose header is damaged, and steps over damaged records to the next
good one instead of giving up on the rest of the chunk.
"""
from __future__ import annotations

import bisect
import os
import struct
import threading
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from exops.sources.eventtally import EventLogError, Progress, ScanCancelled, ScanTally
from exops.sources.evtx_binxml import ChunkReader, TemplateCache
from exops.sources.evtx_format import (CHUNK_HEADER, CHUNK_MAGIC, CHUNK_SIZE, HEADER_SIZE,
                                       MIN_RECORD, RECORDS_START, Record, checksums_match)
from exops.sources.evtx_sieve import candidate_bytes, header_count, sieve

RECORD_MAGIC = b"**\x00\x00"

_FILE_HEADER = struct.Struct("<8sQQQIHHHH")     # magic .. chunk count (REFERENCE.md 4)
_RECORD_HEADER = struct.Struct("<4sIQQ")        # magic, size, record id, FILETIME written
_U32 = struct.Struct("<I")


@dataclass
class ChunkWalk:
    records: list[Record] = field(default_factory=list)
    damage: Counter[str] = field(default_factory=Counter)
    header_ok: bool = False         # starts with ElfChnk: one of the chunks the log is made of
    checksum_ok: bool = True
    sieve: list[int] | None = None  # where a wanted EventID's bytes are (`sieve`); None: read all

    def may_be_wanted(self) -> list[bool]:
        """Per record, whether it must be read to know its EventID: every record, unless the
        sieve says which records hold a wanted EventID's bytes (a value at p spans p, p + 1)."""
        if self.sieve is None or self.damage:
            return [True] * len(self.records)
        starts = [record[0] for record in self.records]
        marked = [False] * len(starts)
        for position in self.sieve:
            for byte in (position, position + 1):
                if (index := bisect.bisect_right(starts, byte) - 1) >= 0:
                    marked[index] = True
        return marked


ReadChunk = Callable[[bytes, ChunkWalk, "ChunkReader", ScanTally], object]


@dataclass
class Layout:
    """What the file header says, and how big the file is."""

    size: int
    header: bytes
    declared: int                    # chunks the header counts in use

    @property
    def offsets(self) -> range:
        return range(HEADER_SIZE, self.size, CHUNK_SIZE)


@dataclass
class ChunkCounts:
    """What the walk saw of the chunks themselves, for the notes."""

    found: int = 0                   # chunks that start with ElfChnk
    bad_checksums: int = 0
    borrowed: int = 0                # records read with another chunk's copy of their template

    def merge(self, other: ChunkCounts) -> None:
        self.found += other.found
        self.bad_checksums += other.bad_checksums
        self.borrowed += other.borrowed


def scan_chunks(stream: BinaryIO, tally: ScanTally, cancel: threading.Event | None,
                progress: Progress | None, read: ReadChunk) -> None:
    """Walk every chunk of the log and hand its records to `read`; notes what the header hid."""
    layout = read_layout(stream, tally.source)
    counts = scan_range(stream, layout, layout.offsets, tally, read, cancel, progress)
    note_layout(tally, layout, counts)


def read_layout(stream: BinaryIO, source: str) -> Layout:
    size = os.fstat(stream.fileno()).st_size
    stream.seek(0)
    header = stream.read(HEADER_SIZE)
    if len(header) < HEADER_SIZE:
        raise EventLogError(f"{source}: truncated EVTX header ({len(header)} of {HEADER_SIZE} "
                            "bytes)")
    return Layout(size, header, _FILE_HEADER.unpack_from(header, 0)[-1])


def scan_range(stream: BinaryIO, layout: Layout, offsets: range, tally: ScanTally,
               read: ReadChunk, cancel: threading.Event | None = None,
               progress: Progress | None = None,
               templates: TemplateCache | None = None) -> ChunkCounts:
    """Read the chunks at `offsets` into the tally, one at a time; `templates` are those
    already parsed from the same log (a worker reads many ranges of it).

    Chunks are read with plain reads rather than mmap: a log that shrinks while it is read (a
    live log being cleared) must end the scan early, not kill the process with SIGBUS. A chunk
    of zeros where the header says a chunk is in use counts as skipped; past that, zeros are
    the space Windows allocated ahead.
    """
    templates = templates or TemplateCache(stream)
    borrowed = templates.borrowed
    counts = ChunkCounts()
    wanted = candidate_bytes(tally.event_ids)
    for offset in offsets:
        if cancel is not None and cancel.is_set():
            raise ScanCancelled(tally.source)
        stream.seek(offset)
        chunk = stream.read(CHUNK_SIZE)
        hits = None if wanted is None else sieve(chunk, wanted, templates)
        if hits == [] and (count := header_count(chunk)):
            counts.found += 1
            tally.records_read += count        # sound, and no record can be wanted
        else:
            _walk_into(chunk, (offset - HEADER_SIZE) // CHUNK_SIZE < layout.declared, hits,
                       counts, ChunkReader(chunk, templates), tally, read)
        if progress is not None:
            progress(min(offset + CHUNK_SIZE, layout.size), layout.size)
    counts.borrowed = templates.borrowed - borrowed
    return counts


def _walk_into(chunk: bytes, in_use: bool, hits: list[int] | None, counts: ChunkCounts,
               reader: ChunkReader, tally: ScanTally, read: ReadChunk) -> None:
    """Walk one chunk record by record and hand its records to `read`."""
    walk = walk_chunk(chunk, checked=hits is not None)
    walk.sieve = hits
    counts.found += walk.header_ok
    counts.bad_checksums += not walk.checksum_ok
    if (in_use and not walk.header_ok and len(chunk) == CHUNK_SIZE
            and chunk.count(0) == CHUNK_SIZE):
        walk.damage["chunk zeroed (the header counts it in use)"] += 1
    for reason, count in walk.damage.items():
        tally.skip(reason, count)
    if walk.records:
        read(chunk, walk, reader, tally)


def note_layout(tally: ScanTally, layout: Layout, counts: ChunkCounts) -> None:
    header, size, declared = layout.header, layout.size, layout.declared
    flags, checksum = struct.unpack_from("<II", header, 0x78)
    if counts.found != declared:
        prefix = "dirty log: " if flags & 1 else ""
        tally.note(f"{prefix}header counts {_chunks(declared)}, {counts.found} found")
    if zlib.crc32(header[:0x78]) != checksum:
        tally.note("file header checksum does not match (ignored)")
    if counts.bad_checksums:
        tally.note(f"checksum mismatch in {_chunks(counts.bad_checksums)}; their records were "
                   "read anyway")
    if (size - HEADER_SIZE) % CHUNK_SIZE:
        tally.note(f"file ends inside a chunk ({(size - HEADER_SIZE) % CHUNK_SIZE} bytes)")
    if counts.borrowed:
        tally.note(f"{counts.borrowed} records read with a template from another chunk "
                   "(their own copy was damaged)")


def _chunks(count: int) -> str:
    return f"{count} chunk{'' if count == 1 else 's'}"


def walk_chunk(chunk: bytes, checked: bool = False) -> ChunkWalk:
    """The records of one chunk, stepping over damage; a chunk with a bad header is carved.
    `checked`: its checksums are known to match (the sieve read them)."""
    if len(chunk) < RECORDS_START:
        return ChunkWalk()                           # a scrap at the end of a cut file
    header_ok = chunk[:8] == CHUNK_MAGIC
    walk = ChunkWalk(header_ok=header_ok)
    if header_ok:
        _, _, _, first, last, _, _, free = CHUNK_HEADER.unpack_from(chunk, 0)
        end = free if RECORDS_START <= free <= len(chunk) else len(chunk)
        walk.checksum_ok = checked or checksums_match(chunk, end)
    elif chunk.count(0) != len(chunk):
        end = len(chunk)
        walk.damage["chunk with bad magic (zeroed)" if chunk[:8] == bytes(8)
                    else "chunk with bad magic"] += 1
    else:
        return walk                                  # never used: not damage
    offset = RECORDS_START if header_ok else _next_record(chunk, RECORDS_START, end)
    while offset is not None and offset + 24 <= end:
        magic, size, record_id, written = _RECORD_HEADER.unpack_from(chunk, offset)
        if magic == RECORD_MAGIC and MIN_RECORD <= size <= end - offset:
            walk.records.append((offset, size, record_id, written))
            offset += size
            continue
        if magic == RECORD_MAGIC:
            walk.damage[_bad_size(size, offset, len(chunk))] += 1
        offset = _next_record(chunk, offset + 4, end)
    if header_ok:
        _count_lost(walk, first, last)
    return walk


def _bad_size(size: int, offset: int, available: int) -> str:
    if size == 0:
        return "record of size 0"
    if available < CHUNK_SIZE and available < offset + size <= CHUNK_SIZE:
        return "record cut off by the end of the file"
    return "record with an impossible size"


def _next_record(chunk: bytes, start: int, end: int) -> int | None:
    """The next offset that holds a plausible record: magic, sane size, and its size repeated."""
    while (found := chunk.find(RECORD_MAGIC, start, end)) >= 0:
        size = _U32.unpack_from(chunk, found + 4)[0] if found + 8 <= end else 0
        if (MIN_RECORD <= size <= end - found
                and _U32.unpack_from(chunk, found + size - 4)[0] == size):
            return found
        start = found + 4
    return None


def _count_lost(walk: ChunkWalk, first: int, last: int) -> None:
    """Records the chunk header promises but the walk could not find (zeroed or overwritten)."""
    expected = last - first + 1
    if not 0 < expected <= CHUNK_SIZE // MIN_RECORD:
        return
    found = sum(first <= record_id <= last for _, _, record_id, _ in walk.records)
    lost = expected - found - sum(walk.damage.values())
    if lost > 0:
        walk.damage["record lost in a damaged part of a chunk"] += lost
