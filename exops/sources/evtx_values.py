"""Substitution values as text and times, spelled the way the Rust `evtx` package spells them,
so that both EVTX backends report the same strings. Only records with a free/busy event ID get
their values turned into text."""
from __future__ import annotations

import re
import struct
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

BXML = 0x21                          # value type of an embedded BinXML fragment
STRINGS = 0x81                       # value type of an array of UTF-16 strings

_U32, _U64 = struct.Struct("<I"), struct.Struct("<Q")
_I32 = struct.Struct("<i")
_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)


def written_time(written: int) -> datetime:
    """When the record was written (its header's FILETIME): the time of an event whose own
    TimeCreated is unreadable. The FILETIME epoch if even that is out of range."""
    return filetime(written) or _EPOCH


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


def _utf16(raw: bytes) -> str:
    """UTF-16 with unpaired surrogates dropped, as the Rust parser drops them."""
    return _SURROGATE.sub("", raw[:len(raw) & ~1].decode("utf-16-le", "surrogatepass"))


def _string_text(raw: bytes) -> str:
    """A string value ends at its first NUL, as in the Rust parser."""
    return _utf16(raw).partition("\x00")[0]


_SURROGATE = re.compile("[\ud800-\udfff]")
_BOOLEANS = {0: "false", 1: "true"}      # other values are written as numbers, as Rust does
INTEGERS = {value_type: struct.Struct(code) for value_type, code in (
    (0x03, "<b"), (0x04, "<B"), (0x05, "<h"), (0x06, "<H"), (0x07, "<i"), (0x08, "<I"),
    (0x09, "<q"), (0x0A, "<Q"))}
_RENDER: dict[int, Callable[[bytes], str]] = {
    0x00: lambda raw: "",
    0x01: _string_text,
    0x02: lambda raw: raw.decode("cp1252", "replace").partition("\x00")[0],
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
    STRINGS: _utf16,                             # split at each NUL by the reader
}


def render_value(value_type: int, raw: bytes) -> str:
    """A substitution value as text, spelled the way the Rust `evtx` package spells it, so both
    backends report the same strings."""
    integer = INTEGERS.get(value_type)
    if integer is not None:
        return str(integer.unpack(raw[:integer.size])[0])
    render = _RENDER.get(value_type)
    return render(raw) if render else raw.hex().upper()
