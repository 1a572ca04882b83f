"""Event facts: what the event logs say about free/busy, grouped so memory stays flat.

Events are folded into per-DN, per-server groups with first/last seen and per-day counts while
they are read; every log scan keeps what it could not read and why.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from exops.facts.store import FactKind, register_kind


@dataclass(frozen=True)
class FreeBusyEvent:
    """One free/busy-relevant event record, reduced to what the checks and reports show."""

    event_id: int
    provider: str
    time: datetime
    computer: str
    record_id: int
    dns: tuple[str, ...] = ()
    error_code: str | None = None
    message: str = ""
    source: str = ""


@dataclass(frozen=True)
class EventGroup:
    """Events of one ID naming one DN on one server: counts, first/last seen, a few examples."""

    event_id: int
    provider: str
    dn: str
    computer: str
    count: int
    first_seen: datetime
    last_seen: datetime
    error_codes: tuple[str, ...] = ()
    per_day: dict[str, int] = field(default_factory=dict)
    examples: tuple[FreeBusyEvent, ...] = ()


@dataclass(frozen=True)
class LogScan:
    """What reading one log gave: nothing is lost silently, skipped records carry a reason."""

    path: str
    backend: str
    records_read: int
    skipped: dict[str, int] = field(default_factory=dict)
    groups: tuple[EventGroup, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def records_skipped(self) -> int:
        return sum(self.skipped.values())


@dataclass(frozen=True)
class EventFacts:
    scans: tuple[LogScan, ...] = ()

    @property
    def groups(self) -> tuple[EventGroup, ...]:
        return tuple(g for s in self.scans for g in s.groups)


def merge_events(values: list[EventFacts]) -> EventFacts:
    """Several collections of log scans (bundle members, live servers) are one set of scans; a log
    given twice (copied under another name, or listed twice) counts once, with a note saying so."""
    kept: list[LogScan] = []
    for scan in (scan for value in values for scan in value.scans):
        same = next((i for i, k in enumerate(kept) if _content(k) == _content(scan)), None)
        if same is None:
            kept.append(scan)
        else:
            kept[same] = replace(kept[same], notes=kept[same].notes + (
                f"{scan.path} holds the same records as {kept[same].path}: counted once",))
    return EventFacts(scans=tuple(kept))


def _content(scan: LogScan) -> LogScan:
    """What a scan read, whatever the file was called (records compare by computer, record id and
    time through the groups' examples, counts and first/last seen)."""
    return replace(scan, path="", notes=(), groups=tuple(
        replace(g, examples=tuple(replace(e, source="") for e in g.examples)) for g in scan.groups))


register_kind(FactKind("events", EventFacts, "event logs (.evtx or wevtutil XML exports)", merge=merge_events))
