"""Event facts: what the event logs say about free/busy, grouped so memory stays flat.

Events are folded into per-DN, per-server groups with first/last seen and per-day counts while
they are read; every log scan keeps what it could not read and why.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from exops.dn import fold
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
    # per day, the record IDs of its events (0: the log gave none), so that an event found in
    # two logs that overlap is counted once (`merge_events`)
    record_ids: dict[str, tuple[int, ...]] = field(default_factory=dict)


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
    """Several collections of log scans (bundle members, live servers) are one set of scans.

    A log given twice (copied under another name, or listed twice) counts once, and so does an
    event found in two logs that overlap (exported on Monday and again on Friday): same ID, DN,
    server and record ID. Notes say so."""
    kept: list[LogScan] = []
    for scan in (scan for value in values for scan in value.scans):
        same = next((i for i, k in enumerate(kept) if _content(k) == _content(scan)), None)
        if same is None:
            kept.append(scan)
        else:
            kept[same] = replace(kept[same], notes=kept[same].notes + (
                f"{scan.path} holds the same records as {kept[same].path}: counted once",))
    seen: dict[tuple[int, str, str], set[int]] = {}
    return EventFacts(scans=tuple(_without_repeats(scan, seen) for scan in kept))


def _without_repeats(scan: LogScan, seen: dict[tuple[int, str, str], set[int]]) -> LogScan:
    """`scan` without the events an earlier scan had (`seen`, which it then adds to). First and
    last seen stay: a repeated event is the same event, at the same time, in the other log."""
    groups, repeated = [], 0
    for group in scan.groups:
        known = seen.setdefault((group.event_id, fold(group.dn), fold(group.computer)), set())
        fresh = {day: tuple(i for i in ids if i not in known)
                 for day, ids in group.record_ids.items()}
        known.update(i for ids in group.record_ids.values() for i in ids if i)
        twice = sum(map(len, group.record_ids.values())) - sum(map(len, fresh.values()))
        repeated += twice
        if not twice:
            groups.append(group)
        elif twice < group.count:
            remaining = {day: ids for day, ids in fresh.items() if ids}
            kept = {i for ids in remaining.values() for i in ids}
            groups.append(replace(
                group, count=group.count - twice, record_ids=remaining,
                per_day={day: len(ids) for day, ids in remaining.items()},
                examples=tuple(e for e in group.examples if e.record_id in kept)))
    if not repeated:
        return scan
    events = "free/busy event" if repeated == 1 else "free/busy events"
    return replace(scan, groups=tuple(groups), notes=scan.notes + (
        f"{repeated} {events} also in another log given (same ID, DN, server and record ID): "
        "counted once",))


def _content(scan: LogScan) -> LogScan:
    """What a scan read, whatever the file was called (records compare by computer, record id and
    time through the groups' examples, counts and first/last seen)."""
    return replace(scan, path="", notes=(), groups=tuple(
        replace(g, examples=tuple(replace(e, source="") for e in g.examples)) for g in scan.groups))


register_kind(FactKind("events", EventFacts, "event logs (.evtx or wevtutil XML exports)", merge=merge_events))
