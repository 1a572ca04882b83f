"""The event timeline: 14031, 8207 and 3047 per day and DN, and what each log gave."""
from __future__ import annotations

from pathlib import PurePath

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Header, Static

from exops.facts.events import EventFacts
from exops.tui.screens.session_view import SessionView
from exops.tui.session import Session
from exops.tui.widgets.event_chart import (
    EVENT_MEANING,
    EventChart,
    day_range,
    series_from,
)
from exops.tui.widgets.footer import ExopsFooter
from exops.tui.widgets.severity import theme_colour


class TimelineScreen(SessionView):
    TITLE = "Event timeline"

    def compose(self) -> ComposeResult:
        yield Header(icon="≡")
        yield Static(id="timeline-legend")
        yield VerticalScroll(id="timeline-charts")
        yield ExopsFooter()

    def on_mount(self) -> None:
        self.query_one("#timeline-charts").border_title = "Free/busy events per day (UTC)"

    def drawn_from(self, session: Session) -> EventFacts | None:
        return session.report.events if session.report else None

    def draw(self, session: Session) -> None:
        events = self.drawn_from(session)
        charts = self.query_one("#timeline-charts", VerticalScroll)
        charts.remove_children()
        series = series_from(events)
        days = day_range(series)
        self.query_one("#timeline-legend", Static).update(self.legend(days))
        if session.report is None:
            charts.mount(Static("Waiting for the logs to be read and the checks to run…", classes="muted"))
            return
        if events is None:
            charts.mount(Static("This collection has no event logs.", classes="muted"))
            return
        widgets = [EventChart(s, days) for s in series]
        if not widgets:
            widgets.append(Static("The logs hold no free/busy events (14031, 8207, 3047).",
                                  classes="muted"))
        widgets.append(Static(self.logs_table(events), id="timeline-logs"))
        charts.mount_all(widgets)

    def legend(self, days: list) -> Text:
        muted = theme_colour(self.app, "text-muted")
        out = Text()
        if days:
            out.append(f"{days[0].isoformat()} → {days[-1].isoformat()}", style="bold")
            out.append(f"  {len(days)} days   ", style=muted)
        for event_id, (meaning, variable) in EVENT_MEANING.items():
            out.append("■ ", style=theme_colour(self.app, variable))
            out.append(f"{event_id} {meaning}   ")
        return out

    def logs_table(self, events: EventFacts) -> Table:
        muted = theme_colour(self.app, "text-muted")
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(justify="right")
        table.add_column()
        table.add_row(Text("Logs read", style=muted), "", "")
        for scan in events.scans:
            skipped = ", ".join(f"{n:,} {reason}" for reason, n in sorted(scan.skipped.items()))
            table.add_row(Text(PurePath(scan.path).name), f"{scan.records_read:,} records",
                          Text(f"{scan.records_skipped:,} skipped" + (f": {skipped}" if skipped else ""),
                               style=theme_colour(self.app, "warning") if skipped else muted))
        return table
