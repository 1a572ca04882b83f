"""Evidence text made safe to show: customer logs and directories are hostile input.

A computer name, DN or event text can hold Rich markup (`[/]` crashes a print, `[link=...]`
restyles the output) and raw control characters (ESC sequences clear the screen or set the window
title, BEL rings, CR overwrites a line, bidi overrides reorder it, a lone surrogate cannot even be
encoded). `printable()` shows each such character as a visible escape (`\\x1b`, `\\u202e`), so the
evidence stays complete and readable and every writer (terminal, HTML, Markdown, CSV, JUnit) can
encode it; `json_safe()` does the same inside JSON text; `markup()` also escapes Rich markup, for
evidence placed inside a markup string; `text()` is a Rich Text, which never reads markup. Every
front end uses these, never its own copy.
"""
from __future__ import annotations

import re

from rich.markup import escape
from rich.text import Text

# C0 controls but TAB and LF, DEL, C1 controls, bidi and invisible direction marks, BOM, surrogates.
_CONTROLS = ("\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
             "\ufeff\ud800-\udfff")
_UNSAFE = re.compile(f"[{_CONTROLS}]")
_UNSAFE_LINE = re.compile(f"[{_CONTROLS}\t\n]")


def _visible(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: object, *, one_line: bool = False) -> str:
    """`value` as text with every control, direction or unencodable character made visible;
    `one_line` also escapes tabs and line breaks (for error lines and table cells). A Windows
    line end (CR LF) is a line break, not a carriage return that overwrites the line."""
    return (_UNSAFE_LINE if one_line else _UNSAFE).sub(_visible, str(value).replace("\r\n", "\n"))


def brief(value: object, limit: int = 160) -> str:
    """A message as one line of at most `limit` characters, for errors that quote someone else's
    (a server's, a parser's) words."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def json_safe(document: str) -> str:
    """JSON text with the same unsafe characters written as `\\uXXXX` escapes: a parser reads
    exactly the same data, a terminal or pager shows it safely, and it can be encoded."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", document)


def markup(value: object, *, one_line: bool = False) -> str:
    """Evidence to put inside a Rich markup string: printable, with markup escaped."""
    return escape(printable(value, one_line=one_line))


def text(value: object, style: str = "", *, one_line: bool = False) -> Text:
    """Evidence as a Rich Text (markup is not interpreted in it)."""
    return Text(printable(value, one_line=one_line), style)
