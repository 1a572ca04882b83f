"""exops's remote PowerShell: reviewed `.ps1` files shipped in the package, composed for sending.

What runs on a server is always `prelude.ps1` + a session script (`session-snap-in.ps1`: the
Exchange 2010 snap-in; `session-exchange.ps1`: the `Microsoft.Exchange` endpoint) + one script,
preceded by a single assignment,
`$ExopsArgument = '<base64 of a UTF-8 JSON object>'`: parameters travel as data, so no value can
change the code. Comment lines and indentation are dropped before sending, because the command
line (`powershell -EncodedCommand <base64 of UTF-16LE>`) must stay within the 8,191 characters
WinRS allows; `tests/winrm/test_scripts.py` checks every script fits with room for its argument.
"""
from __future__ import annotations

import base64
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
PRELUDE = "prelude"
SESSIONS = {"snap-in": "session-snap-in", "Microsoft.Exchange": "session-exchange"}
ARGUMENT = re.compile(r"\$ExopsArgument = '([A-Za-z0-9+/=]*)'\n")
COMMAND = "powershell"
FLAGS = ("-Version", "2.0", "-NoProfile", "-NonInteractive", "-EncodedCommand")


@cache
def names() -> tuple[str, ...]:
    """The scripts exops runs (the prelude is part of each)."""
    parts = {PRELUDE, *SESSIONS.values()}
    return tuple(sorted(p.stem for p in HERE.glob("*.ps1") if p.stem not in parts))


@cache
def text(name: str) -> str:
    """A shipped script as reviewed (with its comments)."""
    if name != PRELUDE and name not in SESSIONS.values() and name not in names():
        raise KeyError(f"no exops script {name!r}")
    return (HERE / f"{name}.ps1").read_text(encoding="utf-8")


def minified(source: str) -> str:
    """Without comment lines, blank lines and indentation: what PowerShell runs is unchanged
    (no shipped script has a here-string or a multi-line string, which this would alter)."""
    lines = (line.strip() for line in source.splitlines())
    return "".join(f"{line}\n" for line in lines if line and not line.startswith("#"))


def compose(name: str, parameters: dict[str, Any], session: str = "snap-in") -> str:
    argument = base64.b64encode(json.dumps(parameters, ensure_ascii=True).encode("utf-8")).decode("ascii")
    return (f"$ExopsArgument = '{argument}'\n" + minified(text(PRELUDE)) + minified(text(SESSIONS[session]))
            + minified(text(name)))


def encoded(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def command_line(name: str, parameters: dict[str, Any], session: str = "snap-in") -> tuple[str, list[str]]:
    """The command and arguments pywinrm sends for one script run."""
    return COMMAND, [*FLAGS, encoded(compose(name, parameters, session))]


def recognise(script: str) -> tuple[str, str, dict[str, Any]] | None:
    """(script, session, parameters) of a composed script, or None when it is not exactly one of
    exops's: how the lab knows what it is asked to run."""
    match = ARGUMENT.match(script)
    if match is None:
        return None
    body = script[match.end():]
    prelude = minified(text(PRELUDE))
    if not body.startswith(prelude):
        return None
    body = body[len(prelude):]
    session = next((s for s, file in SESSIONS.items() if body.startswith(minified(text(file)))), None)
    if session is None:
        return None
    body = body[len(minified(text(SESSIONS[session]))):]
    name = next((n for n in names() if minified(text(n)) == body), None)
    if name is None:
        return None
    try:
        parameters = json.loads(base64.b64decode(match.group(1), validate=True))
    except ValueError:
        return None
    return (name, session, parameters) if isinstance(parameters, dict) else None
