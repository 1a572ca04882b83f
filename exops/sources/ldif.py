"""Directory facts from an `ldifde` export, as consultants receive them.

RFC 2849 content records: folded lines (a continuation starts with one space), `attr:: base64`
values, comments, `version: 1`. `ldifde` writes CRLF line ends and a `changetype: add` line in
every record, and with `-u` writes UTF-16; all of that is accepted. Entries stream one at a time.
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


class LdifError(ExopsError, ValueError):
    """An LDIF file exops cannot read; names the file and line."""


LdifRecord = tuple[str, dict[str, list[str]]]   # (dn, attributes) as the export spells them


def read_ldif_facts(path: str | Path) -> DirectoryFacts:
    builder = DirectoryFactsBuilder(source=f"ldif:{Path(path).name}")
    for dn, attrs in read_ldif(path):
        builder.add(dn, attrs)
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
    """Logical lines with the number of the physical line where each starts."""
    pending: tuple[int, str] | None = None
    try:
        for number, raw in enumerate(stream, start=1):
            line = raw.rstrip("\r\n")
            if line.startswith(" ") and pending is not None:
                pending = (pending[0], pending[1] + line[1:])
                continue
            if pending is not None:
                yield pending
            pending = (number, line)
    except UnicodeDecodeError as exc:
        raise LdifError(f"{path}: not UTF-8 or UTF-16 text ({exc.reason} at byte {exc.start})") from None
    if pending is not None:
        yield pending


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
