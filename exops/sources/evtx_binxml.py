"""The BinXML reader: each template parsed once into a plan of where EventID, Provider and the
data items sit among a record's substitution values, and each record read through that plan.

Templates are parsed by this small reader rather than by python-evtx: python-evtx cannot read
records written without a template (Windows Event Forwarding writes them) and takes 15 times
longer per template, which dominated scans of damaged logs. The tests check that this reader and
python-evtx agree on every template of the sample logs, and that both backends agree on every
field of every sample record.
"""
from __future__ import annotations

import functools
import html
import struct
from collections.abc import Iterator
from itertools import accumulate
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, NamedTuple

from exops.sources.eventtally import valid_text
from exops.sources.eventxml import DATA_SECTIONS, parse_time
from exops.sources.evtx_format import CHUNK_MAGIC, CHUNK_SIZE, HEADER_SIZE, RECORDS_START, Record
from exops.sources.evtx_values import (BXML, INTEGERS, STRINGS, filetime, render_value,
                                      written_time)

MAX_VALUES = 0x1000
MAX_NESTING = 8                  # fragments embedded in fragments
MAX_DEPTH = 32                   # elements inside elements (Windows writes fewer than 10)
# What reading one record may cost, whatever its bytes say: a record can embed the same fragment
# many times over, each embedding it many times again, and expand exponentially.
MAX_FRAGMENTS = 64               # embedded fragments visited
MAX_TEXT = 1 << 20               # characters rendered
# What the template cache may hold for one file (in element path entries, about 8 bytes each);
# real logs use a few hundred small templates, a crafted one can define a deep one per record.
MAX_CACHED = 1 << 20
MAX_INDEXED = 1 << 16            # template IDs remembered for borrowing (real logs: hundreds)
TOO_DEEP = "record whose XML nests too deep"
TOO_LARGE = "record whose embedded XML expands too far"
SHIFTED = "record with text read at a shifted offset"
_U16, _U32, _U64 = struct.Struct("<H"), struct.Struct("<I"), struct.Struct("<Q")
_INSTANCE = struct.Struct("<II")               # template id, template offset
_INNER = ("",)                                 # the prefix of a fragment read only for its cost


@functools.lru_cache(maxsize=64)
def _value_table(count: int) -> struct.Struct:
    """The struct format of a value table of `count` entries (size u16, type u8, padding);
    bounded, as each count gets its own and a crafted log can use every count up to 4096."""
    return struct.Struct("<" + "HBx" * count)


class RecordDamage(Exception):
    """A record whose EventID cannot be read; `reason` is what LogScan.skipped counts."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------- templates

Parts = tuple      # of int (a substitution index) and str (literal text)


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
    refs: tuple[int, ...] = ()            # every substitution the template uses, as often
    literal: int = 0                      # characters of its own names and text


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
        if len(path) > 1 and path[1] in DATA_SECTIONS and path[-1] != "Binary" and element.text:
            data.append(element.text)
        if len(path) < 2 or path[1] != "System":
            data.extend(Nested(index, path) for index in element.fragments)
    event_id = text_of("System", "EventID")
    if not event_id and not prefix:
        return "record without an EventID"
    refs = [p for e in elements for parts in (e.text, *e.attributes.values()) for p in parts
            if type(p) is int]
    literal = sum(2 * len(e.path[-1]) + 5 + sum(len(a) + 4 for a in e.attributes)
                  + sum(len(p) for p in e.text if type(p) is str) for e in elements)
    return TemplatePlan(
        event_id=event_id,
        event_id_index=_single_index(event_id),
        provider=attribute_of("Name", "System", "Provider"),
        time=attribute_of("SystemTime", "System", "TimeCreated"),
        computer=text_of("System", "Computer"),
        record_id=text_of("System", "EventRecordID"),
        message=text_of("RenderingInfo", "Message"),
        data=tuple(data),
        refs=(*refs, *(i for e in elements for i in e.fragments)),
        literal=literal,
    )


def _single_index(parts: Parts) -> int | None:
    return parts[0] if len(parts) == 1 and type(parts[0]) is int else None


class TemplateCache:
    """Templates for the whole file, keyed by their definition's bytes (GUID, size, body):
    Windows defines a template again in every chunk that uses it, and each is parsed once.

    A record in a damaged chunk may point at a template whose bytes were zeroed; `borrow` finds
    the template with the same ID in one of the file's intact chunks instead.
    """

    def __init__(self, stream: BinaryIO):
        self.borrowed = 0
        self._stream = stream
        self._elements: dict[bytes, list[Element] | str] = {}      # str: why it is unreadable
        self._plans: dict[tuple[bytes, tuple[str, ...]], TemplatePlan | str] = {}
        self._ids: dict[int, tuple[int, int]] | None = None       # id -> (chunk, offset)
        self._cached = 0                                           # path entries held

    def plan(self, data: bytes, offset: int, prefix: tuple[str, ...]) -> TemplatePlan | str:
        """The plan of the template defined at `offset` of the chunk `data`."""
        definition = self._parse(data, offset)
        if definition is None:
            return "record whose template lies outside its chunk"
        return self._plan(definition, prefix)

    def borrow(self, template_id: int, prefix: tuple[str, ...]) -> TemplatePlan | None:
        if self._ids is None:
            self._ids = self._index()
        where = self._ids.get(template_id)
        if where is None:
            return None
        self._stream.seek(where[0])
        data = self._stream.read(CHUNK_SIZE)
        plan = self.plan(data, where[1], prefix)
        return None if isinstance(plan, str) else plan

    def _parse(self, data: bytes, offset: int) -> bytes | None:
        """The template's definition, its elements parsed once. Names are resolved against the
        chunk, so parsing needs the chunk; the result is then good for any chunk."""
        if not RECORDS_START <= offset <= len(data) - 24:
            return None
        size = _U32.unpack_from(data, offset + 20)[0]
        definition = data[offset + 4:offset + 24 + size]
        if definition not in self._elements:
            elements = template_elements(data, offset + 24, offset + 24 + size)
            self._hold(1 if isinstance(elements, str) else sum(len(e.path) for e in elements))
            self._elements[definition] = elements
        return definition

    def _hold(self, weight: int) -> None:
        """Make room for `weight` more path entries: past MAX_CACHED the cache starts again
        (templates are parsed again when needed, which costs time, not memory)."""
        if self._cached + weight > MAX_CACHED:
            self._elements.clear()
            self._plans.clear()
            self._cached = 0
        self._cached += weight

    def _plan(self, definition: bytes, prefix: tuple[str, ...]) -> TemplatePlan | str:
        key = (definition, prefix)
        plan = self._plans.get(key)
        if plan is None:
            elements = self._elements[definition]
            plan = elements if isinstance(elements, str) else _plan(elements, prefix)
            self._hold(1 if isinstance(elements, str) else len(elements))
            self._elements[definition] = elements     # kept even if the cache started again
            self._plans[key] = plan
        return plan

    def _index(self) -> dict[int, tuple[int, int]]:
        """Template ID -> (chunk, offset) of a readable definition, over the templates every
        intact chunk header lists."""
        ids: dict[int, tuple[int, int]] = {}
        chunk = HEADER_SIZE
        self._stream.seek(chunk)
        while len(data := self._stream.read(CHUNK_SIZE)) == CHUNK_SIZE:
            for offset, template_id in listed_templates(data):
                if template_id not in ids and not isinstance(self.plan(data, offset, _INNER), str):
                    ids[template_id] = (chunk, offset)
                if len(ids) >= MAX_INDEXED:
                    return ids
            chunk += CHUNK_SIZE
        return ids


def listed_templates(data: bytes) -> Iterator[tuple[int, int]]:
    """(offset, template ID) of the templates a chunk header lists: 32 buckets, each a chain."""
    if data[:8] != CHUNK_MAGIC:
        return
    for bucket in range(32):
        offset = _U32.unpack_from(data, 0x180 + 4 * bucket)[0]
        seen: set[int] = set()
        while RECORDS_START <= offset <= len(data) - 24 and offset not in seen:
            # a definition follows its first template instance, which points back at it
            if data[offset - 10] != 0x0C or _U32.unpack_from(data, offset - 4)[0] != offset:
                break
            seen.add(offset)
            yield offset, _U32.unpack_from(data, offset + 4)[0]
            offset = _U32.unpack_from(data, offset)[0]


def template_elements(data: bytes, start: int, end: int) -> list[Element] | str:
    try:
        return _fragment_elements(data, start, end, template=True)
    except UnicodeDecodeError:
        return "record with a broken string"
    except RecordDamage as damage:
        return damage.reason
    except (struct.error, IndexError, ValueError, OverflowError):
        return "record whose template is unreadable"


def _fragment_elements(data: bytes, pos: int, end: int, *, template: bool) -> list[Element]:
    """The elements of a BinXML fragment, in document order.

    Elements inside a template carry a two-byte dependency identifier in their header; those of
    a fragment written without a template (Windows Event Forwarding does this) do not, and
    python-evtx, which always expects it, cannot read such records.
    """
    elements: list[Element] = []
    open_elements: list[tuple[int, tuple[str, ...], dict, list, list]] = []
    attribute: str | None = None
    name_at = 7 if template else 5                           # after the dependency identifier
    while pos < end:
        token = data[pos]
        kind = token & 0x0F
        if kind == 0x01:                                     # element start
            name, pos = _name(data, _U32.unpack_from(data, pos + name_at)[0], pos, name_at + 4)
            pos += 4 if token & 0x40 else 0                  # size of the attribute list
            if len(open_elements) >= MAX_DEPTH:
                raise RecordDamage(TOO_DEEP)
            path = (*open_elements[-1][1], name) if open_elements else (name,)
            open_elements.append((len(elements), path, {}, [], []))
            elements.append(Element(path, {}, (), ()))
        elif kind == 0x06:                                   # attribute
            attribute, pos = _name(data, _U32.unpack_from(data, pos + 1)[0], pos, 5)
        elif kind in _CONTENT:
            part, bxml, pos = _content(data, pos, kind)
            _, _, attributes, text, fragments = open_elements[-1]
            if attribute is not None:
                attributes[attribute], attribute = (part,), None
            elif bxml:
                fragments.append(part)
            elif part is not None:
                text.append(part)
        elif kind == 0x02:                                   # end of the start tag
            attribute, pos = None, pos + 1
        elif kind in (0x03, 0x04):                           # element end
            slot, path, attributes, text, fragments = open_elements.pop()
            elements[slot] = Element(path, attributes, tuple(text), tuple(fragments))
            pos += 1
        elif kind == 0x0F:                                   # fragment header
            pos += 4
        elif kind == 0x00:                                   # end of the fragment
            break
        else:
            raise RecordDamage("record with unreadable XML")
    return elements


_CONTENT = frozenset({0x05, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0D, 0x0E})


def _content(data: bytes, pos: int, kind: int) -> tuple[int | str | None, bool, int]:
    """(text part, whether it is an embedded-BinXML substitution, next position) of one token
    of element content: a value, a substitution, or one of the rare text forms."""
    if kind in (0x0D, 0x0E):                                 # substitution: index, value type
        return _U16.unpack_from(data, pos + 1)[0], data[pos + 3] == BXML, pos + 4
    if kind == 0x05:
        text, pos = _inline_value(data, pos)
        return text, False, pos
    if kind == 0x08:                                         # character reference
        return valid_text(chr(_U16.unpack_from(data, pos + 1)[0])), False, pos + 3
    if kind == 0x09:                                         # entity reference
        name, pos = _name(data, _U32.unpack_from(data, pos + 1)[0], pos, 5)
        return html.unescape(f"&{name};"), False, pos
    if kind == 0x0A:                                         # processing instruction target
        return None, False, _name(data, _U32.unpack_from(data, pos + 1)[0], pos, 5)[1]
    count = _U16.unpack_from(data, pos + 1)[0]               # CDATA, processing instruction data
    text = data[pos + 3:pos + 3 + 2 * count].decode("utf-16-le")
    return (text if kind == 0x07 else None), False, pos + 3 + 2 * count


def _name(data: bytes, offset: int, token_at: int, header: int) -> tuple[str, int]:
    """A name string and the position after the token that refers to it: when the name is
    defined inside the token (its offset lies past the token's start), it is skipped too."""
    length = _U16.unpack_from(data, offset + 6)[0]
    name = data[offset + 8:offset + 8 + 2 * length].decode("utf-16-le")
    after = token_at + header
    return name, (after + 10 + 2 * length if offset > token_at else after)


def _inline_value(data: bytes, pos: int) -> tuple[str, int]:
    value_type = data[pos + 1]
    if value_type in (0x01, 0x02):                           # counted string
        count = _U16.unpack_from(data, pos + 2)[0] * (2 if value_type == 0x01 else 1)
        return render_value(value_type, data[pos + 4:pos + 4 + count]), pos + 4 + count
    size = _FIXED_SIZES.get(value_type)
    if size is None:
        raise RecordDamage("record with unreadable XML")
    return render_value(value_type, data[pos + 2:pos + 2 + size]), pos + 2 + size


_FIXED_SIZES = {0x00: 0, 0x03: 1, 0x04: 1, 0x05: 2, 0x06: 2, 0x07: 4, 0x08: 4, 0x09: 8, 0x0A: 8,
                0x0B: 4, 0x0C: 8, 0x0D: 4, 0x0F: 16, 0x11: 8, 0x12: 16, 0x14: 4, 0x15: 8}


# ---------------------------------------------------------------- records

class Values(NamedTuple):
    """A fragment's plan and where its substitution values are."""

    plan: TemplatePlan
    start: int                        # offset of the first value
    sizes: tuple[int, ...]
    types: tuple[int, ...]
    end: int                          # values never reach past the record
    borrowed: bool = False            # its plan came from another chunk's copy of the template


class ChunkReader:
    """Reads the records of one chunk: their EventID, and for the few free/busy candidates
    every field exops keeps."""

    def __init__(self, data: bytes, templates: TemplateCache):
        self._data = data
        self._templates = templates
        self._plans: dict[tuple[int, tuple[str, ...]], TemplatePlan] = {}
        self._borrowed: dict[tuple[int, tuple[str, ...]], TemplatePlan] = {}

    def event_id(self, record: Record) -> int:
        """The record's EventID; the readers call this once per record, so it also counts
        the records read with a borrowed template."""
        offset, size, _, _ = record
        values = self._fragment(offset + 24, offset + size, ())
        self._templates.borrowed += values.borrowed
        return self._event_id(values)

    def _event_id(self, values: Values) -> int:
        """EventID as Windows writes it: a template's one integer value (a UInt16), or text of
        ASCII digits where the template (or a record without one) spells it out. A template's
        one substitution holding text is damage: `records_without` counts on finding an
        integer value's bytes."""
        index = values.plan.event_id_index
        if index is None:
            text = self._join(values.plan.event_id, values).strip()
            digits = text.removeprefix("-")
            if not (digits.isascii() and digits.isdigit()):  # int() takes "1_4031", "١٤٠٣١"
                raise RecordDamage("record without a readable EventID")
            return int(text)
        if index >= len(values.types) or values.types[index] not in INTEGERS:
            raise RecordDamage("record without a readable EventID")
        start = values.start + sum(values.sizes[:index])
        if values.types[index] == 0x06:
            if start + 2 > values.end:
                raise RecordDamage("record cut short")
            return _U16.unpack_from(self._data, start)[0]
        integer = INTEGERS[values.types[index]]
        if start + integer.size > min(start + values.sizes[index], values.end):
            raise RecordDamage("record cut short")
        return integer.unpack_from(self._data, start)[0]

    def fields(self, record: Record) -> dict[str, Any]:
        """Everything ScanTally.add takes; broken values come out as "" rather than failing.
        A record that would expand too far (`expansion`) is damage."""
        self.expansion(record)
        offset, size, record_id, written = record
        values = self._fragment(offset + 24, offset + size, ())
        plan = values.plan
        fields = {
            "event_id": self._event_id(values),
            "provider": self._join(plan.provider, values),
            "time": self._time(values) or written_time(written),
            "computer": self._join(plan.computer, values),
            "record_id": _int(self._join(plan.record_id, values), record_id),
            "data": tuple(self._data_items(values, 0)),
            "message": self._join(plan.message, values),
        }
        texts = (fields["provider"], fields["computer"], fields["message"], *fields["data"])
        if any(map(shifted, texts)):
            raise RecordDamage(SHIFTED)
        return fields

    def expansion(self, record: Record) -> int:
        """How many characters rendering the whole record would make, at most: checked before
        a chunk goes to a parser that renders every record (the Rust one), which would
        otherwise allocate without limit. Raises RecordDamage past MAX_TEXT."""
        offset, size, _, _ = record
        budget = _Budget()
        self._expansion(self._fragment(offset + 24, offset + size, ()), 0, budget)
        return budget.text

    def _expansion(self, values: Values, depth: int, budget: _Budget) -> None:
        budget.enter(depth)
        budget.charge(values.plan.literal)
        starts = list(accumulate(values.sizes, initial=values.start))
        for index in values.plan.refs:
            if index >= len(values.types):
                continue
            start, size = starts[index], values.sizes[index]
            if values.types[index] == BXML:
                try:
                    inner = self._fragment(start, min(start + size, values.end), _INNER)
                except RecordDamage:
                    continue                         # not read, so it costs nothing
                self._expansion(inner, depth + 1, budget)
            else:
                budget.charge(4 * size + 16)         # hex doubles bytes; escapes add more

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
            plan = self._plans.get((template_offset, prefix))
            borrowed = False
            if plan is None:                             # new here, or borrowed
                plan = self._plan(template_offset, template_id, prefix)
                borrowed = (template_offset, prefix) in self._borrowed
            count = _U32.unpack_from(data, pos)[0]
            if count > MAX_VALUES or pos + 4 + 4 * count > end:
                raise RecordDamage("record with a broken value table")
            table = _value_table(count).unpack_from(data, pos + 4)
        except (struct.error, IndexError):
            raise RecordDamage("record cut short") from None
        sizes = table[0::2]
        if pos + 4 + 4 * count + sum(sizes) > end:    # values would be read from other bytes
            raise RecordDamage("record with a broken value table")
        return Values(plan, pos + 4 + 4 * count, sizes, table[1::2], end, borrowed)

    def _plan(self, offset: int, template_id: int, prefix: tuple[str, ...]) -> TemplatePlan:
        if (offset, prefix) in self._borrowed:
            return self._borrowed[offset, prefix]
        plan = self._templates.plan(self._data, offset, prefix)
        if isinstance(plan, str):
            borrowed = self._templates.borrow(template_id, prefix)
            if borrowed is None:
                raise RecordDamage(plan)
            self._borrowed[offset, prefix] = borrowed
            return borrowed
        self._plans[offset, prefix] = plan
        return plan

    def _inline(self, pos: int, end: int, prefix: tuple[str, ...]) -> TemplatePlan:
        """A template-less fragment's plan: parsed for itself, with nothing to cache."""
        try:
            plan = _plan(_fragment_elements(self._data, pos, end, template=False), prefix)
        except UnicodeDecodeError:
            raise RecordDamage("record with a broken string") from None
        except (struct.error, IndexError, ValueError, OverflowError):
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


class _Budget:
    """What reading one record has cost so far; RecordDamage once it is more than a record
    can honestly cost (MAX_FRAGMENTS, MAX_NESTING, MAX_TEXT)."""

    def __init__(self) -> None:
        self.fragments = 0
        self.text = 0

    def enter(self, depth: int) -> None:
        self.fragments += 1
        if self.fragments > MAX_FRAGMENTS or depth > MAX_NESTING:
            raise RecordDamage(TOO_LARGE)

    def charge(self, characters: int) -> None:
        self.text += characters
        if self.text > MAX_TEXT:
            raise RecordDamage(TOO_LARGE)


def shifted(text: str) -> bool:
    """Whether `text` looks like UTF-16 read one byte off: ASCII read that way turns into
    characters U+xx00, which no language writes one after another. A damaged value table
    shifts every value after it, and such text must not become evidence."""
    if len(text) < 4:
        return False
    odd = sum(1 for c in text if ord(c) > 0xFF and not ord(c) & 0xFF)
    return 4 * odd >= 3 * len(text)


def _xml_text(text: str) -> str:
    """Text as an XML parser hands it back (line ends normalised), stripped, so that values
    read here equal those the Rust backend renders to XML and eventxml parses."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def _int(text: str, default: int) -> int:
    try:
        return int(text)
    except ValueError:
        return default

