"""Read Exchange free/busy events out of an event log: .evtx files or `wevtutil qe /f:xml` exports.

A log is evidence, and damaged logs are common (dirty shutdowns, VSS copies, truncated exports),
so a scan never stops at the first bad record: whatever can be read is read, and whatever cannot
is counted in `LogScan.skipped` under a reason a person can act on. Only a file that is not a log
at all raises `EventLogError`.

Two EVTX backends give the same `LogScan`: pure Python (always there) and one built on the
Rust-based `evtx` package (when installed): two independent decoders behind one walk of the file.
The free/busy matching and grouping below is the one place that decides what a free/busy event
is, whatever the backend or file format.
"""
from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from exops.dn import fold, prefixes_named
from exops.facts.events import EventGroup, FreeBusyEvent, LogScan
from exops.errors import Cancelled, ExopsError

# 14031 FreeBusy Assistant (folder of an AG missing), 8207 MSExchangeFBPublish (publishing failed),
# 3047 MSExchangeIS Public Store (free/busy folder created). Provider names are unconfirmed
# (REFERENCE.md 1), so only the "MSExchange" prefix they all share is required.
FREE_BUSY_EVENT_IDS = frozenset({14031, 8207, 3047})
PROVIDER_PREFIX = "msexchange"
EXAMPLES_PER_GROUP = 3
BACKENDS = ("auto", "python", "rust")

_ERROR_CODE = re.compile(r"\b0x[0-9a-f]{8}\b", re.IGNORECASE)

Progress = Callable[[int, int], None]


class EventLogError(ExopsError):
    """The file is not a readable event log; the message names the file and what was expected."""


class ScanCancelled(Cancelled):
    """The caller's cancel event was set; no partial LogScan is returned, so none is mistaken
    for a complete one."""


def scan_log(path: str | Path, *, backend: str = "auto", cancel: threading.Event | None = None,
             progress: Progress | None = None) -> LogScan:
    """Count the records of one log and group its free/busy events.

    `backend` chooses the EVTX reader ("python", "rust", or "auto": Rust when importable); XML
    exports are always read with the standard library. `cancel` is checked between chunks (EVTX)
    or 64 KiB blocks (XML), `progress(done_bytes, total_bytes)` is called as often. Raises
    EventLogError for a file that is not a log, ScanCancelled once `cancel` is set.
    """
    from exops.sources import eventxml, evtx_python

    path = Path(path)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    kind = _sniff(path)
    tally = ScanTally(str(path))
    if kind == "xml":
        eventxml.scan(path, tally, cancel, progress)
        return tally.result("xml")
    chosen = _evtx_backend(backend)
    if chosen == "rust":
        from exops.sources import evtx_rust
        evtx_rust.scan(path, tally, cancel, progress)
    else:
        evtx_python.scan(path, tally, cancel, progress)
    return tally.result(chosen)


def rust_available() -> bool:
    try:
        import evtx  # noqa: F401
    except ImportError:
        return False
    return True


def _evtx_backend(requested: str) -> str:
    if requested == "python":
        return "python"
    if rust_available():
        return "rust"
    if requested == "rust":
        raise EventLogError("the rust backend needs the `evtx` package (pip install 'exops[fast]')")
    return "python"


def _sniff(path: Path) -> str:
    """'evtx' or 'xml' from the first bytes, whatever the file is called."""
    try:
        with path.open("rb") as stream:
            head = stream.read(64)
    except OSError as exc:
        raise EventLogError(f"{path}: unreadable ({exc.strerror or exc})") from None
    if not head:
        raise EventLogError(f"{path}: empty file; expected an .evtx log or a wevtutil XML export")
    if head.startswith(b"ElfFile\x00"):
        return "evtx"
    from exops.sources.eventxml import looks_like_xml
    if looks_like_xml(head):
        return "xml"
    raise EventLogError(f"{path}: not an event log; expected an .evtx file (ElfFile header) "
                        "or a wevtutil XML export (<Event> elements)")


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
        self._groups: dict[tuple[int, str, str], _Group] = {}

    def skip(self, reason: str, count: int = 1) -> None:
        self.skipped[reason] += count

    def note(self, text: str) -> None:
        self.notes.append(text)

    def add(self, *, event_id: int, provider: str, time: datetime, computer: str, record_id: int,
            data: tuple[str, ...], message: str) -> None:
        """One decoded record whose ID is in `event_ids`; kept if its provider is Exchange's."""
        if not provider.casefold().startswith(PROVIDER_PREFIX):
            return
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
        groups = tuple(self._groups[k].freeze() for k in sorted(self._groups))
        return LogScan(path=self.source, backend=backend, records_read=self.records_read,
                       skipped=dict(sorted(self.skipped.items())), groups=groups,
                       notes=tuple(self.notes))


class _Group:
    """The running totals of one EventGroup."""

    def __init__(self, first: FreeBusyEvent, dn: str):
        self.event_id, self.provider, self.computer, self.dn = (
            first.event_id, first.provider, first.computer, dn)
        self.count = 0
        self.first_seen = self.last_seen = first.time
        self.codes: dict[str, None] = {}
        self.per_day: Counter[str] = Counter()
        self.examples: list[FreeBusyEvent] = []

    def add(self, event: FreeBusyEvent, codes: list[str]) -> None:
        self.count += 1
        self.first_seen = min(self.first_seen, event.time)
        self.last_seen = max(self.last_seen, event.time)
        self.codes.update(dict.fromkeys(codes))
        self.per_day[event.time.strftime("%Y-%m-%d")] += 1
        if len(self.examples) < EXAMPLES_PER_GROUP:
            self.examples.append(event)

    def freeze(self) -> EventGroup:
        return EventGroup(event_id=self.event_id, provider=self.provider, dn=self.dn,
                          computer=self.computer, count=self.count, first_seen=self.first_seen,
                          last_seen=self.last_seen, error_codes=tuple(self.codes),
                          per_day=dict(sorted(self.per_day.items())),
                          examples=tuple(self.examples))
