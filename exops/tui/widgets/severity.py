"""Severity colours and the counts tiles: the one place that decides how a severity looks.

Colours come from the theme (critical = $error, warning = $warning, ...) so a finding reads the
same in every widget and follows the user's theme; rich renderables get them resolved to styles.
"""
from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Label

from exops.model import Severity

WORST_FIRST = (Severity.CRITICAL, Severity.UNKNOWN, Severity.WARNING, Severity.INFO, Severity.OK)
THEME_VARIABLE = {Severity.CRITICAL: "error", Severity.UNKNOWN: "secondary",
                  Severity.WARNING: "warning", Severity.INFO: "primary", Severity.OK: "success"}
FALLBACK = {"error": "#e05252", "secondary": "#a08cd8", "warning": "#f0b030",
            "primary": "#4a9eda", "success": "#50b060", "text-muted": "#888888"}


def theme_colour(app: App, variable: str) -> str:
    return app.theme_variables.get(variable) or FALLBACK.get(variable, "default")


def severity_style(app: App, severity: Severity) -> Style:
    return Style(color=theme_colour(app, THEME_VARIABLE[severity]),
                 bold=severity is Severity.CRITICAL)


def severity_text(app: App, severity: Severity) -> Text:
    """The severity's name in its colour, for tables."""
    return Text(severity.value, style=severity_style(app, severity))


def severity_badge(severity: Severity) -> Content:
    """` CRITICAL ` on the severity's colour, for headings."""
    variable = THEME_VARIABLE[severity]
    return Content.styled(f" {severity.value.upper()} ", f"bold $text on ${variable}")


class SeverityTiles(Widget):
    """Findings per severity, worst first; zero counts fade so the eye lands on what matters.

    One label per severity, so the stylesheet can stack them (wide) or line them up (narrow).
    """

    def compose(self) -> ComposeResult:
        for severity in WORST_FIRST:
            yield Label(id=f"tile-{severity.value}", classes="severity-tile")

    def show(self, counts: dict[str, int] | None) -> None:
        for severity in WORST_FIRST:
            count = None if counts is None else counts.get(severity.value, 0)
            tile = self.query_one(f"#tile-{severity.value}", Label)
            tile.display = severity is not Severity.UNKNOWN or bool(count)
            style = f"bold ${THEME_VARIABLE[severity]}" if count else "$text-muted"
            tile.update(Content.assemble((f"{'–' if count is None else count:>3} ", style),
                                         (severity.value, style)))
