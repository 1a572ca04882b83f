"""Event facts: what the event logs say about free/busy, grouped so memory stays flat.

Events are folded into per-DN, per-server groups with first/last seen and per-day counts while
they are read; every log scan keeps what it could not read and why.
"""
from __future__ import annotations

from dataclasses import dataclass, field
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
    """Several collections of log scans (bundle members, live servers) are one set of scans."""
    return EventFacts(scans=tuple(scan for value in values for scan in value.scans))


register_kind(FactKind("events", EventFacts, "event logs (.evtx or wevtutil XML exports)", merge=merge_events))
