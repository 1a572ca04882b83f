"""Terminal output for the CLI: progress bars on stderr, results on stdout.

Progress goes to stderr so `--format json` output on stdout stays clean for scripts. Every piece
of evidence (paths, DNs, computer names, skip reasons) goes through `exops.terminal`.
"""
from __future__ import annotations

import errno
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TextIO

from rich.cells import cell_len
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table
from rich.text import Text

from exops.errors import OutputError
from exops.facts.events import EventGroup, LogScan
from exops.facts.serde import to_data
from exops.terminal import markup, printable



class _Console(Console):
    """Rich's console, but a closed pipe is left to exops (Rich would exit 1 on the spot, and
    `exops check | head` must keep the check's exit code)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "the output was closed")


console = _Console(highlight=False)
if not console.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
    # files and pipes: wide enough that DNs and summaries stay on one line, unless COLUMNS says
    console = _Console(highlight=False, width=160)
error_console = _Console(stderr=True, highlight=False)


def write_output(path: str, writer: Callable[[TextIO], None]) -> None:
    """Write a report where the user asked (`-o`), streamed by `writer`; any failure is one
    OutputError line, and a file left half written (a full disk) is removed rather than passed
    off as a report."""
    try:
        with open(path, "w", encoding="utf-8") as out:
            writer(out)
    except OSError as exc:
        if os.path.isfile(path):
            os.unlink(path)
        raise OutputError(f"cannot write {printable(path, one_line=True)}: "
                          f"{exc.strerror or exc}") from None


def abandon_stdout() -> None:
    """Point stdout at /dev/null once its reader has gone (a closed pipe) or its disk is full,
    so that the interpreter's last flush cannot raise again on the way out."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):   # a stdout without a file (tests, embedding)
        pass


@contextmanager
def delivered() -> Iterator[None]:
    """Print results; a reader that stops early (`exops check | head`) is not an error, so the
    caller's exit code stands. Other write failures are left to the CLI's edge."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        abandon_stdout()


class ScanProgress:
    def __init__(self, progress: Progress | None):
        self._progress = progress

    def hook(self, path: str) -> Callable[[int, int], None] | None:
        """A `progress(done_bytes, total_bytes)` callback with its own bar for `path`."""
        if self._progress is None:
            return None
        task = self._progress.add_task(f"reading {markup(path, one_line=True)}", total=None)

        def update(done: int, total: int) -> None:
            self._progress.update(task, completed=done, total=total)
        return update


@contextmanager
def scan_progress(quiet: bool = False) -> Iterator[ScanProgress]:
    if quiet or not error_console.is_terminal:
        yield ScanProgress(None)
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=error_console, transient=True) as progress:
        yield ScanProgress(progress)


@contextmanager
def check_progress(quiet: bool = False) -> Iterator[Callable | None]:
    """A hook for engine.CheckProgress events that drives one bar over all checks."""
    if quiet or not error_console.is_terminal:
        yield None
        return
    with Progress(TextColumn("checks"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                  console=error_console, transient=True) as progress:
        task = progress.add_task("", total=None)

        def hook(event) -> None:
            progress.update(task, completed=event.done, total=event.total,
                            description=markup(f"{event.check.id} {event.state}", one_line=True))
        yield hook


def scans_json(scans: list[LogScan], unreadable: dict[str, str] | None = None) -> str:
    """The `exops events --format json` contract: per file, read, skipped with reasons, events;
    then each file that could not be read at all, with why."""
    return json.dumps({"files": [
        {"path": s.path, "backend": s.backend, "records_read": s.records_read,
         "records_skipped": s.records_skipped, "skipped": s.skipped, "notes": list(s.notes),
         "events": [to_data(g) for g in s.groups]} for s in scans],
        "unreadable": [{"path": path, "error": error} for path, error in (unreadable or {}).items()]},
        indent=2)


WIDE = 120
SECONDS = "%Y-%m-%d %H:%M:%S"
_PART = re.compile(r"(?=/[A-Za-z]+=)")        # where a legacyExchangeDN's next part (/ou=, /cn=) starts


def print_scans(scans: list[LogScan], out: Console | None = None) -> None:
    out = out or console
    for scan in scans:
        out.print(f"[bold]{markup(scan.path, one_line=True)}[/]  {scan.records_read} records "
                  f"read, {scan.records_skipped} skipped  [dim]({scan.backend})[/]")
        for reason, count in sorted(scan.skipped.items()):
            out.print(f"  [yellow]skipped {count}:[/] {markup(reason, one_line=True)}")
        for note in scan.notes:
            out.print(f"  [dim]note:[/] {markup(note, one_line=True)}")
        if not scan.groups:
            out.print("  no free/busy events (14031, 8207, 3047)")
            continue
        out.print(events_table(scan, out.width))


def events_table(scan: LogScan, width: int) -> Table:
    """The free/busy events of one log: a table when the terminal is wide enough (from 120
    columns) for every DN part, time and error code whole; otherwise one block per group (event
    ID, then count, first → last in UTC, error code and server on one line, the DN under it), so
    an 80-column terminal shows every DN, time and code whole too. DNs break only between their
    parts (`/o=...`, `/ou=...`), never inside one."""
    groups = sorted(scan.groups, key=lambda g: (g.first_seen, g.event_id))
    return (width >= WIDE and _wide_table(groups, width)) or _blocks(groups, width)


def _blocks(groups: list[EventGroup], width: int) -> Table:
    wide = width >= WIDE
    moment = (lambda t: utc(t).strftime(SECONDS)) if wide else compact_time
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    id_width = max(cell_len(str(g.event_id)) for g in groups)
    for g in groups:
        line = (f"×{g.count}  {moment(g.first_seen)} → {moment(g.last_seen)} UTC  "
                f"{', '.join(g.error_codes) or '-'}  {g.computer}" + (f"  {g.provider}" if wide else ""))
        dn = printable(g.dn or "(no DN in the event)", one_line=True)
        grid.add_row(Text(str(g.event_id), style="bold"),
                     Text("\n".join([printable(line, one_line=True), *dn_lines(dn, width - id_width - 2)])))
    return grid


def _wide_table(groups: list[EventGroup], width: int) -> Table | None:
    """The table, or None when the DN column cannot hold the longest DN part beside the rest."""
    rows = [[*(printable(v, one_line=True) for v in (
        str(g.event_id), g.provider, g.dn or "-", g.computer, str(g.count),
        utc(g.first_seen).strftime(SECONDS), utc(g.last_seen).strftime(SECONDS))),
        "\n".join(printable(c, one_line=True) for c in g.error_codes) or "-"] for g in groups]
    headers = ("event", "provider", "DN", "server", "count", "first seen (UTC)", "last seen (UTC)", "error")
    widths = [max(cell_len(h), *(cell_len(line) for r in rows for line in r[i].split("\n")))
              for i, h in enumerate(headers)]
    # Every column but provider and DN keeps its natural width; the provider wraps between words
    # when the DN needs the room; the DN breaks between parts and must hold its longest part.
    room = width - (3 * len(headers) + 1) - (sum(widths) - widths[1] - widths[2])
    shortest = max(cell_len(headers[1]), *(cell_len(w) for r in rows for w in r[1].split()))
    widths[1] = min(widths[1], max(shortest, room - widths[2]))
    widths[2] = min(widths[2], room - widths[1])
    if widths[2] < max(cell_len(p) for r in rows for p in _PART.split(r[2])):
        return None
    table = Table(*(Column(h, width=w, no_wrap=h != "provider") for h, w in zip(headers, widths)))
    for r in rows:    # Text: evidence is never markup
        table.add_row(*(Text("\n".join(dn_lines(c, widths[2]) if i == 2 else [c])) for i, c in enumerate(r)))
    return table


def dn_lines(dn: str, width: int) -> list[str]:
    """A DN in lines of at most `width`, broken only before a part (`/ou=`, `/cn=`); a part longer
    than the width keeps a line of its own (the terminal folds that one, the last resort)."""
    lines: list[str] = []
    for part in filter(None, _PART.split(dn)):
        if lines and cell_len(lines[-1]) + cell_len(part) <= width:
            lines[-1] += part
        else:
            lines.append(part)
    return lines or [dn]


def utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc) if moment.tzinfo is not None else moment


def compact_time(moment: datetime) -> str:
    """`2011-08-01 06:07` in UTC."""
    return utc(moment).strftime("%Y-%m-%d %H:%M")
