"""Per-day bar charts of free/busy events, one per event ID and DN, on a shared day axis.

A shared axis is the point: it shows at a glance whether 3047 (folder created) came after the
last 14031 for the same DN. Each chart has its own vertical scale (its peak is printed), since a
busy DN would otherwise flatten a quiet one to nothing.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from rich.text import Text
from textual.widget import Widget

from exops.dn import fold
from exops.facts.events import EventFacts
from exops.tui.widgets.severity import theme_colour

EVENT_MEANING = {14031: ("publish failed", "sev-critical"), 8207: ("publish error", "sev-warning"),
                 3047: ("folder created", "sev-ok")}
ORDER = (14031, 8207, 3047)
BLOCKS = " ▁▂▃▄▅▆▇█"
BAR_ROWS = 3
GUTTER = 5
MAX_COLUMN = 10  # a day's bar and its gap, at most


@dataclass
class Series:
    """All events of one ID naming one DN (compared case-insensitively), across servers."""

    event_id: int
    dn: str
    provider: str
    per_day: Counter = field(default_factory=Counter)
    per_server: Counter = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.per_server.values())


def series_from(events: EventFacts | None) -> list[Series]:
    merged: dict[tuple[int, str], Series] = {}
    for group in events.groups if events else ():
        key = (group.event_id, fold(group.dn))
        series = merged.setdefault(key, Series(group.event_id, group.dn, group.provider))
        series.per_day.update(group.per_day)
        series.per_server[group.computer] += group.count
    rank = {event_id: i for i, event_id in enumerate(ORDER)}
    return sorted(merged.values(), key=lambda s: (rank.get(s.event_id, len(ORDER)), -s.total, fold(s.dn)))


def day_range(series: list[Series]) -> list[date]:
    days = [date.fromisoformat(d) for s in series for d in s.per_day]
    if not days:
        return []
    first, last = min(days), max(days)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def buckets(days: list[date], width: int) -> tuple[list[list[date]], int]:
    """Days grouped so they fit `width` columns, and the columns each bucket gets (bar + gap)."""
    if not days or width <= 0:
        return [], 1
    per_bucket = math.ceil(len(days) / width)
    grouped = [days[i:i + per_bucket] for i in range(0, len(days), per_bucket)]
    return grouped, max(1, min(MAX_COLUMN, width // len(grouped)))


def bar_rows(values: list[int], rows: int) -> list[str]:
    """Eighth-block bars, top row first; any non-zero value shows at least a sliver."""
    peak = max(values, default=0) or 1
    levels = [0 if v <= 0 else max(1, round(v / peak * rows * 8)) for v in values]
    return ["".join(BLOCKS[min(8, max(0, level - (rows - 1 - r) * 8))] for level in levels)
            for r in range(rows)]


class EventChart(Widget):
    """Title line, bars, then a date axis: `2 + BAR_ROWS` lines, drawn to the width it is given."""

    def __init__(self, series: Series, days: list[date]) -> None:
        super().__init__(classes="event-chart")
        self.series = series
        self.days = days

    def render(self) -> Text:
        s, muted = self.series, theme_colour(self.app, "text-muted")
        meaning, variable = EVENT_MEANING.get(s.event_id, ("", "sev-info"))
        colour = theme_colour(self.app, variable)
        width = self.size.width
        groups, column = buckets(self.days, width - GUTTER)
        values = [sum(s.per_day.get(d.isoformat(), 0) for d in group) for group in groups]
        per = "day" if all(len(g) == 1 for g in groups) else f"{len(groups[0])} days" if groups else "day"
        lines = [self._title(colour, muted, meaning)]
        bar_width = column - 1 if column > 2 else column
        for r, row in enumerate(bar_rows(values, BAR_ROWS)):
            label = f"{max(values, default=0):>3} " if r == 0 else "    "
            line = Text(label + "▕", style=muted, no_wrap=True)
            for cell in row:
                line.append(cell * bar_width, style=colour)
                line.append(" " * (column - bar_width))
            lines.append(line)
        lines.append(self._axis(groups, column, muted, per))
        for line in lines:  # cut here: the widget would wrap a long line onto the next one
            line.truncate(width, overflow="ellipsis")
        return Text("\n").join(lines)

    def _title(self, colour: str, muted: str, meaning: str) -> Text:
        s = self.series
        servers = " · ".join(f"{name} {count:,}" for name, count in sorted(s.per_server.items()))
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append(f"{s.event_id}", style=f"bold {colour}")
        title.append(f" {meaning}  " if meaning else "  ", style=colour)
        title.append(s.dn or "(no DN in the event)", style="bold")
        title.append(f"  {s.total:,} events: {servers}", style=muted)
        return title

    def _axis(self, groups: list[list[date]], column: int, muted: str, per: str) -> Text:
        """MM-DD under the first bucket, then wherever the previous label leaves room."""
        axis = [" "] * (GUTTER + column * len(groups))
        free_from = 0
        for index, group in enumerate(groups):
            label, at = group[0].strftime("%m-%d"), GUTTER + index * column
            if at >= free_from and at + len(label) <= len(axis) + 2:
                axis[at:at + len(label)] = label
                free_from = at + len(label) + 1
        note = "" if per == "day" else f"  (one bar = {per})"
        return Text("".join(axis).rstrip() + note, style=muted, no_wrap=True, overflow="crop")
