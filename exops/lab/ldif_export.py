"""Writes directory entries as `ldifde -f` does, so fixtures look like what customers send.

CRLF line ends, `changetype: add` in each record, lines folded at 79 characters, and base64
(`attr:: ...`) for values LDIF cannot carry as they are (RFC 2849 SAFE-STRING).
"""
from __future__ import annotations

import base64
from collections.abc import Iterable
from pathlib import Path

FOLD_AT = 79


def write_ldif(path: str | Path, entries: Iterable[tuple[str, dict[str, list[str]]]]) -> int:
    count = 0
    with Path(path).open("w", encoding="utf-8", newline="") as out:
        for dn, attrs in entries:
            out.write("\r\n".join(_fold(line) for line in _record(dn, attrs)) + "\r\n\r\n")
            count += 1
    return count


def _record(dn: str, attrs: dict[str, list[str]]) -> list[str]:
    lines = [_line("dn", dn), "changetype: add"]
    lines += [_line(name, value) for name, values in attrs.items() for value in values]
    return lines


def _line(name: str, value: str) -> str:
    safe = value.isascii() and value.isprintable() and not value.startswith((" ", ":", "<")) \
        and not value.endswith(" ")
    if safe:
        return f"{name}: {value}"
    return f"{name}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}"


def _fold(line: str) -> str:
    if len(line) <= FOLD_AT:
        return line
    parts = [line[:FOLD_AT]] + [" " + line[i:i + FOLD_AT - 1] for i in range(FOLD_AT, len(line), FOLD_AT - 1)]
    return "\r\n".join(parts)
