"""The Exchange servers: per server, whether it answered, what it is, and what was read from it.

A server that did not answer is listed with the reason its source gave (down, refused, untrusted
certificate, garbage), taken from the collection's unavailable evidence; one whose scripts partly
failed lists which. Nothing here talks to a server: it shows the session's facts.
"""
from __future__ import annotations

import re

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Header, Static

from exops.facts.exchange import ExchangeFacts
from exops.facts.store import Facts
from exops.tui.screens.session_view import SessionView
from exops.tui.session import Session
from exops.tui.widgets.footer import ExopsFooter
from exops.tui.widgets.severity import theme_colour

_UNREACHABLE = re.compile(r"(?:^|; )winrm (?P<server>[^:;]+): (?P<why>.*?)(?=; winrm [^:;]+: |$)")


def server_rows(facts: Facts | None) -> list[tuple[str, str, str, str, str, str]]:
    """(server, state, version, roles, session, what was read) for every server the collection
    knows of, reachable or not, by name."""
    if facts is None:
        return []
    rows = []
    exchange = facts.get(ExchangeFacts)
    for report in exchange.servers if exchange else ():
        me = report.myself()
        read = ", ".join(report.scripts)
        if report.failures:
            read += f"; failed: {', '.join(sorted(report.failures))}"
        rows.append((report.server, "partly read" if report.failures else "answered",
                     me.version if me else "", me.roles if me else ", ".join(report.roles), report.session, read))
    for match in _UNREACHABLE.finditer(facts.unavailable.get(ExchangeFacts, "")):
        rows.append((match["server"], "unreachable", "", "", "", match["why"]))
    return sorted(rows, key=lambda row: row[0].casefold())


class ServersScreen(SessionView):
    TITLE = "Exchange servers"

    def compose(self) -> ComposeResult:
        yield Header(icon="≡")
        with VerticalScroll(id="servers"):
            yield Static(id="servers-table")
        yield ExopsFooter()

    def on_mount(self) -> None:
        self.query_one("#servers").border_title = "Exchange servers (WinRM)"

    def drawn_from(self, session: Session) -> Facts | None:
        return session.facts

    def draw(self, session: Session) -> None:
        self.query_one("#servers-table", Static).update(self.table(session))

    def table(self, session: Session):
        rows = server_rows(session.facts)
        if not rows:
            why = ("Reading…" if session.busy else
                   "No Exchange servers in this collection: add an exchange section to the configuration "
                   "(servers are read over WinRM), or open a bundle collected from them.")
            return Text(why, style="italic")
        colours = {"answered": theme_colour(self.app, "sev-ok"), "partly read": theme_colour(self.app, "sev-unknown"),
                   "unreachable": theme_colour(self.app, "sev-critical")}
        table = Table(expand=True, box=None, header_style="bold")
        for column in ("Server", "State", "Version", "Roles", "Session", "Read"):
            table.add_column(column, overflow="fold")
        for server, state, version, roles, kind, read in rows:
            table.add_row(Text(server), Text(state, style=colours[state]), Text(version), Text(roles),
                          Text(kind), Text(read))
        return table
