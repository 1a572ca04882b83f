"""The first screen: what is being triaged, the checks as they run, and the findings per severity.

It is shown before anything is read (the app's worker fills it in), so start-up never waits on a
bundle or a directory.
"""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import Header, Label, Static

from exops.terminal import printable
from exops.tui.session import Session
from exops.tui.widgets.checks import ChecksPanel
from exops.tui.widgets.environment import EnvironmentPanel
from exops.tui.widgets.footer import ExopsFooter
from exops.tui.widgets.severity import SeverityTiles
from exops.tui.widgets.worst import WorstFindings


def status_line(session: Session) -> str:
    if session.phase == "failed":
        return f"[$sev-critical]✖ {escape(printable(session.error, one_line=True))}[/]"
    if session.busy:
        return f"[$accent]…[/] {escape(printable(session.activity or 'starting', one_line=True))}"
    report = session.report
    if report is None:
        return ""
    worst = report.worst
    ran = sum(c.status == "ran" for c in report.checks)
    return (f"Checks finished: {ran} of {len(report.checks)} ran · worst "
            f"[b $sev-{worst.value}]{worst.value}[/] (exit {worst.exit_code})")


class OverviewScreen(Screen):
    TITLE = "Overview"

    def __init__(self) -> None:
        super().__init__()
        self.shown: Session | None = None

    def compose(self) -> ComposeResult:
        yield Header(icon="≡")
        with Horizontal(id="overview-top"):
            yield EnvironmentPanel(id="environment")
            with Horizontal(id="severity-box"):
                yield Label("Findings", id="severity-label")
                yield SeverityTiles(id="severity-tiles")
        yield WorstFindings(id="worst")
        yield ChecksPanel(id="checks")
        yield Static(id="status-line")
        yield ExopsFooter()

    def on_mount(self) -> None:
        self.query_one("#environment").border_title = "Environment"
        self.query_one("#severity-box").border_title = "Findings"
        self.query_one("#checks").border_title = "Checks"
        self.query_one("#worst").border_title = "Worst findings"
        self.watch(self.app, "session", self.show, init=True)
        self.app.theme_changed_signal.subscribe(self, lambda _: self.redraw())

    def redraw(self) -> None:
        self.shown = None
        self.show(self.app.session)

    def show(self, session: Session) -> None:
        """Update only what this change touched: progress arrives by the dozen while checks run."""
        last, self.shown = self.shown, session
        if last is None or (session.facts, session.origin, session.phase) != (
                last.facts, last.origin, last.phase):
            self.query_one(EnvironmentPanel).show(session)
        if last is None or session.report is not last.report:
            self.query_one(SeverityTiles).show(session.report.counts() if session.report else None)
            self.query_one(WorstFindings).show(session.report)
        panel = self.query_one(ChecksPanel)
        panel.show(session.checks)
        if session.report is not None and (last is None or last.report is None):
            panel.focus_worst()
        status = status_line(session)
        if last is None or status != status_line(last):
            self.query_one("#status-line", Static).update(status)
