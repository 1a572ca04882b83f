"""Terminal output for the CLI: progress bars on stderr, results on stdout.

Progress goes to stderr so `--format json` output on stdout stays clean for scripts.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from exops.facts.events import LogScan
from exops.facts.serde import to_data

console = Console(highlight=False)
if not console.is_terminal:  # files and pipes: wide enough that DNs and summaries stay on one line
    console = Console(highlight=False, width=160)
error_console = Console(stderr=True, highlight=False)


class ScanProgress:
    def __init__(self, progress: Progress | None):
        self._progress = progress

    def hook(self, path: str) -> Callable[[int, int], None] | None:
        """A `progress(done_bytes, total_bytes)` callback with its own bar for `path`."""
        if self._progress is None:
            return None
        task = self._progress.add_task(f"reading {path}", total=None)

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
                            description=f"{event.check.id} {event.state}")
        yield hook


def scans_json(scans: list[LogScan]) -> str:
    """The `exops events --format json` contract: per file, read, skipped with reasons, events."""
    return json.dumps({"files": [
        {"path": s.path, "backend": s.backend, "records_read": s.records_read,
         "records_skipped": s.records_skipped, "skipped": s.skipped, "notes": list(s.notes),
         "events": [to_data(g) for g in s.groups]} for s in scans]}, indent=2)


def print_scans(scans: list[LogScan]) -> None:
    for scan in scans:
        console.print(f"[bold]{scan.path}[/]  {scan.records_read} records read, "
                      f"{scan.records_skipped} skipped  [dim]({scan.backend})[/]")
        for reason, count in sorted(scan.skipped.items()):
            console.print(f"  [yellow]skipped {count}:[/] {reason}")
        for note in scan.notes:
            console.print(f"  [dim]note:[/] {note}")
        if not scan.groups:
            console.print("  no free/busy events (14031, 8207, 3047)")
            continue
        table = Table("event", "provider", "DN", "server", "count", "first seen", "last seen", "error")
        for g in sorted(scan.groups, key=lambda g: (g.first_seen, g.event_id)):
            table.add_row(str(g.event_id), g.provider, g.dn or "-", g.computer, str(g.count),
                          g.first_seen.isoformat(timespec="seconds"), g.last_seen.isoformat(timespec="seconds"),
                          ", ".join(g.error_codes) or "-")
        console.print(table)
