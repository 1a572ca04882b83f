"""The sieve: which chunks, and which records of them, can hold a wanted EventID, found from
their bytes without reading them record by record.

Most chunks of a big log hold no free/busy event, and most records of the others do not:
counting them instead of reading them is why exops outruns a reader that renders every record
(docs/performance.md). It never changes a scan's result on a log Windows wrote; a test compares
every sample, and damaged logs, with the same scan reading every record.
"""
from __future__ import annotations

import re

from exops.sources.evtx_binxml import TemplateCache, listed_templates
from exops.sources.evtx_format import (CHUNK_HEADER, CHUNK_MAGIC, CHUNK_SIZE, MIN_RECORD,
                                       RECORDS_START, checksums_match)

# A record whose BinXML (after the fragment header, if any) is not a template instance: one
# that spells its XML out, EventID included, as text (a forwarded event). It may also match
# inside a record's data, which only means the chunk is read in full.
_INSTANCE_TOKENS = re.escape(bytes(range(0x0C, 0x100, 0x10)))      # token & 0x0F == 0x0C
_WITHOUT_TEMPLATE = re.compile(rb"\*\*\x00\x00.{20}(?:\x0f...[^%s]|[^\x0f%s])"
                               % (_INSTANCE_TOKENS, _INSTANCE_TOKENS), re.DOTALL)


def sieve(chunk: bytes, wanted: tuple[re.Pattern[bytes], ...],
          templates: TemplateCache) -> list[int] | None:
    """Where the `wanted` bytes are in a sound chunk, which no record elsewhere can be wanted
    in; None when every record must be read to know.

    Sound means both checksums match, so the records and the templates the header lists are the
    bytes Windows wrote; and every record instantiates a listed template whose EventID is one
    substitution, which the reader takes only from an integer value (`ChunkReader`).
    """
    if len(chunk) < RECORDS_START or chunk[:8] != CHUNK_MAGIC:
        return None
    free = CHUNK_HEADER.unpack_from(chunk, 0)[-1]
    if (not RECORDS_START < free <= len(chunk) or not checksums_match(chunk, free)
            or _WITHOUT_TEMPLATE.search(chunk, RECORDS_START, free)):
        return None
    for offset, _ in listed_templates(chunk):
        plan = templates.plan(chunk, offset, ())
        if isinstance(plan, str) or plan.event_id_index is None:
            return None
    return sorted(m.start() for form in wanted for m in form.finditer(chunk, RECORDS_START, free))


def header_count(chunk: bytes) -> int:
    """The records a sound chunk's header counts; 0 when it counts an impossible number."""
    _, _, _, first, last, *_ = CHUNK_HEADER.unpack_from(chunk, 0)
    count = last - first + 1
    return count if 0 < count <= CHUNK_SIZE // MIN_RECORD else 0


def candidate_bytes(event_ids: object) -> tuple[re.Pattern[bytes], ...] | None:
    """Bytes that every record with one of `event_ids` contains (`sieve`), each a pattern (re
    finds two bytes 3x faster than `in`); None when the wanted IDs are not a plain set of
    integers (then every record is read). The reader takes an EventID only from an integer
    value (`ChunkReader`), whose little-endian bytes start with the ID's two low bytes.
    """
    if not isinstance(event_ids, (set, frozenset)) or not event_ids or not all(
            type(i) is int and 0x100 <= i <= 0xFFFF for i in event_ids):
        return None                                  # below 0x100 a UInt8 holds it in 1 byte
    return tuple(re.compile(re.escape(event_id.to_bytes(2, "little")))
                 for event_id in sorted(event_ids))
