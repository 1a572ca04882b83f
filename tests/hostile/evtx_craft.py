"""Builders of hostile .evtx files: records and templates made by hand, the way an attacker (or
a badly damaged disk) would make them, on top of the lab writer's chunk layout.

Each builder writes a log in which ordinary free/busy events surround the hostile records, so a
test can check both that the hostile part is refused with its reason and that everything else
is still read.
"""
from __future__ import annotations

import struct
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

from exops.lab.evtx_writer import (CHUNK_SIZE, FILE_HEADER_SIZE, EventSpec, _Chunk, _element,
                                   _file_header, _filetime, _RECORD_HEADER, _Sub, _TemplateBody,
                                   write_evtx)
from exops.sources.eventtally import ScanTally

STRING, U16, SYSTEMTIME, BXML = 0x01, 0x06, 0x12, 0x21
START = datetime(2011, 8, 9, 10, 0, tzinfo=timezone.utc)
EUROPE = "/o=EUROPE/ou=First Administrative Group"
PROVIDER = "MSExchange FreeBusy Assistant"
NAMESPACE = "http://schemas.microsoft.com/win/2004/08/events/event"

Value = tuple[int, bytes]                  # (value type, raw bytes)
Template = tuple[int, int]                 # (template id, offset of its definition)


def text(value: str) -> Value:
    return STRING, value.encode("utf-16-le")


def number(value: int) -> Value:
    return U16, struct.pack("<H", value)


def event_tree(data: Sequence) -> tuple:
    """An event with Provider (value 1), EventID (2), Computer (3) and the given Data contents
    (each a _Sub, a literal, or raw BinXML tokens)."""
    system = _element("System", children=(
        _element("Provider", (("Name", _Sub(1, STRING)),)),
        _element("EventID", children=(_Sub(2, U16),)),
        _element("Computer", children=(_Sub(3, STRING),)),
    ))
    event_data = _element("EventData", children=tuple(
        _element("Data", children=(item,)) for item in data))
    return _element("Event", (("xmlns", NAMESPACE),), (system, event_data))


def value_table(values: Sequence[Value]) -> bytes:
    return (struct.pack(f"<{len(values) + 1}I", len(values),
                        *(len(raw) | kind << 16 for kind, raw in values))
            + b"".join(raw for _, raw in values))


def fragment(template: Template, values: Sequence[Value]) -> bytes:
    """An embedded BinXML fragment: an instance of a template already defined in the chunk."""
    return b"\x0f\x01\x01\x00" + struct.pack("<BBII", 0x0C, 0x01, *template) + value_table(values)


class CraftedChunk:
    """A chunk of hand-made records; `add` defines the record's template in place unless the
    record reuses one."""

    def __init__(self) -> None:
        self.chunk = _Chunk()

    def add(self, record_id: int, values: Sequence[Value], *, tree: tuple | None = None,
            template: Template | None = None) -> Template | None:
        """Append a record; returns its template, or None when it does not fit."""
        chunk = self.chunk
        start = chunk.free
        definition = b""
        if template is None:
            offset = start + _RECORD_HEADER.size + 4 + 10
            guid = uuid.uuid4().bytes_le
            body_writer = _TemplateBody(offset + 24, chunk.names)
            body = body_writer.build(tree)
            definition = struct.pack("<I", 0) + guid + struct.pack("<I", len(body)) + body
            template = (struct.unpack_from("<I", guid)[0], offset)
        binxml = (b"\x0f\x01\x01\x00" + struct.pack("<BBII", 0x0C, 0x01, *template)
                  + definition + value_table(values))
        size = _RECORD_HEADER.size + len(binxml) + 4
        if start + size > CHUNK_SIZE:
            return None
        written = _filetime(START + timedelta(minutes=record_id))
        _RECORD_HEADER.pack_into(chunk.buf, start, b"**\0\0", size, record_id, written)
        chunk.buf[start + _RECORD_HEADER.size:start + size - 4] = binxml
        struct.pack_into("<I", chunk.buf, start + size - 4, size)
        if definition:
            chunk.names.update(body_writer.new_names)
        chunk.first_id = chunk.first_id or record_id
        chunk.last_id, chunk.last_record, chunk.free = record_id, start, start + size
        return template


def write_chunks(path: Path, chunks: Sequence[CraftedChunk]) -> Path:
    with open(path, "wb") as out:
        last = max(c.chunk.last_id for c in chunks)
        out.write(_file_header(len(chunks), last + 1, 0))
        for crafted in chunks:
            out.write(crafted.chunk.finish())
    return path


def free_busy(record_id: int) -> tuple[list[Value], tuple]:
    """The values and tree of an ordinary 14031 event naming EUROPE."""
    values = [text(f"user{record_id}"), text(PROVIDER), number(14031), text("L12EX1"),
              text(EUROPE)]
    return values, event_tree((_Sub(0, STRING), _Sub(4, STRING)))


# ---------------------------------------------------------------- the hostile logs

def exponential_fragments(path: Path, width: int = 16, depth: int = 12) -> Path:
    """A 14031 record whose Data elements embed the same fragment `width` times, each of which
    embeds it `width` times again, `depth` levels down: width**depth fragments to render, in a
    record of a few hundred bytes. Ordinary 14031 records come before and after it."""
    crafted = CraftedChunk()
    plain = crafted.add(1, free_busy(1)[0], tree=free_busy(1)[1])
    nested_tree = event_tree([_Sub(0, BXML)] * width)
    values: list[Value] = [text("leaf"), text(PROVIDER), number(14031), text("L12EX1")]
    nested = crafted.add(2, values, tree=nested_tree)          # defines the template, readable
    inner: Value = text("leaf")
    for _ in range(depth):
        inner = (BXML, fragment(nested, [inner, text(""), number(14031), text("")]))
    crafted.add(3, [inner, text(PROVIDER), number(14031), text("L12EX1")], template=nested)
    crafted.add(4, free_busy(4)[0], template=plain)
    return write_chunks(path, [crafted])


def deep_templates(path: Path, chunks: int = 20, depth: int = 4000) -> Path:
    """Chunks of an ordinary 14031 record and then records each defining its own template with
    <Data> elements nested `depth` deep (Windows writes fewer than 10 levels): a reader that
    keeps every element's path costs memory quadratic in depth, for every such template, and
    one that keeps every template grows with the log."""
    crafted_chunks = []
    record_id = 0
    for _ in range(chunks):
        crafted = CraftedChunk()
        record_id += 1
        values, tree = free_busy(record_id)
        crafted.add(record_id, values, tree=tree)
        data = crafted.chunk.names["Data"]           # defined by the first record
        nest = (b"\x01" + struct.pack("<HII", 0xFFFF, 0, data) + b"\x02") * depth + b"\x04" * depth
        deep = _element("Event", children=(
            _element("System", children=(_element("EventID", children=(_Sub(2, U16),)),)),
            _element("UserData", children=(nest,))))
        while crafted.add(record_id + 1, [text("x"), text(PROVIDER), number(14031)],
                          tree=deep) is not None:
            record_id += 1
        crafted_chunks.append(crafted)
    return write_chunks(path, crafted_chunks)


def many_value_counts(path: Path, counts: range = range(3400, 4096)) -> Path:
    """One ordinary-looking record per value-table size in `counts` (4096 values is the most a
    reader accepts): a reader that keeps a parser per size grows by each."""
    crafted_chunks: list[CraftedChunk] = []
    template = None
    record_id = 0
    for count in counts:
        record_id += 1
        values = [text("x"), text("Application Error"), number(1000), text("L12EX1")]
        values += [(0, b"")] * (count - len(values))
        if not crafted_chunks or (placed := crafted_chunks[-1].add(
                record_id, values, tree=None if template else event_tree([_Sub(0, STRING)]),
                template=template)) is None:
            crafted_chunks.append(CraftedChunk())
            placed = crafted_chunks[-1].add(record_id, values, tree=event_tree([_Sub(0, STRING)]))
        template = placed
    return write_chunks(path, crafted_chunks)


def bad_values(path: Path) -> Path:
    """14031 records carrying one impossible value each: a character reference to a lone
    surrogate, an inline SYSTEMTIME with month 13 in the template, a SYSTEMTIME value with
    month 13; each followed by an ordinary 14031 record."""
    month_13 = struct.pack("<8H", 2011, 13, 0, 9, 10, 0, 0, 0)
    crafted = CraftedChunk()
    record_id = 0

    def add(values, tree):
        nonlocal record_id
        record_id += 1
        crafted.add(record_id, values, tree=tree)
        record_id += 1
        plain, plain_tree = free_busy(record_id)
        crafted.add(record_id, plain, tree=plain_tree)

    base = [text("user"), text(PROVIDER), number(14031), text("L12EX1"), text(EUROPE)]
    add(base, event_tree((_Sub(0, STRING), b"\x08" + struct.pack("<H", 0xD800),
                          _Sub(4, STRING))))
    add(base, event_tree((_Sub(0, STRING), b"\x05" + bytes([SYSTEMTIME]) + month_13,
                          _Sub(4, STRING))))
    add([*base, (SYSTEMTIME, month_13)], event_tree((_Sub(0, STRING), _Sub(5, SYSTEMTIME),
                                                     _Sub(4, STRING))))
    return write_chunks(path, [crafted])


def header_only(path: Path) -> Path:
    write_evtx(path, [])
    return path


def ordinary(path: Path, count: int = 1500, *, dirty: bool = False) -> Path:
    """A writer-made log: ordinary events with a 14031 every 50."""
    def events():
        for i in range(count):
            at = START + timedelta(minutes=i)
            if i % 50 == 3:
                yield EventSpec(14031, PROVIDER, at, "L12EX1.litware.com", level=2,
                                data=(f"user{i}", EUROPE))
            else:
                yield EventSpec(1000 + i % 7, "Application Error", at, "L12EX1.litware.com",
                                data=tuple(f"item {j}" for j in range(i % 4)))
    write_evtx(path, events(), dirty=dirty)
    return path


def every_record_size_zero(path: Path) -> Path:
    data = bytearray(ordinary(path, 300).read_bytes())
    at = FILE_HEADER_SIZE
    while (at := data.find(b"**\x00\x00", at)) >= 0:
        struct.pack_into("<I", data, at + 4, 0)
        at += 4
    path.write_bytes(bytes(data))
    return path


def zeroed_chunk(path: Path) -> Path:
    """A clean log (its header counts every chunk) whose second chunk is all zeros."""
    data = bytearray(ordinary(path, 1500).read_bytes())
    start = FILE_HEADER_SIZE + CHUNK_SIZE
    data[start:start + CHUNK_SIZE] = bytes(CHUNK_SIZE)
    path.write_bytes(bytes(data))
    return path


class EveryRecord(ScanTally):
    """A tally that takes every record as a candidate and keeps what the backend decoded, so
    that every field of every record can be compared."""

    class _All:
        def __contains__(self, event_id: int) -> bool:
            return True

    event_ids = _All()

    def __init__(self, source: str):
        super().__init__(source)
        self.decoded: list[dict] = []

    def add(self, **fields) -> None:
        self.decoded.append(fields)


# ---------------------------------------------------------------- running a reader in a cage

def run_bounded(code: str, *, seconds: float = 120, memory: int = 2 << 30) -> dict:
    """Run Python `code` (which prints one JSON document last) in a child process limited to
    `memory` bytes of address space and `seconds` of wall time, and return what it printed,
    with `rss_mb` its peak resident memory (Linux). A child that is killed, or fails, fails the
    test with its output: a hostile input must never take the process down."""
    import json
    import os
    import resource
    import subprocess
    import sys

    def cage() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    # VmHWM rather than ru_maxrss, which keeps the parent's peak across fork and exec
    wrapped = (f"{code}\nimport json as _j, re as _re\n"
               "_peak = _re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())\n"
               "print(_j.dumps({'rss_mb': int(_peak[1]) // 1024}))")
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", wrapped], capture_output=True, text=True,
                          timeout=seconds, preexec_fn=cage, cwd=repo,
                          env={**os.environ, "PYTHONPATH": str(repo)})
    assert done.returncode == 0, done.stderr[-3000:]
    *_, result, usage = done.stdout.strip().splitlines()
    return {**json.loads(result), **json.loads(usage)}


SCAN = """
import json
from exops.sources.eventlog import scan_log
scan = scan_log({path!r}, backend={backend!r})
print(json.dumps({{"records_read": scan.records_read, "skipped": scan.skipped,
                  "notes": list(scan.notes),
                  "groups": [[g.event_id, g.dn, g.count] for g in scan.groups]}}))
"""


def scan_bounded(path: Path, backend: str, **limits) -> dict:
    """scan_log in a caged child: what it read, and its peak memory."""
    return run_bounded(SCAN.format(path=str(path), backend=backend), **limits)
