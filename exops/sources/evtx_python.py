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
import re
import struct
import threading
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NamedTuple

from Evtx import Nodes
from Evtx.Evtx import ChunkHeader

from exops.sources.eventlog import EventLogError, Progress, ScanCancelled, ScanTally
from exops.sources.eventxml import parse_time

HEADER_SIZE = 0x1000
CHUNK_SIZE = 0x10000
RECORDS_START = 0x200
RECORD_MAGIC = b"**\x00\x00"
MIN_RECORD = 28                      # header, an empty fragment and the trailing size copy
MAX_VALUES = 0x1000
MAX_NESTING = 8
BXML = 0x21                          # value type of an embedded BinXML fragment
STRINGS = 0x81                       # value type of an array of UTF-16 strings

_FILE_HEADER = struct.Struct("<8sQQQIHHHH")     # magic .. chunk count (REFERENCE.md 4)
_CHUNK_HEADER = struct.Struct("<8sQQQQIII")     # magic, record numbers/ids, header size, offsets
_RECORD_HEADER = struct.Struct("<4sIQQ")        # magic, size, record id, FILETIME written
_U16, _U32, _U64 = struct.Struct("<H"), struct.Struct("<I"), struct.Struct("<Q")
_I32 = struct.Struct("<i")
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
    with path.open("rb") as stream:
        size = path.stat().st_size
        if size < HEADER_SIZE:
            raise EventLogError(f"{path}: truncated EVTX header ({size} of {HEADER_SIZE} bytes)")
        with mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            templates = TemplateCache(buf)
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
    elif chunk.count(0) != len(chunk):
        first = last = 0
        end = len(chunk)
        walk.damage["chunk with bad magic (zeroed)" if chunk[:8] == bytes(8)
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
    found = sum(first <= record.record_id <= last for record in walk.records)
    lost = expected - found - sum(walk.damage.values())
    if lost > 0:
        walk.damage["record lost in a damaged part of a chunk"] += lost


def _checksums_match(chunk: bytes, end: int) -> bool:
    header_crc, data_crc = _U32.unpack_from(chunk, 0x7C)[0], _U32.unpack_from(chunk, 0x34)[0]
    return (zlib.crc32(chunk[:0x78] + chunk[0x80:RECORDS_START]) == header_crc
            and zlib.crc32(chunk[RECORDS_START:end]) == data_crc)


# ---------------------------------------------------------------- templates

Parts = tuple      # of int (a substitution index) and str (literal text)
Path_ = tuple      # element names from the fragment's root down


@dataclass(frozen=True)
class Element:
    path: tuple[str, ...]
    attributes: dict[str, Parts]
    text: Parts                       # its own text
    fragments: tuple[int, ...]        # substitutions declared as embedded BinXML


@dataclass(frozen=True)
class Nested:
    """A substitution that may hold an embedded BinXML fragment (classic events put their
    whole EventData there), and the path of the element it sits in."""

    index: int
    path: tuple[str, ...]


@dataclass(frozen=True)
class TemplatePlan:
    """Where a template puts the fields exops reads, each as Parts; `data` lists the data items
    (and embedded fragments holding more) in document order."""

    event_id: Parts
    event_id_index: int | None            # the common case: EventID is one substitution
    provider: Parts = ()
    time: Parts = ()
    computer: Parts = ()
    record_id: Parts = ()
    message: Parts = ()
    data: tuple[Parts | Nested, ...] = ()


def _plan(elements: list[Element], prefix: tuple[str, ...]) -> TemplatePlan | str:
    """The plan of a fragment whose root sits at `prefix` (() for a record's own template),
    or why there is none. Paths follow the rendered XML, so the rules match eventxml's."""
    full = [(prefix + e.path, e) for e in elements]

    def text_of(*names: str) -> Parts:
        return next((e.text for p, e in full if p[1:] == names), ())

    def attribute_of(name: str, *names: str) -> Parts:
        return next((e.attributes.get(name, ()) for p, e in full if p[1:] == names), ())

    data: list[Parts | Nested] = []
    for path, element in full:
        if len(path) > 1 and path[1] in _DATA_SECTIONS and path[-1] != "Binary" and element.text:
            data.append(element.text)
        if len(path) < 2 or path[1] != "System":
            data.extend(Nested(index, path) for index in element.fragments)
    event_id = text_of("System", "EventID")
    if not event_id and not prefix:
        return "record without an EventID"
    return TemplatePlan(
        event_id=event_id,
        event_id_index=_single_index(event_id),
        provider=attribute_of("Name", "System", "Provider"),
        time=attribute_of("SystemTime", "System", "TimeCreated"),
        computer=text_of("System", "Computer"),
        record_id=text_of("System", "EventRecordID"),
        message=text_of("RenderingInfo", "Message"),
        data=tuple(data),
    )


def _single_index(parts: Parts) -> int | None:
    return parts[0] if len(parts) == 1 and type(parts[0]) is int else None


class TemplateCache:
    """Templates for the whole file, keyed by their definition's bytes (GUID, size, body):
    Windows defines a template again in every chunk that uses it, and each is parsed once.

    A record in a damaged chunk may point at a template whose bytes were zeroed; `borrow` finds
    the template with the same ID in one of the file's intact chunks instead.
    """

    def __init__(self, buf: mmap.mmap):
        self.borrowed = 0
        self._buf = buf
        self._elements: dict[bytes, list[Element] | str] = {}      # str: why it is unreadable
        self._plans: dict[tuple[bytes, tuple[str, ...]], TemplatePlan | str] = {}
        self._ids: dict[int, bytes] | None = None

    def plan(self, chunk: _Chunk, offset: int, prefix: tuple[str, ...]) -> TemplatePlan | str:
        definition = chunk.definition(offset)
        if definition is None:
            return "record whose template lies outside its chunk"
        key = (definition, prefix)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._plan(definition, chunk, offset, prefix)
        return plan

    def borrow(self, template_id: int, prefix: tuple[str, ...]) -> TemplatePlan | None:
        if self._ids is None:
            self._ids = self._index()
        definition = self._ids.get(template_id)
        if definition is None:
            return None
        plan = self._plan(definition, None, 0, prefix)
        if isinstance(plan, str):
            return None
        self.borrowed += not prefix
        return plan

    def _plan(self, definition: bytes, chunk: _Chunk | None, offset: int,
              prefix: tuple[str, ...]) -> TemplatePlan | str:
        elements = self._elements.get(definition)
        if elements is None:
            elements = self._elements[definition] = chunk.template_elements(offset)
        return elements if isinstance(elements, str) else _plan(elements, prefix)

    def _index(self) -> dict[int, bytes]:
        """Template ID -> definition, over the templates every intact chunk header lists."""
        ids: dict[int, bytes] = {}
        for start in range(HEADER_SIZE, len(self._buf) - CHUNK_SIZE + 1, CHUNK_SIZE):
            chunk = _Chunk(self._buf[start:start + CHUNK_SIZE])
            for offset, template_id in chunk.listed_templates():
                definition = chunk.definition(offset)
                if definition and not isinstance(
                        self._plan(definition, chunk, offset, ()), str):
                    ids.setdefault(template_id, definition)
        return ids


class _Names(dict):
    """A chunk's name strings, read at the offset asked for: the chunk header's string table is
    only an index, and in a chunk whose header was zeroed it is empty."""

    def __init__(self, chunk: ChunkHeader):
        super().__init__()
        self._chunk = chunk

    def __missing__(self, offset: int) -> Nodes.NameStringNode:
        node = Nodes.NameStringNode(self._chunk.data, offset, self._chunk, self._chunk)
        self[offset] = node
        return node


class _Chunk(ChunkHeader):
    """python-evtx's chunk over one chunk's bytes, with names resolved by offset."""

    def __init__(self, data: bytes):
        super().__init__(data, 0)
        self.data = data

    def _load_strings(self) -> None:
        if self._strings is None:
            self._strings = _Names(self)

    def strings(self) -> _Names:
        self._load_strings()
        return self._strings

    def definition(self, offset: int) -> bytes | None:
        """A template's GUID, size and body: what identifies it across chunks."""
        if not RECORDS_START <= offset <= len(self.data) - 24:
            return None
        size = _U32.unpack_from(self.data, offset + 20)[0]
        return self.data[offset + 4:offset + 24 + size]

    def template_elements(self, offset: int) -> list[Element] | str:
        try:
            return _template_elements(Nodes.TemplateNode(self.data, offset, self, self))
        except UnicodeDecodeError:
            return "record with a broken string"
        except Exception:               # python-evtx's failures on garbage are of any type
            return "record whose template is unreadable"

    def listed_templates(self) -> list[tuple[int, int]]:
        """(offset, template ID) of the templates the chunk header lists."""
        if not self.check_magic():
            return []
        try:
            return [(offset, node.template_id()) for offset, node in self.templates().items()]
        except Exception:               # a damaged template table: nothing to borrow here
            return []


def _template_elements(template: Nodes.TemplateNode) -> list[Element]:
    """A template's elements in document order, read from python-evtx's node tree."""
    elements: list[Element] = []

    def visit(node: Nodes.OpenStartElementNode, path: tuple[str, ...]) -> None:
        here = (*path, node.tag_name())
        slot = len(elements)
        elements.append(Element(here, {}, (), ()))
        attributes, text, fragments = {}, [], []
        for child in node.children():
            if isinstance(child, Nodes.AttributeNode):
                value = _part(child.attribute_value())
                attributes[child.attribute_name().string()] = () if value is None else (value,)
            elif isinstance(child, Nodes.OpenStartElementNode):
                visit(child, here)
            elif isinstance(child, _SUBSTITUTIONS) and child.type() == BXML:
                fragments.append(child.index())
            elif (part := _part(child)) is not None:
                text.append(part)
        elements[slot] = Element(here, attributes, tuple(text), tuple(fragments))

    for child in template.children():
        if isinstance(child, Nodes.OpenStartElementNode):
            visit(child, ())
    return elements


_SUBSTITUTIONS = (Nodes.NormalSubstitutionNode, Nodes.ConditionalSubstitutionNode)


def _part(node: Nodes.BXmlNode) -> int | str | None:
    if isinstance(node, _SUBSTITUTIONS):
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


def _inline_elements(data: bytes, pos: int, end: int) -> list[Element]:
    """The elements of a fragment written without a template (Windows Event Forwarding does
    this).

    python-evtx cannot read these: their element headers lack the two-byte dependency
    identifier that template elements carry. All values are literal, so this reads only what
    such fragments hold: elements, attributes, values and character references.
    """
    elements: list[Element] = []
    open_elements: list[tuple[int, tuple[str, ...], dict, list]] = []
    attribute: str | None = None
    while pos < end:
        token = data[pos]
        kind = token & 0x0F
        if kind == 0x0F:                                     # fragment header
            pos += 4
        elif kind == 0x01:                                   # element start
            name, pos = _name(data, _U32.unpack_from(data, pos + 5)[0], pos + 9)
            pos += 4 if token & 0x40 else 0                  # size of the attribute list
            path = (*open_elements[-1][1], name) if open_elements else (name,)
            open_elements.append((len(elements), path, {}, []))
            elements.append(Element(path, {}, (), ()))
        elif kind == 0x06:                                   # attribute
            attribute, pos = _name(data, _U32.unpack_from(data, pos + 1)[0], pos + 5)
        elif kind in (0x05, 0x08):                           # value, character reference
            text, pos = _inline_value(data, pos) if kind == 0x05 else (
                chr(_U16.unpack_from(data, pos + 1)[0]), pos + 3)
            _, _, attributes, own = open_elements[-1]
            if attribute is not None:
                attributes[attribute], attribute = (text,), None
            else:
                own.append(text)
        elif kind == 0x02:                                   # end of the start tag
            attribute, pos = None, pos + 1
        elif kind in (0x03, 0x04):                           # element end
            slot, path, attributes, own = open_elements.pop()
            elements[slot] = Element(path, attributes, tuple(own), ())
            pos += 1
        elif kind == 0x00:
            break
        else:
            raise RecordDamage("record with unreadable XML")
    return elements


def _name(data: bytes, offset: int, pos: int) -> tuple[str, int]:
    """A name string at `offset`; when it is defined right here, `pos` moves past it."""
    length = _U16.unpack_from(data, offset + 6)[0]
    name = data[offset + 8:offset + 8 + 2 * length].decode("utf-16-le")
    return name, (offset + 10 + 2 * length if offset == pos else pos)


def _inline_value(data: bytes, pos: int) -> tuple[str, int]:
    value_type = data[pos + 1]
    if value_type in (0x01, 0x02):                           # counted string
        count = _U16.unpack_from(data, pos + 2)[0] * (2 if value_type == 0x01 else 1)
        return render_value(value_type, data[pos + 4:pos + 4 + count]), pos + 4 + count
    size = _FIXED_SIZES.get(value_type)
    if size is None:
        raise RecordDamage("record with unreadable XML")
    return render_value(value_type, data[pos + 2:pos + 2 + size]), pos + 2 + size


# ---------------------------------------------------------------- records

class Values(NamedTuple):
    """A fragment's plan and where its substitution values are."""

    plan: TemplatePlan
    start: int                        # offset of the first value
    sizes: tuple[int, ...]
    types: tuple[int, ...]
    end: int                          # values never reach past the record


class ChunkReader:
    """Reads the records of one chunk: their EventID, and for the few free/busy candidates
    every field exops keeps."""

    def __init__(self, data: bytes, templates: TemplateCache):
        self._data = data
        self._templates = templates
        self._plans: dict[tuple[int, tuple[str, ...]], TemplatePlan] = {}
        self._chunk: _Chunk | None = None            # python-evtx's view, made when needed

    def event_id(self, record: Record) -> int:
        values = self._fragment(record.offset + 24, record.offset + record.size, ())
        index = values.plan.event_id_index
        if index is not None and index < len(values.types) and values.types[index] == 0x06:
            start = values.start + sum(values.sizes[:index])
            if start + 2 > values.end:
                raise RecordDamage("record cut short")
            return _U16.unpack_from(self._data, start)[0]
        try:
            return int(self._join(values.plan.event_id, values))
        except ValueError:
            raise RecordDamage("record without a readable EventID") from None

    def fields(self, record: Record) -> dict[str, Any]:
        """Everything ScanTally.add takes; broken values come out as "" rather than failing."""
        values = self._fragment(record.offset + 24, record.offset + record.size, ())
        plan = values.plan
        return {
            "event_id": self.event_id(record),
            "provider": self._join(plan.provider, values),
            "time": self._time(values) or filetime(record.written) or _EPOCH,
            "computer": self._join(plan.computer, values),
            "record_id": _int(self._join(plan.record_id, values), record.record_id),
            "data": tuple(self._data_items(values, 0)),
            "message": self._join(plan.message, values),
        }

    def _fragment(self, pos: int, end: int, prefix: tuple[str, ...]) -> Values:
        """The plan and value table of the BinXML fragment at `pos` (a record's, or one
        embedded in a value)."""
        data = self._data
        try:
            if data[pos] == 0x0F:                        # fragment header
                pos += 4
            if data[pos] & 0x0F == 0x01:                 # no template: all values inline
                return Values(self._inline(pos, end, prefix), 0, (), (), end)
            if data[pos] & 0x0F != 0x0C:
                raise RecordDamage("record without a template")
            template_id, template_offset = _INSTANCE.unpack_from(data, pos + 2)
            if template_offset > pos:                    # defined here, inside the record
                pos += 24 + _U32.unpack_from(data, template_offset + 20)[0]
            pos += 10
            plan = (self._plans.get((template_offset, prefix))
                    or self._plan(template_offset, template_id, prefix))
            count = _U32.unpack_from(data, pos)[0]
            if count > MAX_VALUES or pos + 4 + 4 * count > end:
                raise RecordDamage("record with a broken value table")
            table = _VALUE_TABLES[count].unpack_from(data, pos + 4)
        except (struct.error, IndexError):
            raise RecordDamage("record cut short") from None
        return Values(plan, pos + 4 + 4 * count, table[0::2], table[1::2], end)

    def _plan(self, offset: int, template_id: int, prefix: tuple[str, ...]) -> TemplatePlan:
        if self._chunk is None:
            self._chunk = _Chunk(self._data)
        plan = self._templates.plan(self._chunk, offset, prefix)
        if isinstance(plan, str):
            borrowed = self._templates.borrow(template_id, prefix)
            if borrowed is None:
                raise RecordDamage(plan)
            return borrowed
        self._plans[offset, prefix] = plan
        return plan

    def _inline(self, pos: int, end: int, prefix: tuple[str, ...]) -> TemplatePlan:
        """A template-less fragment's plan: parsed for itself, with nothing to cache."""
        try:
            plan = _plan(_inline_elements(self._data, pos, end), prefix)
        except UnicodeDecodeError:
            raise RecordDamage("record with a broken string") from None
        except (struct.error, IndexError):
            raise RecordDamage("record with unreadable XML") from None
        if isinstance(plan, str):
            raise RecordDamage(plan)
        return plan

    def _data_items(self, values: Values, depth: int) -> list[str]:
        items: list[str] = []
        for entry in values.plan.data:
            if type(entry) is not Nested:
                items.extend(self._items(entry, values))
                continue
            index = entry.index
            if index >= len(values.types) or values.types[index] != BXML or depth >= MAX_NESTING:
                continue
            start = values.start + sum(values.sizes[:index])
            try:
                inner = self._fragment(start, min(start + values.sizes[index], values.end),
                                       entry.path)
            except RecordDamage:
                continue
            items.extend(self._data_items(inner, depth + 1))
        return items

    def _items(self, parts: Parts, values: Values) -> list[str]:
        """A data element's text; a string array value is rendered as one element per string."""
        index = _single_index(parts)
        if index is not None and index < len(values.types) and values.types[index] == STRINGS:
            return [t for s in self._value(index, values).split("\x00") if (t := _xml_text(s))]
        text = self._join(parts, values)
        return [text] if text else []

    def _join(self, parts: Parts, values: Values) -> str:
        return _xml_text("".join(p if type(p) is str else self._value(p, values) for p in parts))

    def _value(self, index: int, values: Values) -> str:
        if index >= len(values.types):
            return ""
        start = values.start + sum(values.sizes[:index])
        raw = self._data[start:min(start + values.sizes[index], values.end)]
        try:
            return render_value(values.types[index], raw)
        except (struct.error, ValueError, OverflowError, IndexError):
            return ""

    def _time(self, values: Values) -> datetime | None:
        """TimeCreated: a FILETIME value read directly, or text in any other form."""
        index = _single_index(values.plan.time)
        if index is not None and index < len(values.types) and values.types[index] == 0x11:
            start = values.start + sum(values.sizes[:index])
            if start + 8 <= values.end:
                return filetime(_U64.unpack_from(self._data, start)[0])
        return parse_time(self._join(values.plan.time, values))


# ---------------------------------------------------------------- value rendering

def _xml_text(text: str) -> str:
    """Text as an XML parser hands it back (line ends normalised), stripped, so that values
    read here equal those the Rust backend renders to XML and eventxml parses."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


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
    """UTF-16 without its trailing NULs; unpaired surrogates are dropped, as the Rust parser
    drops them."""
    text = raw[:len(raw) & ~1].decode("utf-16-le", "surrogatepass").rstrip("\x00")
    return _SURROGATE.sub("", text)


_SURROGATE = re.compile("[\ud800-\udfff]")
_BOOLEANS = {0: "false", 1: "true"}      # other values are written as numbers, as Rust does
_FIXED_SIZES = {0x00: 0, 0x03: 1, 0x04: 1, 0x05: 2, 0x06: 2, 0x07: 4, 0x08: 4, 0x09: 8, 0x0A: 8,
                0x0B: 4, 0x0C: 8, 0x0D: 4, 0x0F: 16, 0x11: 8, 0x12: 16, 0x14: 4, 0x15: 8}
_INTEGERS = {0x03: "<b", 0x04: "<B", 0x05: "<h", 0x06: "<H", 0x07: "<i", 0x08: "<I",
             0x09: "<q", 0x0A: "<Q"}
_RENDER: dict[int, Callable[[bytes], str]] = {
    0x00: lambda raw: "",
    0x01: _string_text,
    0x02: lambda raw: raw.decode("cp1252", "replace").rstrip("\x00"),
    0x0B: lambda raw: repr(struct.unpack("<f", raw[:4])[0]),
    0x0C: lambda raw: repr(struct.unpack("<d", raw[:8])[0]),
    0x0D: lambda raw: _BOOLEANS.get(v := _I32.unpack(raw[:4])[0], str(v)),
    0x0E: lambda raw: raw.hex().upper(),
    0x0F: _guid_text,
    0x10: lambda raw: hex(int.from_bytes(raw, "little")),
    0x11: _filetime_text,
    0x12: _systemtime_text,
    0x13: _sid_text,
    0x14: lambda raw: hex(_U32.unpack(raw[:4])[0]),
    0x15: lambda raw: hex(_U64.unpack(raw[:8])[0]),
    BXML: lambda raw: "",                        # read as a fragment, not as text
    STRINGS: lambda raw: _string_text(raw),      # split into items by the reader
}


def render_value(value_type: int, raw: bytes) -> str:
    """A substitution value as text, spelled the way the Rust `evtx` package spells it, so both
    backends report the same strings."""
    if value_type in _INTEGERS:
        return str(struct.unpack(_INTEGERS[value_type], raw[:struct.calcsize(_INTEGERS[value_type])])[0])
    render = _RENDER.get(value_type)
    return render(raw) if render else raw.hex().upper()
