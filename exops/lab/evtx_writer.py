"""Writes valid .evtx files for the lab and the fixtures.

No EVTX writer exists on PyPI, and the readers we support (python-evtx and the Rust-based
`evtx` package) only accept template-based BinXML, so this module writes what Windows writes:
a 4 KiB file header, then 64 KiB chunks of records, each record a template instance whose
substitution values carry the fields of one event. Layout follows the libyal "Windows XML
Event Log (EVTX)" documentation (REFERENCE.md section 4).

Events are streamed: only the chunk being filled is held in memory, so fixtures with tens of
thousands of events cost no more memory than one with ten.
"""
from __future__ import annotations

import functools
import struct
import uuid
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from os import PathLike
from typing import NamedTuple


@dataclass(frozen=True)
class EventSpec:
    """One event to write: the fields Windows puts in an Application/System record."""

    event_id: int
    provider: str
    time: datetime                 # timezone-aware (UTC)
    computer: str
    channel: str = "Application"
    level: int = 4                 # 1 critical, 2 error, 3 warning, 4 information
    data: tuple[str, ...] = ()     # unnamed <Data> items, as Exchange 2010 writes them
    qualifiers: int | None = None  # <EventID Qualifiers="...">
    task: int = 0
    keywords: int = 0x80000000000000


FILE_HEADER_SIZE = 0x1000
CHUNK_SIZE = 0x10000
CHUNK_HEADER_SIZE = 0x200
DIRTY = 0x1


class EventTooLarge(ValueError):
    """An event whose record cannot fit in one 64 KiB chunk (Windows cannot log it either)."""

_NAMESPACE = "http://schemas.microsoft.com/win/2004/08/events/event"
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)
_TEMPLATE_GUIDS = uuid.UUID("0d3f6c2a-5b1e-4c1a-9a43-6578706f7073")  # namespace for shape GUIDs

# BinXML value types
_STRING, _U8, _U16, _U64, _FILETIME, _HEX64 = 0x01, 0x04, 0x06, 0x0A, 0x11, 0x15

# Substitution indices: the numeric fields sit together so one struct packs them all;
# the Data items follow Computer, and Qualifiers (when present) comes last.
(_PROVIDER, _EVENT_ID, _LEVEL, _TASK, _KEYWORDS, _TIME, _RECORD_ID, _CHANNEL, _COMPUTER,
 _FIRST_DATA) = range(10)
_NUMBERS = struct.Struct("<HBHQQQ")  # event id, level, task, keywords, time, record id
_NUMBER_DESCRIPTORS = tuple(  # (size, type) as one u32 each, like every descriptor
    size | vtype << 16
    for size, vtype in ((2, _U16), (1, _U8), (2, _U16), (8, _HEX64), (8, _FILETIME), (8, _U64)))
_RECORD_HEADER = struct.Struct("<4sIQQ")  # magic, size, record id, written time


class _Sub(NamedTuple):
    """A substitution slot in a template: filled per record from the value at `index`."""

    index: int
    vtype: int


def _element(name: str, attributes: tuple = (), children: tuple = ()) -> tuple:
    """A template element: attributes are (name, text or _Sub) pairs, children elements or _Subs."""
    return name, attributes, children


def _event_tree(has_qualifiers: bool, data_count: int) -> tuple:
    """The XML shape of one event, with substitutions where the values go.

    Qualifiers and the number of Data items change the shape, so each combination gets its own
    template. Windows would use an optional substitution for Qualifiers and one string array for
    the Data items, but python-evtx renders a missing optional value as `Qualifiers=""` and an
    array inside a single <Data>, so one template per shape is what both readers read back.
    """
    qualifiers = (("Qualifiers", _Sub(_FIRST_DATA + data_count, _U16)),) if has_qualifiers else ()

    def filled(name: str, index: int, vtype: int) -> tuple:
        return _element(name, children=(_Sub(index, vtype),))

    system = _element("System", children=(
        _element("Provider", (("Name", _Sub(_PROVIDER, _STRING)),)),
        _element("EventID", qualifiers, (_Sub(_EVENT_ID, _U16),)),
        filled("Level", _LEVEL, _U8),
        filled("Task", _TASK, _U16),
        filled("Keywords", _KEYWORDS, _HEX64),
        _element("TimeCreated", (("SystemTime", _Sub(_TIME, _FILETIME)),)),
        filled("EventRecordID", _RECORD_ID, _U64),
        filled("Channel", _CHANNEL, _STRING),
        filled("Computer", _COMPUTER, _STRING),
        _element("Security"),
    ))
    event_data = _element("EventData", children=tuple(
        filled("Data", _FIRST_DATA + i, _STRING) for i in range(data_count)))
    return _element("Event", (("xmlns", _NAMESPACE),), (system, event_data))


def _name_hash(name: str) -> int:
    """The hash Windows stores with each name (and buckets the chunk's string table by)."""
    encoded = name.encode("utf-16-le")
    value = 0
    for unit in struct.unpack(f"<{len(encoded) // 2}H", encoded):
        value = (value * 65599 + unit) & 0xFFFFFFFF
    return value & 0xFFFF


class _TemplateBody:
    """Serializes one template's BinXML at a known chunk offset.

    A name is stored inline the first time the chunk uses it and referenced by offset after
    that; the names this body defines are kept in `new_names` so the chunk can adopt them only
    if the record that carries the template fits.
    """

    def __init__(self, offset: int, known_names: dict[str, int]):
        self.offset = offset
        self.known_names = known_names
        self.new_names: dict[str, int] = {}
        self.out = bytearray(b"\x0f\x01\x01\x00")  # fragment header, BinXML 1.1

    def build(self, tree: tuple) -> bytes:
        self._element(tree)
        self.out.append(0x00)  # end of stream
        return bytes(self.out)

    def _name(self, name: str) -> None:
        out = self.out
        offset = self.known_names.get(name) or self.new_names.get(name)
        if offset is None:
            offset = self.offset + len(out) + 4  # inline: right after this offset field
            self.new_names[name] = offset
            encoded = name.encode("utf-16-le")
            out += struct.pack("<IIHH", offset, 0, _name_hash(name), len(encoded) // 2)
            out += encoded + b"\0\0"
        else:
            out += struct.pack("<I", offset)

    def _value(self, value: str | bytes | _Sub) -> None:
        if isinstance(value, _Sub):
            self.out += struct.pack("<BHB", 0x0D, value.index, value.vtype)
        elif isinstance(value, bytes):      # BinXML tokens as they are: the tests craft damage
            self.out += value
        else:
            encoded = value.encode("utf-16-le")
            self.out += struct.pack("<BBH", 0x05, _STRING, len(encoded) // 2) + encoded

    def _element(self, node: tuple) -> None:
        name, attributes, children = node
        out = self.out
        start = len(out)
        out += struct.pack("<BHI", 0x41 if attributes else 0x01, 0xFFFF, 0)  # size patched below
        self._name(name)
        if attributes:
            list_start = len(out)
            out += b"\0\0\0\0"
            for i, (attribute, value) in enumerate(attributes):
                out.append(0x46 if i < len(attributes) - 1 else 0x06)  # 0x40: another follows
                self._name(attribute)
                self._value(value)
            struct.pack_into("<I", out, list_start, len(out) - list_start - 4)
        if children:
            out.append(0x02)
            for child in children:
                if isinstance(child, (_Sub, str, bytes)):      # a value, text or raw tokens
                    self._value(child)
                else:
                    self._element(child)
            out.append(0x04)
        else:
            out.append(0x03)
        struct.pack_into("<I", out, start + 3, len(out) - start - 7)


class _Template(NamedTuple):
    """One event shape's template: its GUID, the id records cite it by, and its XML tree."""

    guid: bytes
    template_id: int
    tree: tuple


@functools.cache
def _template(has_qualifiers: bool, data_count: int) -> _Template:
    """The template for events with this shape; its GUID is stable across chunks and runs."""
    guid = uuid.uuid5(_TEMPLATE_GUIDS, f"{has_qualifiers}/{data_count}").bytes_le
    # Windows puts the GUID's first four bytes in the template instance as the template id.
    template_id = struct.unpack_from("<I", guid)[0]
    return _Template(guid, template_id, _event_tree(has_qualifiers, data_count))


def _filetime(moment: datetime) -> int:
    """100 ns ticks since 1601, computed in integers so microseconds survive exactly."""
    delta = moment - _FILETIME_EPOCH
    return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def _values(event: EventSpec, record_id: int, filetime: int) -> bytes:
    """The template instance data: value count, (size, type) descriptors, then the values.

    A string too long for the descriptor's 16-bit size would make a record larger than a
    chunk, which `_Chunk.add` refuses, so such a descriptor is never written.
    """
    texts = [text.encode("utf-16-le")
             for text in (event.provider, event.channel, event.computer, *event.data)]
    numbers = _NUMBERS.pack(event.event_id, event.level, event.task, event.keywords, filetime,
                            record_id)
    parts = [texts[0], numbers, *texts[1:]]
    descriptors = [len(texts[0]) | _STRING << 16, *_NUMBER_DESCRIPTORS,
                   *(len(text) | _STRING << 16 for text in texts[1:])]
    if event.qualifiers is not None:
        parts.append(struct.pack("<H", event.qualifiers))
        descriptors.append(2 | _U16 << 16)
    count = len(descriptors)
    return struct.pack(f"<{count + 1}I", count, *descriptors) + b"".join(parts)


class _Chunk:
    """One 64 KiB chunk being filled, with the names and templates already defined in it.

    The string table (64 buckets by name hash) and template table (32 buckets) are filled the
    way Windows fills them, newest first in each bucket, so a reader can render any record
    without first parsing the record that defined its template.
    """

    def __init__(self) -> None:
        self.buf = bytearray(CHUNK_SIZE)
        self.free = CHUNK_HEADER_SIZE
        self.last_record = 0
        self.first_id = self.last_id = 0
        self.names: dict[str, int] = {}
        self.templates: dict[int, int] = {}  # template id -> offset of its definition

    def add(self, record_id: int, event: EventSpec) -> bool:
        """Append the event as a record; False (chunk unchanged) when it does not fit."""
        template = _template(event.qualifiers is not None, len(event.data))
        filetime = _filetime(event.time)
        start = self.free
        template_offset = self.templates.get(template.template_id)
        definition = b""
        if template_offset is None:
            template_offset = start + _RECORD_HEADER.size + 4 + 10  # defined in place
            body_writer = _TemplateBody(template_offset + 24, self.names)
            body = body_writer.build(template.tree)
            definition = struct.pack("<I", 0) + template.guid + struct.pack("<I", len(body)) + body
        binxml = (b"\x0f\x01\x01\x00"
                  + struct.pack("<BBII", 0x0C, 0x01, template.template_id, template_offset)
                  + definition + _values(event, record_id, filetime))
        size = _RECORD_HEADER.size + len(binxml) + 4
        if start + size > CHUNK_SIZE:
            return False
        _RECORD_HEADER.pack_into(self.buf, start, b"**\0\0", size, record_id, filetime)
        self.buf[start + _RECORD_HEADER.size:start + size - 4] = binxml
        struct.pack_into("<I", self.buf, start + size - 4, size)
        if definition:
            self._link(0x180 + 4 * (template.template_id % 32), template_offset)
            self.templates[template.template_id] = template_offset
            for name, offset in body_writer.new_names.items():
                self._link(0x80 + 4 * (_name_hash(name) % 64), offset)
                self.names[name] = offset
        self.first_id = self.first_id or record_id
        self.last_id = record_id
        self.last_record = start
        self.free = start + size
        return True

    def _link(self, bucket: int, offset: int) -> None:
        """Push a name or template onto its bucket's chain (its first field is 'next')."""
        struct.pack_into("<I", self.buf, offset, struct.unpack_from("<I", self.buf, bucket)[0])
        struct.pack_into("<I", self.buf, bucket, offset)

    def finish(self) -> bytearray:
        """Fill in the header and both CRCs; the chunk is then ready to write."""
        buf = self.buf
        struct.pack_into("<8sQQQQIII", buf, 0, b"ElfChnk\0", self.first_id, self.last_id,
                         self.first_id, self.last_id, 0x80, self.last_record, self.free)
        view = memoryview(buf)
        struct.pack_into("<I", buf, 0x34, zlib.crc32(view[CHUNK_HEADER_SIZE:self.free]))
        # the header CRC skips its own slot and the unknown flags before it
        header_crc = zlib.crc32(view[0x80:CHUNK_HEADER_SIZE], zlib.crc32(view[:0x78]))
        struct.pack_into("<I", buf, 0x7C, header_crc)
        return buf


def _file_header(chunk_count: int, next_record_id: int, flags: int) -> bytes:
    header = struct.pack("<8sQQQIHHHH", b"ElfFile\0", 0, max(chunk_count - 1, 0), next_record_id,
                         0x80, 1, 3, FILE_HEADER_SIZE, chunk_count).ljust(0x78, b"\0")
    header += struct.pack("<II", flags, zlib.crc32(header))  # the CRC stops before the flags
    return header.ljust(FILE_HEADER_SIZE, b"\0")


def _filled_chunks(events: Iterable[EventSpec]) -> Iterator[_Chunk]:
    """Fill chunks one at a time, record ids from 1; each is yielded once nothing more fits."""
    chunk = _Chunk()
    for record_id, event in enumerate(events, start=1):
        if chunk.add(record_id, event):
            continue
        if chunk.last_id:
            yield chunk
            chunk = _Chunk()
        if not chunk.add(record_id, event):
            raise EventTooLarge(f"event {record_id} does not fit in one {CHUNK_SIZE}-byte chunk;"
                                " shorten its Data items")
    if chunk.last_id:
        yield chunk


def write_evtx(path: str | PathLike[str], events: Iterable[EventSpec], *,
               dirty: bool = False) -> int:
    """Write the events to an .evtx file, record ids from 1; returns how many were written.

    With `dirty`, the file is left as Windows leaves a log that was not closed cleanly: the
    dirty flag set and the header last updated after the first chunk, so its chunk count and
    next record id are stale and a reader that trusts them misses the later chunks.
    """
    chunk_count = last_id = first_chunk_last_id = 0
    with open(path, "wb") as f:
        f.seek(FILE_HEADER_SIZE)  # the header is written last, once the counts are known
        for chunk in _filled_chunks(events):
            f.write(chunk.finish())
            chunk_count += 1
            first_chunk_last_id = first_chunk_last_id or chunk.last_id
            last_id = chunk.last_id
        f.seek(0)
        if dirty:
            f.write(_file_header(min(chunk_count, 1), first_chunk_last_id + 1, DIRTY))
        else:
            f.write(_file_header(chunk_count, last_id + 1, 0))
    return last_id


def excerpt(source: str | PathLike[str], target: str | PathLike[str], chunks: range) -> None:
    """Write `chunks` of the log `source` to `target` as a log of its own, record ids kept: what
    exporting the same log at another time gives (logs that partly overlap)."""
    with open(source, "rb") as f:
        data = f.read()
    taken = [data[FILE_HEADER_SIZE + i * CHUNK_SIZE:FILE_HEADER_SIZE + (i + 1) * CHUNK_SIZE]
             for i in chunks]
    last_id = struct.unpack_from("<Q", taken[-1], 0x20)[0]
    with open(target, "wb") as out:
        out.write(_file_header(len(taken), last_id + 1, 0))
        out.writelines(taken)
