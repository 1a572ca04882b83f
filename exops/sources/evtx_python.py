"""The pure-Python EVTX backend, and the walk over chunks and records both EVTX backends share.

Rendering every record to XML with python-evtx runs at a few hundred records a second. Here
python-evtx parses each *template* once (per file, cached), which tells where EventID, Provider and
the data items sit among a record's substitution values; each record is then read with a handful
of `struct` reads, and only records with a free/busy event ID get their values turned into text.

The walk is shared so that both backends agree on which records exist: it visits every 64 KiB
chunk in the file (a dirty log's header undercounts them), carves records out of chunks whose
header is damaged, and steps over damaged records to the next good one instead of giving up on
the rest of the chunk.
"""
from __future__ import annotations

import html
import mmap
import struct
import threading
import xml.etree.ElementTree as ET
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NamedTuple

from Evtx import Nodes
from Evtx.Evtx import ChunkHeader
from Evtx.Views import render_root_node

from exops.sources.eventlog import EventLogError, Progress, ScanCancelled, ScanTally
from exops.sources.eventxml import parse_time

HEADER_SIZE = 0x1000
CHUNK_SIZE = 0x10000
RECORDS_START = 0x200
RECORD_MAGIC = b"**\x00\x00"
MIN_RECORD = 28                      # header, an empty fragment and the trailing size copy
MAX_VALUES = 0x1000

_FILE_HEADER = struct.Struct("<8sQQQIHHHH")     # magic .. chunk count (REFERENCE.md 4)
_CHUNK_HEADER = struct.Struct("<8sQQQQIII")     # magic, record numbers/ids, header size, offsets
_RECORD_HEADER = struct.Struct("<4sIQQ")        # magic, size, record id, FILETIME written
_U16, _U32, _U64 = struct.Struct("<H"), struct.Struct("<I"), struct.Struct("<Q")
_INSTANCE = struct.Struct("<II")               # template id, template offset
_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)


class _ValueTables(dict):
    """struct formats for a value table of n entries (size u16, type u8, padding)."""

    def __missing__(self, count: int) -> struct.Struct:
        self[count] = struct.Struct("<" + "HBx" * count)
        return self[count]


_VALUE_TABLES = _ValueTables()
_DATA_SECTIONS = ("EventData", "UserData")


class Record(NamedTuple):
    offset: int
    size: int
    record_id: int
    written: int                    # FILETIME from the record header


class RecordDamage(Exception):
    """A record whose EventID cannot be read; `reason` is what LogScan.skipped counts."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class ChunkWalk:
    records: list[Record] = field(default_factory=list)
    damage: Counter[str] = field(default_factory=Counter)
    header_ok: bool = False         # starts with ElfChnk: one of the chunks the log is made of
    checksum_ok: bool = True


ReadChunk = Callable[[bytes, ChunkWalk, "ChunkReader", ScanTally], None]


# ---------------------------------------------------------------- the backend

def scan(path: Path, tally: ScanTally, cancel: threading.Event | None,
         progress: Progress | None) -> None:
    scan_chunks(path, tally, cancel, progress, read_chunk)


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


# ---------------------------------------------------------------- file and chunk walk

def scan_chunks(path: Path, tally: ScanTally, cancel: threading.Event | None,
                progress: Progress | None, read: ReadChunk) -> None:
    """Walk every chunk of the file and hand its records to `read`; notes what the header hid."""
    templates = TemplateCache()
    with path.open("rb") as stream:
        size = path.stat().st_size
        if size < HEADER_SIZE:
            raise EventLogError(f"{path}: truncated EVTX header ({size} of {HEADER_SIZE} bytes)")
        with mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            declared, dirty, header_ok = _file_header(buf)
            found = bad_checksums = 0
            for offset in range(HEADER_SIZE, size, CHUNK_SIZE):
                if cancel is not None and cancel.is_set():
                    raise ScanCancelled(str(path))
                chunk = buf[offset:offset + CHUNK_SIZE]
                walk = walk_chunk(chunk)
                found += walk.header_ok
                bad_checksums += not walk.checksum_ok
                for reason, count in walk.damage.items():
                    tally.skip(reason, count)
                if walk.records:
                    read(chunk, walk, ChunkReader(chunk, templates), tally)
                if progress is not None:
                    progress(min(offset + CHUNK_SIZE, size), size)
    _notes(tally, size, declared, found, dirty, header_ok, bad_checksums, templates.borrowed)


def _file_header(buf: mmap.mmap) -> tuple[int, bool, bool]:
    """(chunk count the header declares, dirty flag, header checksum matches)."""
    fields = _FILE_HEADER.unpack_from(buf, 0)
    flags, checksum = struct.unpack_from("<II", buf, 0x78)
    return fields[-1], bool(flags & 1), zlib.crc32(buf[:0x78]) == checksum


def _notes(tally: ScanTally, size: int, declared: int, found: int, dirty: bool,
           header_ok: bool, bad_checksums: int, borrowed: int) -> None:
    if found != declared:
        prefix = "dirty log: " if dirty else ""
        tally.note(f"{prefix}header counts {declared} chunks, {found} found")
    if not header_ok:
        tally.note("file header checksum does not match (ignored)")
    if bad_checksums:
        tally.note(f"{bad_checksums} chunks fail their checksum; their records were read anyway")
    if (size - HEADER_SIZE) % CHUNK_SIZE:
        tally.note(f"file ends inside a chunk ({(size - HEADER_SIZE) % CHUNK_SIZE} bytes)")
    if borrowed:
        tally.note(f"{borrowed} records read with a template from another chunk "
                   "(their own copy was damaged)")


def walk_chunk(chunk: bytes) -> ChunkWalk:
    """The records of one chunk, stepping over damage; a chunk with a bad header is carved."""
    header_ok = chunk[:8] == b"ElfChnk\x00"
    walk = ChunkWalk(header_ok=header_ok)
    if header_ok:
        _, _, _, first, last, _, _, free = _CHUNK_HEADER.unpack_from(chunk, 0)
        end = free if RECORDS_START <= free <= len(chunk) else len(chunk)
        walk.checksum_ok = _checksums_match(chunk, end)
    elif any(chunk):
        first = last = 0
        end = len(chunk)
        walk.damage["chunk with bad magic (zeroed)" if not any(chunk[:8])
                    else "chunk with bad magic"] += 1
    else:
        return walk                                  # never used: not damage
    offset = RECORDS_START if header_ok else _next_record(chunk, RECORDS_START, end)
    while offset is not None and offset + 24 <= end:
        magic, size, record_id, written = _RECORD_HEADER.unpack_from(chunk, offset)
        if magic == RECORD_MAGIC and MIN_RECORD <= size <= end - offset:
            walk.records.append(Record(offset, size, record_id, written))
            offset += size
            continue
        if magic == RECORD_MAGIC:
            walk.damage["record of size 0" if size == 0 else "record with an impossible size"] += 1
        offset = _next_record(chunk, offset + 4, end)
    if header_ok:
        _count_lost(walk, first, last)
    return walk


def _next_record(chunk: bytes, start: int, end: int) -> int | None:
    """The next offset that holds a plausible record: magic, sane size, and its size repeated."""
    while (found := chunk.find(RECORD_MAGIC, start, end)) >= 0:
        size = _U32.unpack_from(chunk, found + 4)[0] if found + 8 <= end else 0
        if MIN_RECORD <= size <= end - found and _U32.unpack_from(chunk, found + size - 4)[0] == size:
            return found
        start = found + 4
    return None


def _count_lost(walk: ChunkWalk, first: int, last: int) -> None:
    """Records the chunk header promises but the walk could not find (zeroed or overwritten)."""
    expected = last - first + 1
    if not 0 < expected <= CHUNK_SIZE // MIN_RECORD:
        return
    lost = expected - len(walk.records) - sum(walk.damage.values())
    if lost > 0:
        walk.damage["record lost in a damaged part of a chunk"] += lost


def _checksums_match(chunk: bytes, end: int) -> bool:
    header_crc, data_crc = _U32.unpack_from(chunk, 0x7C)[0], _U32.unpack_from(chunk, 0x34)[0]
    return (zlib.crc32(chunk[:0x78] + chunk[0x80:RECORDS_START]) == header_crc
            and zlib.crc32(chunk[RECORDS_START:end]) == data_crc)


# ---------------------------------------------------------------- templates

@dataclass(frozen=True)
class TemplatePlan:
    """Where a template puts the fields exops reads: each is a tuple of parts, an int part being a
    substitution index and a str part literal text."""

    event_id: tuple[int | str, ...]
    event_id_index: int | None            # the common case: EventID is one substitution
    provider: tuple[int | str, ...] = ()
    time: tuple[int | str, ...] = ()
    computer: tuple[int | str, ...] = ()
    record_id: tuple[int | str, ...] = ()
    message: tuple[int | str, ...] = ()
    data: tuple[tuple[int | str, ...], ...] = ()


class TemplateCache:
    """Plans for the whole file. The same template is defined again in every chunk that uses it,
    so plans are keyed by the definition's bytes (GUID, size, body) and parsed once per file."""

    def __init__(self) -> None:
        self.by_definition: dict[bytes, TemplatePlan | str] = {}    # str: why it is unreadable
        self.by_id: dict[int, TemplatePlan] = {}
        self.borrowed = 0


def _plan(fragment: Nodes.BXmlNode) -> TemplatePlan:
    """Read the element tree of a parsed template (or template-less record) into a plan."""
    elements: list[tuple[tuple[str, ...], dict[str, tuple], tuple]] = []

    def visit(node: Nodes.OpenStartElementNode, path: tuple[str, ...]) -> None:
        here = (*path, node.tag_name())
        slot = len(elements)
        elements.append((here, {}, ()))
        attributes, text = {}, []
        for child in node.children():
            if isinstance(child, Nodes.AttributeNode):
                attributes[child.attribute_name().string()] = tuple(
                    p for p in [_part(child.attribute_value())] if p is not None)
            elif isinstance(child, Nodes.OpenStartElementNode):
                visit(child, here)
            elif (part := _part(child)) is not None:
                text.append(part)
        elements[slot] = (here, attributes, tuple(text))

    for child in fragment.children():
        if isinstance(child, Nodes.OpenStartElementNode):
            visit(child, ())

    def text_of(*names: str) -> tuple:
        return next((t for p, _, t in elements if p[1:] == names), ())

    def attribute_of(name: str, *names: str) -> tuple:
        return next((a.get(name, ()) for p, a, _ in elements if p[1:] == names), ())

    event_id = text_of("System", "EventID")
    return TemplatePlan(
        event_id=event_id,
        event_id_index=_single_index(event_id),
        provider=attribute_of("Name", "System", "Provider"),
        time=attribute_of("SystemTime", "System", "TimeCreated"),
        computer=text_of("System", "Computer"),
        record_id=text_of("System", "EventRecordID"),
        message=text_of("RenderingInfo", "Message"),
        data=tuple(t for p, _, t in elements
                   if len(p) > 1 and p[1] in _DATA_SECTIONS and p[-1] != "Binary" and t),
    )


def _single_index(parts: tuple) -> int | None:
    return parts[0] if len(parts) == 1 and type(parts[0]) is int else None


def _part(node: Nodes.BXmlNode) -> int | str | None:
    if isinstance(node, (Nodes.NormalSubstitutionNode, Nodes.ConditionalSubstitutionNode)):
        return node.index()
    if isinstance(node, Nodes.ValueNode):
        return node.value().string()
    if isinstance(node, Nodes.CharacterReferenceNode):
        return chr(node.entity())
    if isinstance(node, Nodes.CDataSectionNode):
        return node.cdata()
    if isinstance(node, Nodes.EntityReferenceNode):
        return html.unescape(node.entity_reference())
    return None


class _Names(dict):
    """A chunk's name strings, read at the offset asked for: the chunk header's string table is
    only an index, and in a chunk whose header was zeroed it is empty."""

    def __init__(self, chunk: ChunkHeader):
        super().__init__()
        self._chunk = chunk

    def __missing__(self, offset: int) -> Nodes.NameStringNode:
        node = Nodes.NameStringNode(self._chunk._buf, offset, self._chunk, self._chunk)
        self[offset] = node
        return node


class _Chunk(ChunkHeader):
    """python-evtx's chunk over one chunk's bytes, with names resolved by offset."""

    def _load_strings(self) -> None:
        if self._strings is None:
            self._strings = _Names(self)

    def strings(self) -> _Names:
        self._load_strings()
        return self._strings


# ---------------------------------------------------------------- records

class ChunkReader:
    """Reads the records of one chunk: where its values are, its EventID, and for the few
    free/busy candidates every field exops keeps."""

    def __init__(self, chunk: bytes, templates: TemplateCache):
        self._chunk = chunk
        self._templates = templates
        self._plans: dict[int, TemplatePlan] = {}
        self._parsed: _Chunk | None = None

    def event_id(self, record: Record) -> int:
        plan, values, sizes, types = self._locate(record)
        index = plan.event_id_index
        if index is not None and index < len(types) and types[index] == 0x06:
            start = values + sum(sizes[:index])
            if start + 2 > record.offset + record.size:
                raise RecordDamage("record cut short")
            return _U16.unpack_from(self._chunk, start)[0]
        text = self._join(plan.event_id, record, values, sizes, types)
        try:
            return int(text)
        except ValueError:
            raise RecordDamage("record without a readable EventID") from None

    def fields(self, record: Record) -> dict[str, Any]:
        """Everything ScanTally.add takes; broken values come out as "" rather than failing."""
        plan, values, sizes, types = self._locate(record)
        time = self._time(plan, record, values, sizes, types)
        record_id = self._join(plan.record_id, record, values, sizes, types)
        data: list[str] = []
        for parts in plan.data:
            data.extend(self._items(parts, record, values, sizes, types))
        return {
            "event_id": self.event_id(record),
            "provider": self._join(plan.provider, record, values, sizes, types),
            "time": time,
            "computer": self._join(plan.computer, record, values, sizes, types),
            "record_id": _int(record_id, record.record_id),
            "data": tuple(data),
            "message": self._join(plan.message, record, values, sizes, types),
        }

    # -- where things are

    def _locate(self, record: Record) -> tuple[TemplatePlan, int, tuple, tuple]:
        """(plan, offset of the first value, value sizes, value types) of a record."""
        chunk = self._chunk
        end = record.offset + record.size
        try:
            pos = record.offset + 24
            if chunk[pos] == 0x0F:                       # fragment header
                pos += 4
            if chunk[pos] & 0x0F == 0x01:                # no template: forwarded events
                return self._inline(pos), 0, (), ()
            if chunk[pos] & 0x0F != 0x0C:
                raise RecordDamage("record without a template")
            template_id, template_offset = _INSTANCE.unpack_from(chunk, pos + 2)
            if template_offset > pos:                    # defined here, inside the record
                pos += 24 + _U32.unpack_from(chunk, template_offset + 20)[0]
            pos += 10
            plan = self._plans.get(template_offset) or self._load(template_offset, template_id)
            count = _U32.unpack_from(chunk, pos)[0]
            if count > MAX_VALUES or pos + 4 + 4 * count > end:
                raise RecordDamage("record with a broken value table")
            table = _VALUE_TABLES[count].unpack_from(chunk, pos + 4)
        except (struct.error, IndexError):
            raise RecordDamage("record cut short") from None
        return plan, pos + 4 + 4 * count, table[0::2], table[1::2]

    def _load(self, offset: int, template_id: int) -> TemplatePlan:
        """The plan of the template at `offset`, parsed with python-evtx the first time it is
        seen in the file. When this chunk's copy is damaged, a template with the same ID from
        another chunk stands in."""
        cache = self._templates
        try:
            size = _U32.unpack_from(self._chunk, offset + 20)[0]
            definition = self._chunk[offset + 4:offset + 24 + size]
        except struct.error:
            definition = b""
        plan = cache.by_definition.get(definition) if definition else None
        if plan is None:
            plan = self._parse(offset)
            if definition:
                cache.by_definition[definition] = plan
        if isinstance(plan, str):
            if template_id not in cache.by_id:
                raise RecordDamage(plan)
            cache.borrowed += 1
            return cache.by_id[template_id]
        self._plans[offset] = plan
        cache.by_id.setdefault(template_id, plan)
        return plan

    def _parse(self, offset: int) -> TemplatePlan | str:
        return self._plan_of(Nodes.TemplateNode, offset, "record whose template is unreadable")

    def _inline(self, offset: int) -> TemplatePlan:
        """A record written without a template (Windows Event Forwarding does this): its XML is
        all literal, so it is parsed for itself, slowly, with nothing to cache."""
        plan = self._plan_of(Nodes.RootNode, offset, "record with unreadable XML")
        if isinstance(plan, str):
            raise RecordDamage(plan)
        return plan

    def _plan_of(self, node_type: type, offset: int, failure: str) -> TemplatePlan | str:
        if self._parsed is None:
            self._parsed = _Chunk(self._chunk, 0)
        try:
            plan = _plan(node_type(self._chunk, offset, self._parsed, self._parsed))
        except UnicodeDecodeError:
            return "record with a broken string"
        except Exception:               # python-evtx's failures on garbage are of any type
            return failure
        if not plan.event_id:
            return "record without an EventID"
        return plan

    # -- values to text

    def _join(self, parts: tuple, record: Record, values: int, sizes: tuple, types: tuple) -> str:
        return "".join(p if type(p) is str else self._value(p, record, values, sizes, types)
                       for p in parts).strip()

    def _items(self, parts: tuple, record: Record, values: int, sizes: tuple,
               types: tuple) -> list[str]:
        """A data element's text; an embedded BinXML value gives one item per element inside."""
        index = _single_index(parts)
        if index is not None and index < len(types) and types[index] == 0x21:
            return self._nested(index, values, sizes)
        text = self._join(parts, record, values, sizes, types)
        return [text] if text else []

    def _value(self, index: int, record: Record, values: int, sizes: tuple, types: tuple) -> str:
        if index >= len(types):
            return ""
        start = values + sum(sizes[:index])
        raw = self._chunk[start:min(start + sizes[index], record.offset + record.size)]
        try:
            return render_value(types[index], raw)
        except (struct.error, ValueError, OverflowError, IndexError):
            return ""

    def _nested(self, index: int, values: int, sizes: tuple) -> list[str]:
        """Items of an embedded BinXML fragment, rendered by python-evtx (rare: UserData)."""
        if self._parsed is None:
            self._parsed = _Chunk(self._chunk, 0)
        start = values + sum(sizes[:index])
        try:
            node = Nodes.BXmlTypeNode(self._chunk, start, self._parsed, self._parsed,
                                      length=sizes[index])
            root = ET.fromstring(f"<nested>{render_root_node(node.root())}</nested>")
        except Exception:               # python-evtx's failures on garbage are of any type
            return []
        return [t for el in root.iter() if el is not root and el.tag.rpartition("}")[2] != "Binary"
                and (t := "".join([el.text or "", *(c.tail or "" for c in el)]).strip())]

    def _time(self, plan: TemplatePlan, record: Record, values: int, sizes: tuple,
              types: tuple) -> datetime:
        """TimeCreated, else the time the record was written."""
        index = _single_index(plan.time)
        if index is not None:
            if index < len(types) and types[index] == 0x11 and sizes[index] == 8:
                start = values + sum(sizes[:index])
                if (stamp := filetime(_U64.unpack_from(self._chunk, start)[0])) is not None:
                    return stamp
        stamp = parse_time(self._join(plan.time, record, values, sizes, types))
        return stamp or filetime(record.written) or _EPOCH


# ---------------------------------------------------------------- value rendering

def _int(text: str, default: int) -> int:
    try:
        return int(text)
    except ValueError:
        return default


def filetime(value: int) -> datetime | None:
    try:
        return _EPOCH + timedelta(microseconds=value // 10)
    except OverflowError:
        return None


def _iso(stamp: datetime) -> str:
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _filetime_text(raw: bytes) -> str:
    stamp = filetime(_U64.unpack(raw[:8])[0])
    return _iso(stamp) if stamp else ""


def _systemtime_text(raw: bytes) -> str:
    year, month, _, day, hour, minute, second, millis = struct.unpack("<8H", raw[:16])
    return _iso(datetime(year, month, day, hour, minute, second, millis * 1000))


def _sid_text(raw: bytes) -> str:
    revision, count = raw[0], raw[1]
    authority = int.from_bytes(raw[2:8], "big")
    subs = struct.unpack(f"<{count}I", raw[8:8 + 4 * count])
    return "-".join(["S", str(revision), str(authority), *map(str, subs)])


def _guid_text(raw: bytes) -> str:
    a, b, c = struct.unpack("<IHH", raw[:8])
    tail = raw[8:16].hex().upper()
    return f"{a:08X}-{b:04X}-{c:04X}-{tail[:4]}-{tail[4:]}"


def _string_text(raw: bytes) -> str:
    return raw.decode("utf-16-le", "replace").rstrip("\x00")


_INTEGERS = {0x03: "<b", 0x04: "<B", 0x05: "<h", 0x06: "<H", 0x07: "<i", 0x08: "<I",
             0x09: "<q", 0x0A: "<Q"}
_RENDER: dict[int, Callable[[bytes], str]] = {
    0x00: lambda raw: "",
    0x01: _string_text,
    0x02: lambda raw: raw.decode("cp1252", "replace").rstrip("\x00"),
    0x0B: lambda raw: repr(struct.unpack("<f", raw[:4])[0]),
    0x0C: lambda raw: repr(struct.unpack("<d", raw[:8])[0]),
    0x0D: lambda raw: "true" if _U32.unpack(raw[:4])[0] else "false",
    0x0E: lambda raw: raw.hex().upper(),
    0x0F: _guid_text,
    0x10: lambda raw: hex(int.from_bytes(raw, "little")),
    0x11: _filetime_text,
    0x12: _systemtime_text,
    0x13: _sid_text,
    0x14: lambda raw: hex(_U32.unpack(raw[:4])[0]),
    0x15: lambda raw: hex(_U64.unpack(raw[:8])[0]),
    0x81: lambda raw: ",".join(s for s in _string_text(raw).split("\x00")),
}


def render_value(value_type: int, raw: bytes) -> str:
    """A substitution value as text, spelled the way the Rust `evtx` package spells it, so both
    backends report the same strings."""
    if value_type in _INTEGERS:
        return str(struct.unpack(_INTEGERS[value_type], raw[:struct.calcsize(_INTEGERS[value_type])])[0])
    render = _RENDER.get(value_type)
    return render(raw) if render else raw.hex().upper()
