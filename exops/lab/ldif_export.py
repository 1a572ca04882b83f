"""Writes directory entries as `ldifde -f` does, so fixtures look like what customers send:
CRLF line ends, a `changetype: add` in each record, folded lines, base64 where needed."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from exops.ldiftext import add_record


def write_ldif(path: str | Path, entries: Iterable[tuple[str, dict[str, list[str]]]]) -> int:
    count = 0
    with Path(path).open("w", encoding="utf-8", newline="") as out:
        for dn, attrs in entries:
            out.write("\r\n".join(add_record(dn, attrs)) + "\r\n\r\n")
            count += 1
    return count
