"""What every event-log reader reports into: the tally of one scan (records read, records skipped
and why, the free/busy events grouped), and the errors a scan may raise.

A module of its own so that the readers (EVTX, XML) and `eventlog`, which chooses among them,
all import it and none imports another's chooser: no import cycle.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime

from exops.dn import fold, prefixes_named
from exops.errors import Cancelled, ExopsError
from exops.facts.events import EventGroup, FreeBusyEvent, LogScan

# 14031 FreeBusy Assistant (folder of an AG missing), 8207 MSExchangeFBPublish (publishing failed),
# 3047 MSExchangeIS Public Store (free/busy folder created). Provider names are unconfirmed
# (REFERENCE.md 1), so only the "MSExchange" prefix they all share is required.
FREE_BUSY_EVENT_IDS = frozenset({14031, 8207, 3047})
PROVIDER_PREFIX = "msexchange"
EXAMPLES_PER_GROUP = 3
NOTHING_READ = "nothing read"          # starts the note of a scan that read no record

_ERROR_CODE = re.compile(r"\b0x[0-9a-f]{8}\b", re.IGNORECASE)
_SURROGATE = re.compile("[\ud800-\udfff]")

Progress = Callable[[int, int], None]


class EventLogError(ExopsError):
    """The file is not a readable event log; the message names the file and what was expected."""


class ScanCancelled(Cancelled):
    """The caller's cancel event was set; no partial LogScan is returned, so none is mistaken
    for a complete one."""


class ScanTally:
    """What one scan has seen so far; the backends feed it, `result` freezes it into a LogScan.

    Backends compare each record's event ID with `event_ids` themselves (that test runs for every
    record, so it must stay a set lookup) and only decode and `add` the few that pass.
    """

    event_ids: Iterable[int] = FREE_BUSY_EVENT_IDS

    def __init__(self, source: str):
        self.source = source
        self.records_read = 0
        self.skipped: Counter[str] = Counter()
        self.notes: list[str] = []
        self.remarks: Counter[str] = Counter()
        self._groups: dict[tuple[int, str, str], _Group] = {}

    def skip(self, reason: str, count: int = 1) -> None:
        self.skipped[reason] += count

    def note(self, text: str) -> None:
        self.notes.append(text)

    def remark(self, text: str) -> None:
        """A note that may apply to many records: noted once, with how many, at the end."""
        self.remarks[text] += 1

    def add(self, *, event_id: int, provider: str, time: datetime, computer: str, record_id: int,
            data: tuple[str, ...], message: str) -> None:
        """One decoded record whose ID is in `event_ids`; kept if its provider is Exchange's.

        Every string is made encodable here, whatever reader decoded it: a lone surrogate (a
        damaged log can spell one) becomes U+FFFD instead of crashing a report writer later.
        """
        if not provider.casefold().startswith(PROVIDER_PREFIX):
            return
        provider, computer, message = map(valid_text, (provider, computer, message))
        data = tuple(map(valid_text, data))
        texts = (*data, message)
        dns = tuple(prefixes_named(texts))
        codes = [m.group(0).lower() for t in texts for m in _ERROR_CODE.finditer(t)]
        event = FreeBusyEvent(event_id=event_id, provider=provider, time=time, computer=computer,
                              record_id=record_id, dns=dns, error_code=codes[0] if codes else None,
                              message=message or " | ".join(data), source=self.source)
        for dn in dns or ("",):
            key = (event_id, fold(dn), fold(computer))
            self._groups.setdefault(key, _Group(event, dn)).add(event, codes)

    def result(self, backend: str) -> LogScan:
        """The scan so far; one that read no record says so in its notes, with why, so that no
        caller mistakes an empty scan for a log without free/busy events."""
        groups = tuple(self._groups[k].freeze() for k in sorted(self._groups))
        notes = [*self.notes, *(f"{count} {text}" for text, count in self.remarks.items())]
        if not self.records_read:
            damaged = sum(self.skipped.values())
            notes.append(f"{NOTHING_READ}: " + (f"all {damaged} records or chunks are damaged"
                                                if damaged else "the log holds no records"))
        return LogScan(path=self.source, backend=backend, records_read=self.records_read,
                       skipped=dict(sorted(self.skipped.items())), groups=groups,
                       notes=tuple(notes))


def valid_text(text: str) -> str:
    """`text` with any lone surrogate replaced by U+FFFD, so that it encodes to UTF-8."""
    return _SURROGATE.sub("\ufffd", text)


class _Group:
    """The running totals of one EventGroup."""

    def __init__(self, first: FreeBusyEvent, dn: str):
        self.event_id, self.provider, self.computer, self.dn = (
            first.event_id, first.provider, first.computer, dn)
        self.count = 0
        self.first_seen = self.last_seen = first.time
        self.codes: dict[str, None] = {}
        self.record_ids: dict[str, list[int]] = {}     # per day; its length is the day's count
        self.examples: list[FreeBusyEvent] = []

    def add(self, event: FreeBusyEvent, codes: list[str]) -> None:
        self.count += 1
        self.first_seen = min(self.first_seen, event.time)
        self.last_seen = max(self.last_seen, event.time)
        self.codes.update(dict.fromkeys(codes))
        self.record_ids.setdefault(event.time.strftime("%Y-%m-%d"), []).append(event.record_id)
        if len(self.examples) < EXAMPLES_PER_GROUP:
            self.examples.append(event)

    def freeze(self) -> EventGroup:
        return EventGroup(event_id=self.event_id, provider=self.provider, dn=self.dn,
                          computer=self.computer, count=self.count, first_seen=self.first_seen,
                          last_seen=self.last_seen, error_codes=tuple(self.codes),
                          per_day={day: len(ids) for day, ids in sorted(self.record_ids.items())},
                          examples=tuple(self.examples),
                          record_ids={day: tuple(ids) for day, ids in sorted(self.record_ids.items())})
