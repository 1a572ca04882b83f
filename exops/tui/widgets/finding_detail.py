"""One finding in full: what is wrong, the proof, what to run about it, and where to read more.

Suggested fixes are shown as the commands to run; `x` on the findings screen plans and applies
one from here (screens/fix.py).
"""
from __future__ import annotations

from pathlib import Path

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from exops.model import Finding
from exops.terminal import printable, text
from exops.tui.widgets.evidence import Palette, evidence_renderables, summary_line
from exops.tui.widgets.severity import severity_style, theme_colour

REPO = Path(__file__).resolve().parents[3]
BLANK = Text("")


def docs_link(docs: str) -> Text:
    """The check's docs page; a link when it is a file of this checkout or a URL."""
    if docs.startswith(("http://", "https://")):
        return Text(docs, style=Style(link=docs, underline=True))
    page = REPO / docs.split("#", 1)[0]
    if page.is_file():
        anchor = f"#{docs.split('#', 1)[1]}" if "#" in docs else ""
        return Text(docs, style=Style(link=page.as_uri() + anchor, underline=True))
    return Text(docs)


class FindingDetail(VerticalScroll):
    """Scrollable, focusable (to scroll with the keys) and maximizable (enter on a finding)."""

    ALLOW_MAXIMIZE = True

    def compose(self):
        yield Static(id="detail-body")

    def show(self, finding: Finding | None, empty: str = "") -> None:
        body = self.query_one("#detail-body", Static)
        self.scroll_home(animate=False)
        if finding is None:
            body.update(Text(empty, style=theme_colour(self.app, "text-muted")))
            self.border_title = "Detail"
            return
        self.border_title = " · ".join(p for p in (finding.check_id, finding.title) if p)
        body.update(Group(*self.sections(finding)))

    def sections(self, finding: Finding) -> list[RenderableType]:
        palette = Palette(muted=theme_colour(self.app, "text-muted"),
                          accent=theme_colour(self.app, "accent"),
                          heading=theme_colour(self.app, "text-primary"))
        badge = severity_style(self.app, finding.severity) + Style(reverse=True, bold=True)
        out: list[RenderableType] = [
            Text.assemble((f" {finding.severity.value.upper()} ", badge), "  ",
                          (printable(finding.target), "bold")),
            BLANK, text(finding.summary)]
        if finding.detail:
            out += [BLANK, text(finding.detail)]   # the advice: read as plainly as the summary
        if finding.evidence:
            out += [BLANK, heading("Evidence", summary_line(finding.evidence), palette)]
            out += [Padding(part, (0, 0, 1, 2))
                    for part in evidence_renderables(finding.evidence, palette)]
        if finding.fixes:
            out += [BLANK, heading("Suggested fixes", "x plans and applies one · c copies the first", palette),
                    _fixes(finding, palette)]
        if finding.docs:
            out += [BLANK, Text.assemble(("Docs  ", f"bold {palette.heading}"),
                                         docs_link(finding.docs))]
        return out


def heading(title: str, note: str, palette: Palette) -> Text:
    return Text.assemble((title, f"bold {palette.heading}"),
                         (f"  {note}" if note else "", palette.muted))


def _fixes(finding: Finding, palette: Palette) -> RenderableType:
    table = Table.grid(padding=(0, 1))
    table.add_column(style=palette.muted, no_wrap=True)
    table.add_column(style="bold")
    for number, command in enumerate(finding.fixes, 1):
        table.add_row(f"{number}  $", text(command))  # Text: a command is not markup
    return Padding(table, (0, 0, 0, 2))
