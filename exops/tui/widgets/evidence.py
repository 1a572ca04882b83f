"""Evidence laid out for reading: event excerpts as a table per event group, directory entries
with their attributes, command output as-is. Values are always rich `Text` made by
`exops.terminal.text`, never markup: a DN or an event message may hold square brackets, and
control characters that would reach the terminal are shown as escapes.

Event fields are read through `exops.reports.layout.event_row`, the one definition of an event
evidence's keys that every report format uses too. Kinds this module does not know show as
key/value pairs, so a new evidence kind is never hidden.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from exops.model import Evidence
from exops.reports.layout import event_row, shown
from exops.terminal import printable, text


@dataclass(frozen=True)
class Palette:
    """Theme colours resolved for rich renderables."""

    muted: str
    accent: str
    heading: str


def when(value: Any) -> str:
    """An event time as UTC `YYYY-MM-DD HH:MM:SS`; what cannot be parsed is shown as it is."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return "" if value is None else str(value)


def summary_line(evidence: tuple[Evidence, ...]) -> str:
    kinds: dict[str, int] = {}
    for ev in evidence:
        kinds[ev.kind] = kinds.get(ev.kind, 0) + 1
    names = {"event": ("event", "events"), "directory": ("directory entry", "directory entries"),
             "text": ("output", "outputs")}
    parts = []
    for kind, count in kinds.items():
        one, many = names.get(kind, (kind, kind))
        parts.append(f"{count} {one if count == 1 else many}")
    return " · ".join(parts)


def evidence_renderables(evidence: tuple[Evidence, ...], palette: Palette) -> Iterator[RenderableType]:
    """Runs of the same kind are laid out together, in the order the check gave them."""
    for kind, run in groupby(evidence, key=lambda ev: ev.kind):
        items = list(run)
        if kind == "event":
            yield from _events(items, palette)
        elif kind == "directory":
            yield from _directory(items, palette)
        elif kind == "text":
            yield from (_text(ev, palette) for ev in items)
        else:
            yield from (_fields(ev, palette) for ev in items)


def _events(items: list[Evidence], palette: Palette) -> Iterator[RenderableType]:
    def group_key(ev: Evidence) -> tuple:
        d = ev.data
        return (d.get("event_id"), d.get("provider"), d.get("computer"), d.get("count"),
                d.get("first_seen"), d.get("last_seen"))

    for (event_id, provider, computer, count, first, last), run in groupby(items, key=group_key):
        examples = list(run)
        caption = Text.assemble((printable(f"Event {event_id or '?'}"), "bold"),
                                printable(f" · {provider or 'unknown provider'}"),
                                printable(f" · {computer or 'unknown server'}"), style=palette.heading)
        if count:
            caption.append(f"  {count:,} logged, {when(first)} → {when(last)} UTC", style=palette.muted)
            if len(examples) < count:
                caption.append(f"; {len(examples)} shown", style=palette.muted)
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=True,
                      header_style=f"bold {palette.muted}")
        table.add_column("Time (UTC)", no_wrap=True)
        table.add_column("Record", justify="right", no_wrap=True, style=palette.muted)
        table.add_column("DN and message", ratio=1)
        for ev in examples:
            time, _, _, dn, excerpt = event_row(ev)
            body = text(shown(dn), "bold")
            if ev.data.get("error_code"):
                body.append(f"  error {ev.data['error_code']}", style=palette.accent)
            if shown(excerpt).strip():
                body.append("\n" + printable(shown(excerpt).strip()), style=palette.muted)
            table.add_row(Text(when(time)), text(shown(ev.data.get("record_id"))), body)
        yield Group(caption, table)


def _directory(items: list[Evidence], palette: Palette) -> Iterator[RenderableType]:
    """Each entry's DN, its attributes in a small table under it; DNs and legacyExchangeDNs are
    too long to share a line, so they never sit side by side."""
    kinds = sorted({shown(e.data.get("kind")) for e in items} - {""})
    recipients = [e for e in items if e.data.get("kind")] if kinds else items
    what = f"{len(recipients)} entr{'y' if len(recipients) == 1 else 'ies'}" + (
        f" ({', '.join(kinds)})" if kinds else "")
    if len(recipients) < len(items):
        what += f" · {len(items) - len(recipients)} searched"
    parts: list[RenderableType] = [Text.assemble(("Directory", "bold"), f" · {what}",
                                                 style=palette.heading)]
    for entry in items:
        dn = shown(entry.data.get("dn"))
        if entry.title and entry.title != dn and not entry.data.get("kind"):
            # a search or a summary: what it is, then where it was read
            parts.append(text(entry.title, "bold"))
            if dn:
                parts.append(text(dn, palette.muted))
        else:
            parts.append(text(dn or entry.title, "bold"))
        parts.append(Padding(_pairs((entry.data.get("attributes") or {}).items(), palette), (0, 0, 0, 2)))
    yield Group(*parts)


def _text(ev: Evidence, palette: Palette) -> RenderableType:
    body = text(shown(ev.data.get("text")).rstrip())
    return Panel(body, title=text(ev.title, "bold"), title_align="left",
                 border_style=palette.muted, box=box.ROUNDED)


def _fields(ev: Evidence, palette: Palette) -> RenderableType:
    return Group(text(ev.title, f"bold {palette.heading}"), _pairs(ev.data.items(), palette))


def _pairs(pairs: Iterable[tuple[str, Any]], palette: Palette) -> Table:
    table = Table.grid(padding=(0, 2), expand=True)
    table.add_column(style=palette.muted, no_wrap=True)
    table.add_column(ratio=1)
    for name, value in pairs:
        table.add_row(text(name), text("—" if value in (None, "") else shown(value)))
    return table
