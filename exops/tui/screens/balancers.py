"""Balancers: every virtual service and its real servers, live (hatop's view, for any product).

The screen is given a reader (a function returning BalancerFacts, run in a thread worker) so it
knows nothing of sources: the app hands it one that asks the session's live environment. It
reads again every few seconds while shown (`w` pauses); a read that fails keeps the last table
and says why above it.
"""
from __future__ import annotations

from collections.abc import Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static
from textual.worker import Worker, WorkerState

from exops.errors import ExopsError
from exops.facts.loadbalancer import BalancerFacts
from exops.tui.widgets.footer import ExopsFooter

REFRESH = 2.0
HEALTH_STYLES = {"UP": "$sev-ok", "DOWN": "$sev-critical", "DRAIN": "$sev-warning", "MAINT": "$sev-unknown"}
COLUMNS = ("Balancer", "Service", "Address", "Server", "Health", "Admin", "Sessions", "Weight", "Check")


def rows(facts: BalancerFacts) -> list[tuple]:
    """One row a real server; the balancer, service and address only on a service's first row."""
    out = []
    for b in facts.balancers:
        for vs in b.services:
            for n, s in enumerate(vs.servers):
                health = Content.styled(s.status, HEALTH_STYLES.get(s.status, ""))
                out.append((b.name if n == 0 else "", vs.name if n == 0 else "", vs.endpoint if n == 0 else "",
                            s.name, health, s.admin, str(s.sessions), str(s.weight) if s.weight >= 0 else "?",
                            s.check))
    return out


def summary(facts: BalancerFacts) -> str:
    members = [s for b in facts.balancers for vs in b.services for s in vs.servers]
    down = sum(1 for s in members if s.status == "DOWN")
    out = sum(1 for s in members if s.admin != "ready")
    return (f"{len(facts.balancers)} balancer(s), {sum(len(b.services) for b in facts.balancers)} services, "
            f"{len(members)} real servers: {down} down, {out} drained or in maintenance, "
            f"{sum(s.sessions for s in members)} sessions")


class BalancersScreen(Screen):
    BINDINGS = [
        Binding("w", "toggle_watch", "Pause/resume", id="exops.balancers.watch",
                tooltip="Stop or start reading the balancers every few seconds"),
        Binding("r", "refresh_now", "Refresh", id="exops.balancers.refresh",
                tooltip="Read the balancers now"),
    ]

    def __init__(self, read: Callable[[], BalancerFacts], interval: float = REFRESH):
        super().__init__()
        self.read, self.interval = read, interval
        self.watching = True

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("reading the balancers...", id="balancer-summary")
        table = DataTable(id="balancer-table", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        yield ExopsFooter(compact=False)

    def on_mount(self) -> None:
        self.action_refresh_now()
        self.set_interval(self.interval, self._tick)

    def _tick(self) -> None:
        if self.watching:
            self.action_refresh_now()

    def action_refresh_now(self) -> None:
        self._load()

    def action_toggle_watch(self) -> None:
        self.watching = not self.watching
        self.notify("watching" if self.watching else "paused", timeout=2)

    @work(thread=True, exclusive=True, group="balancers", exit_on_error=False)
    def _load(self) -> BalancerFacts:
        return self.read()

    @on(Worker.StateChanged)
    def _loaded(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "balancers":
            return
        line = self.query_one("#balancer-summary", Static)
        if event.state is WorkerState.SUCCESS:
            facts = event.worker.result
            table = self.query_one("#balancer-table", DataTable)
            row = table.cursor_row
            table.clear()
            table.add_rows(rows(facts))
            if table.row_count:
                table.move_cursor(row=min(row, table.row_count - 1))
            line.update(summary(facts))
        elif event.state is WorkerState.ERROR:
            error = event.worker.error
            message = str(error) if isinstance(error, ExopsError) else f"{type(error).__name__}: {error}"
            line.update(Content.styled(f"cannot read the balancers: {message}", "$sev-critical"))
