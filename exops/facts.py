"""Typed facts: what the sources collected, in the shape the checks need.

Facts are plain frozen dataclasses that round-trip through JSON (`to_data` / `from_data`), so a
check runs the same on a live collection and on a bundle. Recipients are summarised by
legacyExchangeDN prefix while they stream in, so memory stays flat however large the directory.
"""
from __future__ import annotations

import bisect
from collections import Counter
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from exops.dn import admin_group_prefix, fold

EXAMPLES_PER_KIND = 5


# ---------------------------------------------------------------- directory

@dataclass(frozen=True)
class Organization:
    dn: str
    name: str
    legacy_dn: str | None = None


@dataclass(frozen=True)
class AdminGroup:
    """An msExchAdminGroup: the object a free/busy site folder hangs off."""

    dn: str
    name: str
    legacy_dn: str | None = None
    site_folder_server: str | None = None


@dataclass(frozen=True)
class ExchangeServer:
    dn: str
    name: str


@dataclass(frozen=True)
class PublicFolderDatabase:
    """An msExchPublicMDB, a valid target for siteFolderServer."""

    dn: str
    name: str


@dataclass(frozen=True)
class Container:
    """A configuration container whose emptiness matters (Servers, Folder Hierarchies)."""

    dn: str
    object_class: str
    children: int


@dataclass(frozen=True)
class RecipientExample:
    dn: str
    legacy_dn: str
    kind: str


@dataclass(frozen=True)
class PrefixGroup:
    """All recipients whose legacyExchangeDN names one `/o=.../ou=...` (compared case-insensitively)."""

    prefix: str
    counts: dict[str, int]
    examples: tuple[RecipientExample, ...] = ()

    @property
    def publishers(self) -> int:
        """Only mailboxes publish free/busy; contacts and groups merely carry the value."""
        return self.counts.get("mailbox", 0)


@dataclass(frozen=True)
class DirectoryFacts:
    source: str
    base_dn: str = ""
    organizations: tuple[Organization, ...] = ()
    admin_groups: tuple[AdminGroup, ...] = ()
    servers: tuple[ExchangeServer, ...] = ()
    public_folder_databases: tuple[PublicFolderDatabase, ...] = ()
    public_folder_trees: tuple[str, ...] = ()
    containers: tuple[Container, ...] = ()
    recipient_prefixes: tuple[PrefixGroup, ...] = ()
    recipients_scanned: int = 0


class RecipientSummary:
    """Folds a stream of recipients into PrefixGroups without keeping the recipients."""

    def __init__(self, examples_per_kind: int = EXAMPLES_PER_KIND):
        self._groups: dict[str, tuple[Counter[str], dict[str, int], list[RecipientExample]]] = {}
        self._examples_per_kind = examples_per_kind
        self.scanned = 0

    def add(self, dn: str, legacy_dn: str | None, kind: str) -> None:
        self.scanned += 1
        prefix = admin_group_prefix(legacy_dn) if legacy_dn else None
        if prefix is None:
            return
        spellings, counts, examples = self._groups.setdefault(fold(prefix), (Counter(), {}, []))
        spellings[prefix] += 1
        counts[kind] = counts.get(kind, 0) + 1
        # Keep the first examples by DN, not by arrival, so the facts do not depend on the order
        # the directory or the export listed the recipients.
        of_kind = [e for e in examples if e.kind == kind]
        if len(of_kind) < self._examples_per_kind or fold(dn) < fold(of_kind[-1].dn):
            if len(of_kind) == self._examples_per_kind:
                examples.remove(of_kind[-1])
            bisect.insort(examples, RecipientExample(dn=dn, legacy_dn=legacy_dn, kind=kind),
                          key=lambda e: (e.kind, fold(e.dn)))

    def groups(self) -> tuple[PrefixGroup, ...]:
        """One group per prefix, spelled as most of its recipients spell it."""
        return tuple(PrefixGroup(prefix=min(s, key=lambda p: (-s[p], p)), counts=dict(c), examples=tuple(e))
                     for _, (s, c, e) in sorted(self._groups.items()))


def recipient_kind(object_classes: list[str] | tuple[str, ...], has_mailbox: bool) -> str:
    """Classify a directory object the way free/busy cares about it."""
    classes = {c.lower() for c in object_classes}
    if "group" in classes:
        return "group"
    if "contact" in classes:
        return "contact"
    if "user" in classes and "computer" not in classes:
        return "mailbox" if has_mailbox else "mail_user"
    return "other"


# ---------------------------------------------------------------- events

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


# ---------------------------------------------------------------- the whole collection

@dataclass(frozen=True)
class Facts:
    """Everything one collection holds; a check asks for the parts it needs by type."""

    directory: DirectoryFacts | None = None
    events: EventFacts | None = None

    def get(self, kind: type) -> Any:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, kind):
                return value
        return None


# ---------------------------------------------------------------- JSON round trip

def to_data(value: Any) -> Any:
    """Facts to JSON-ready data (datetimes as ISO 8601, tuples as lists)."""
    if dataclasses.is_dataclass(value):
        return {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [to_data(v) for v in value]
    if isinstance(value, dict):
        return {k: to_data(v) for k, v in value.items()}
    return value


def from_data(kind: Any, data: Any) -> Any:
    """Rebuild facts of type `kind` from `to_data` output; raises ValueError naming the field."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        if data is None:
            return None
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
        return from_data(kind, data)
    if dataclasses.is_dataclass(kind):
        if not isinstance(data, dict):
            raise ValueError(f"expected an object for {kind.__name__}, got {type(data).__name__}")
        hints = typing.get_type_hints(kind)
        values = {}
        for f in dataclasses.fields(kind):
            if f.name in data:
                try:
                    values[f.name] = from_data(hints[f.name], data[f.name])
                except (ValueError, TypeError, KeyError) as exc:
                    raise ValueError(f"{kind.__name__}.{f.name}: {exc}") from None
        try:
            return kind(**values)
        except TypeError as exc:
            raise ValueError(f"{kind.__name__}: {exc}") from None
    if origin is tuple:
        item = typing.get_args(kind)[0]
        return tuple(from_data(item, v) for v in _expect(list, data))
    if origin is dict:
        _, item = typing.get_args(kind)
        return {str(k): from_data(item, v) for k, v in _expect(dict, data).items()}
    if kind is datetime:
        return datetime.fromisoformat(_expect(str, data))
    if kind in (int, str):
        return _expect(kind, data)
    return data


def _expect(kind: type, data: Any) -> Any:
    if not isinstance(data, kind) or (kind is int and isinstance(data, bool)):
        raise ValueError(f"expected {kind.__name__}, got {data!r:.60}")
    return data
