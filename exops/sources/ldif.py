"""Directory facts from an `ldifde` export, as consultants receive them.

RFC 2849 content records: folded lines (a continuation starts with one space), `attr:: base64`
values, comments, `version: 1`. `ldifde` writes CRLF line ends and a `changetype: add` line in
every record, and with `-u` writes UTF-16; all of that is accepted. Entries stream one at a time;
folded lines are joined in linear time and a logical line is bounded (MAX_LINE), so a crafted
file costs time and memory in proportion to its size, never more. A file with no entry at all
is an error: reading nothing must never pass for a healthy directory.
"""
from __future__ import annotations

import base64
import binascii
import codecs
from collections.abc import Iterator
from pathlib import Path

from exops.facts.directory import DirectoryFacts
from exops.sources.entries import DirectoryFactsBuilder
from exops.errors import ExopsError


MAX_LINE = 16 << 20    # characters in one logical line; a jpegPhoto in base64 is under 1 MiB


class LdifError(ExopsError, ValueError):
    """An LDIF file exops cannot read; names the file and line."""


LdifRecord = tuple[str, dict[str, list[str]]]   # (dn, attributes) as the export spells them


def read_ldif_facts(path: str | Path) -> DirectoryFacts:
    builder = DirectoryFactsBuilder(source=f"ldif:{Path(path).name}")
    entries = 0
    for dn, attrs in read_ldif(path):
        builder.add(dn, attrs)
        entries += 1
    if not entries:
        raise LdifError(f"{path}: no entries (empty, or only comments and a version line); "
                        "nothing could be checked")
    return builder.facts()


def read_ldif(path: str | Path) -> Iterator[LdifRecord]:
    """(dn, {lower-case attribute: [values]}) for every content record in the file."""
    path = Path(path)
    try:
        stream = _open_text(path)
    except OSError as exc:
        raise LdifError(f"{path}: cannot read: {exc.strerror}") from None
    with stream:
        record: list[tuple[int, str]] = []
        for number, line in _unfold(stream, path):
            if line == "":
                if record:
                    entry = _entry(record, path)
                    if entry:
                        yield entry
                    record = []
            elif not line.startswith("#"):
                record.append((number, line))
        if record:
            entry = _entry(record, path)
            if entry:
                yield entry


def _open_text(path: Path):
    with path.open("rb") as probe:
        head = probe.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    return path.open("r", encoding=encoding, errors="strict", newline="")


def _unfold(stream, path: Path) -> Iterator[tuple[int, str]]:
    """Logical lines with the number of the physical line where each starts.

    Continuations are collected in a list and joined once (joining as they come is quadratic:
    40,000 continuation lines took 37 s).
    """
    start, parts, size, number = 0, [], 0, 0
    try:
        while raw := stream.readline(MAX_LINE + 1):
            number += 1
            line = raw.rstrip("\r\n")
            if line.startswith(" ") and parts:
                parts.append(line[1:])
                size += len(line) - 1
            else:
                if parts:
                    yield start, "".join(parts)
                start, parts, size = number, [line], len(line)
            if size > MAX_LINE:
                raise LdifError(f"{path}:{start}: a line (with its continuations) longer than "
                                f"{MAX_LINE >> 20} MiB characters; not an ldifde export")
    except UnicodeDecodeError as exc:
        raise LdifError(f"{path}: not UTF-8 or UTF-16 text ({exc.reason} at byte {exc.start})") from None
    if parts:
        yield start, "".join(parts)


def _entry(record: list[tuple[int, str]], path: Path) -> LdifRecord | None:
    first_line = record[0][0]
    if record[0][1].lower().startswith("version:"):
        record = record[1:]
        if not record:
            return None
    pairs = [(number, *_attribute(line, number, path)) for number, line in record]
    number, name, dn = pairs[0]
    if name.lower() != "dn":
        raise LdifError(f"{path}:{first_line}: expected 'dn: <distinguished name>' to start the record, got {name!r}")
    attrs: dict[str, list[str]] = {}
    for number, name, value in pairs[1:]:
        key = name.lower()
        if key == "changetype":
            if value.lower() != "add":
                raise LdifError(f"{path}:{number}: changetype {value!r}: expected an export "
                                "(content records or changetype: add), not a change file")
            continue
        attrs.setdefault(key.split(";", 1)[0], []).append(value)
    return dn, attrs


def _attribute(line: str, number: int, path: Path) -> tuple[str, str]:
    name, sep, rest = line.partition(":")
    if not sep or not name or " " in name.strip():
        raise LdifError(f"{path}:{number}: expected 'attribute: value', got {line[:60]!r}")
    if rest.startswith(":"):
        try:
            raw = base64.b64decode(rest[1:].strip(), validate=True)
        except (binascii.Error, ValueError):
            raise LdifError(f"{path}:{number}: {name}: the base64 value is not valid base64") from None
        return name.strip(), raw.decode("utf-8", errors="replace")
    if rest.startswith("<"):
        raise LdifError(f"{path}:{number}: {name}: values by URL (':<') are not supported; "
                        "export with ldifde, which writes values inline")
    return name.strip(), rest.lstrip(" ")
