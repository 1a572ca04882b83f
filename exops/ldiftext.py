"""LDIF text (RFC 2849) for exports and for plan previews: what a directory admin reads."""
from __future__ import annotations

import base64

FOLD_AT = 79


def attr_line(name: str, value: str) -> str:
    """`name: value`, or `name:: base64` for values LDIF cannot carry as they are."""
    safe = value.isascii() and value.isprintable() and not value.startswith((" ", ":", "<")) \
        and not value.endswith(" ")
    if safe:
        return f"{name}: {value}"
    return f"{name}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}"


def fold_line(line: str) -> list[str]:
    if len(line) <= FOLD_AT:
        return [line]
    return [line[:FOLD_AT]] + [" " + line[i:i + FOLD_AT - 1] for i in range(FOLD_AT, len(line), FOLD_AT - 1)]


def add_record(dn: str, attrs: dict[str, list[str]]) -> list[str]:
    lines = [attr_line("dn", dn), "changetype: add"]
    lines += [attr_line(name, value) for name, values in attrs.items() for value in values]
    return [physical for line in lines for physical in fold_line(line)]


def modify_record(dn: str, changes: dict[str, tuple[str, list[str]]]) -> list[str]:
    """changes: {attribute: (operation, values)} with operation add | replace | delete."""
    lines = [attr_line("dn", dn), "changetype: modify"]
    for name, (operation, values) in changes.items():
        lines.append(f"{operation}: {name}")
        lines += [attr_line(name, v) for v in values]
        lines.append("-")
    return [physical for line in lines for physical in fold_line(line)]

