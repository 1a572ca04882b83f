"""Terminal output for the CLI: progress bars on stderr, results on stdout.

Progress goes to stderr so `--format json` output on stdout stays clean for scripts. Every piece
of evidence (paths, DNs, computer names, skip reasons) goes through `exops.terminal`.
"""
from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from exops.errors import OutputError
from exops.facts.events import LogScan
from exops.facts.serde import to_data
from exops.terminal import markup, printable, text



class _Console(Console):
    """Rich's console, but a closed pipe is left to exops (Rich would exit 1 on the spot, and
    `exops check | head` must keep the check's exit code)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "the output was closed")


console = _Console(highlight=False)
if not console.is_terminal:  # files and pipes: wide enough that DNs and summaries stay on one line
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
    """The free/busy events of one log: a table from 120 columns; below, one block per group
    (event ID, then count, first → last in compact UTC, error code and server on one line, the DN
    wrapped under it), so an 80-column terminal shows every DN, time and code whole."""
    groups = sorted(scan.groups, key=lambda g: (g.first_seen, g.event_id))
    if width < WIDE:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        for g in groups:
            line = (f"×{g.count}  {compact_time(g.first_seen)} → {compact_time(g.last_seen)} UTC  "
                    f"{', '.join(g.error_codes) or '-'}  {g.computer}")
            grid.add_row(Text(str(g.event_id), style="bold"),
                         Text(f"{printable(line, one_line=True)}\n{printable(g.dn or '(no DN in the event)', one_line=True)}"))
        return grid
    table = Table("event", "provider", "DN", "server", "count", "first seen", "last seen", "error")
    for g in groups:
        table.add_row(*(text(c, one_line=True) for c in (   # Text: evidence is never markup
            str(g.event_id), g.provider, g.dn or "-", g.computer, str(g.count),
            g.first_seen.isoformat(timespec="seconds"), g.last_seen.isoformat(timespec="seconds"),
            ", ".join(g.error_codes) or "-")))
    return table


def compact_time(moment: datetime) -> str:
    """`2011-08-01 06:07` in UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M")
