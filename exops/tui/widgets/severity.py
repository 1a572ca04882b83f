"""Severity colours and the counts tiles: the one place that decides how a severity looks.

Severities get their own CSS variables ($sev-critical ...), defined for dark and light themes
(`severity_variables`, installed by the app), because theme accents are not chosen to say
"broken" or "healthy". Rich renderables get the same colours through `theme_colour`.
"""
from __future__ import annotations

from rich.style import Style
from textual.app import App, ComposeResult
from textual.color import Color, ColorParseError
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Label

from exops.model import Severity

WORST_FIRST = (Severity.CRITICAL, Severity.UNKNOWN, Severity.WARNING, Severity.INFO, Severity.OK)
COLOURS = {  # (dark theme, light theme)
    Severity.CRITICAL: ("#ff5f5f", "#c00018"),
    Severity.WARNING: ("#ffb000", "#a05a00"),
    Severity.INFO: ("#5fafff", "#0058c0"),
    Severity.OK: ("#5fd787", "#00784a"),
    Severity.UNKNOWN: ("#d08cff", "#8000b0"),
}


def variable(severity: Severity) -> str:
    return f"sev-{severity.value}"


def severity_variables(dark: bool) -> dict[str, str]:
    return {variable(s): pair[0 if dark else 1] for s, pair in COLOURS.items()}


def theme_colour(app: App, name: str) -> str:
    """A theme variable as a colour rich understands; `auto N%` (muted text) is blended for real."""
    value = app.theme_variables.get(name, "")
    background = Color.parse(app.theme_variables.get("background", "#121212"))
    if value.startswith("auto"):
        alpha = float(value.split()[1].rstrip("%")) / 100 if " " in value else 1.0
        return (background + background.get_contrast_text(alpha)).hex
    try:
        return Color.parse(value).hex
    except ColorParseError:  # a theme with a value rich cannot use: fall back to plain text
        return background.get_contrast_text(0.87).hex


def severity_style(app: App, severity: Severity) -> Style:
    return Style(color=theme_colour(app, variable(severity)), bold=severity is Severity.CRITICAL)


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
            style = f"bold ${variable(severity)}" if count else "$text-muted"
            tile.update(Content.assemble((f"{'–' if count is None else count:>3} ", style),
                                         (severity.value, style)))
