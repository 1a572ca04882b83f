"""The checks grouped by area with their live status; choosing one opens its findings.

Areas come from `CheckSpec.area`, so a new area (CAS array, load balancer, a plugin's own) shows
up as its own group without touching this file; `AREA_TITLES` only spells known ones nicely.
"""
from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Label

from exops.model import Severity
from exops.tui.session import (
    DONE,
    ERROR,
    NOT_RUN,
    PENDING,
    RUNNING,
    SKIPPED,
    CheckState,
)
from exops.tui.widgets.severity import WORST_FIRST, severity_style, theme_colour

AREA_TITLES = {"freebusy": "Free/busy", "exchange": "Exchange servers", "casarray": "CAS array",
               "loadbalancer": "Load balancer"}   # also the order areas are listed in
ICONS = {PENDING: "·", RUNNING: "…", DONE: "●", SKIPPED: "–", ERROR: "✖", NOT_RUN: "–"}
CLEAN = "✔"
WAITING_WORDS = {PENDING: "waiting", RUNNING: "running", SKIPPED: "skipped", NOT_RUN: "not run"}
RESULT_WIDTH = len("nothing found")


def area_title(area: str) -> str:
    return AREA_TITLES.get(area) or area.replace("_", " ").replace("-", " ").capitalize()


def areas_in_order(checks: tuple[CheckState, ...]) -> dict[str, list[CheckState]]:
    """Areas whose checks could run first (an area with nothing to check sinks to the end), then
    in AREA_TITLES order (the free/busy core first), then plug-ins' areas by name."""
    out: dict[str, list[CheckState]] = {}
    for check in checks:
        out.setdefault(check.area, []).append(check)
    known = list(AREA_TITLES)

    def rank(area: str) -> tuple:
        idle = all(c.state in (SKIPPED, NOT_RUN) for c in out[area])
        return idle, known.index(area) if area in known else len(known), area
    return {area: out[area] for area in sorted(out, key=rank)}


class CheckRow(Widget, can_focus=True):
    """One check on one line: status icon, ID, title, result; cut to the width it gets."""

    class Chosen(Message):
        def __init__(self, check_id: str) -> None:
            super().__init__()
            self.check_id = check_id

    BINDINGS = [Binding("enter", "choose", "The check's findings", id="exops.overview.open_check",
                        show=False, tooltip="The findings of the highlighted check")]

    def __init__(self, check: CheckState, id_width: int) -> None:
        super().__init__(id=f"check-{check.id}")
        self.check = check
        self.id_width = id_width

    def show(self, check: CheckState) -> None:
        self.check = check
        self.tooltip = check.reason or None
        self.refresh()

    def action_choose(self) -> None:
        self.post_message(self.Chosen(self.check.id))

    def on_click(self) -> None:
        self.action_choose()

    def render(self) -> Text:
        check, muted = self.check, theme_colour(self.app, "text-muted")
        result = self._result(muted)
        result.align("right", max(RESULT_WIDTH, result.cell_len))
        line = Text(no_wrap=True, overflow="ellipsis")
        icon = ICONS[check.state]
        if check.state == DONE and self.worst() in (None, Severity.OK):
            icon = CLEAN
        line.append(f"{icon} ", style=self._icon_style(muted))
        line.append(f"{check.id:<{self.id_width}}  ", style="bold")
        room = max(0, self.size.width - line.cell_len - result.cell_len - 2)
        title = Text(check.title)
        if check.state == SKIPPED and check.reason:
            title.append(f" — {check.reason}", style=muted)
        title.truncate(room, overflow="ellipsis", pad=True)
        return line + title + Text("  ") + result

    def _icon_style(self, muted: str) -> Style | str:
        if self.check.state == ERROR:
            return severity_style(self.app, Severity.CRITICAL)
        if self.check.state == DONE:
            return severity_style(self.app, self.worst() or Severity.OK)
        return muted

    def worst(self) -> Severity | None:
        counts = self.check.counts()
        return next((s for s in WORST_FIRST if counts.get(s)), None)

    def _result(self, muted: str) -> Text:
        check = self.check
        if check.state in WAITING_WORDS:
            return Text(WAITING_WORDS[check.state],
                        style=muted if check.state != RUNNING else theme_colour(self.app, "accent"))
        if check.state == ERROR:
            return Text("check failed", style=severity_style(self.app, Severity.CRITICAL))
        counts = check.counts()
        problems = [(s, counts[s]) for s in WORST_FIRST if s is not Severity.OK and counts.get(s)]
        if not problems:
            return Text("ok" if counts else "nothing found",
                        style=severity_style(self.app, Severity.OK) if counts else muted)
        out = Text()
        for index, (severity, count) in enumerate(problems):
            if index:
                out.append(", ")
            out.append(f"{count} {severity.value}", style=severity_style(self.app, severity))
        return out


class ChecksPanel(VerticalScroll, can_focus=False):
    """Area headings with their checks; rows are updated in place as progress arrives."""

    BINDINGS = [
        Binding("down,j", "app.focus_next", "Next", show=False),
        Binding("up,k", "app.focus_previous", "Previous", show=False),
    ]

    def show(self, checks: tuple[CheckState, ...]) -> None:
        rows = {row.check.id: row for row in self.query(CheckRow)}
        if set(rows) != {c.id for c in checks}:
            self._rebuild(checks)
            return
        for check in checks:
            if rows[check.id].check != check:
                rows[check.id].show(check)

    def focus_worst(self) -> None:
        """Put the cursor where the eye should go first, the check with the worst findings,
        unless the user has already put it somewhere."""
        rows = list(self.query(CheckRow))
        ranked = [r for r in rows if r.worst() not in (None, Severity.OK)]
        if rows and self.screen.focused is None:
            self.screen.set_focus(max(ranked, key=lambda r: r.worst().rank) if ranked else rows[0])

    def _rebuild(self, checks: tuple[CheckState, ...]) -> None:
        self.remove_children()
        id_width = max((len(c.id) for c in checks), default=0)
        widgets: list[Widget] = []
        for area, members in areas_in_order(checks).items():
            count = f"  {len(members)} check{'s' if len(members) > 1 else ''}"
            widgets.append(Label(Text.assemble((area_title(area), "bold"), count),
                                 classes="area-title"))
            widgets.extend(CheckRow(c, id_width) for c in members)
        if not checks:
            widgets.append(Label("No checks are installed.", classes="muted"))
        self.mount_all(widgets)
