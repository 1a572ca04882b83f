"""What is being triaged: the source, and what was collected from it."""
from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from exops.facts.directory import DirectoryFacts
from exops.facts.events import EventFacts
from exops.tui.session import Session
from exops.tui.widgets.severity import theme_colour


def plural(count: int, noun: str, many: str | None = None) -> str:
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"


def organization_line(directory: DirectoryFacts) -> str:
    orgs = ", ".join(o.name for o in directory.organizations)
    parts = [orgs, plural(len(directory.admin_groups), "admin group"),
             plural(len(directory.servers), "server"),
             plural(len(directory.public_folder_databases), "public folder DB")]
    return " · ".join(p for p in parts if p)


def logs_line(events: EventFacts) -> str:
    read = sum(s.records_read for s in events.scans)
    skipped = sum(s.records_skipped for s in events.scans)
    return (f"{plural(len(events.scans), 'log')} · {plural(read, 'record')} read · "
            f"{skipped:,} skipped")


class EnvironmentPanel(Static):
    """Source, directory and logs as a two-column grid; values wrap under their own column."""

    def show(self, session: Session) -> None:
        muted = theme_colour(self.app, "text-muted")
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style=muted, no_wrap=True)
        grid.add_column()
        source = Text(session.source)
        if session.origin:
            source.append(f"  ({session.origin})", style=muted)
        grid.add_row("Source", source)
        facts = session.facts
        pending = Text("reading…" if session.busy else "not collected", style=muted)
        if facts is None and session.phase == "failed":
            pending = Text("not read", style=muted)
        directory, events = (facts.get(DirectoryFacts), facts.get(EventFacts)) if facts else (None, None)
        grid.add_row("Organization", Text(organization_line(directory)) if directory else pending)
        grid.add_row("Recipients",
                     Text(f"{directory.recipients_scanned:,} scanned") if directory else pending)
        grid.add_row("Event logs", Text(logs_line(events)) if events else pending)
        self.update(grid)
