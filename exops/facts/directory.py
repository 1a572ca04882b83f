"""Directory facts: the Exchange configuration objects and recipients free/busy depends on.

Recipients are summarised by legacyExchangeDN prefix while they stream in
(`RecipientSummary`), so memory stays flat however large the directory.
"""
from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass

from exops.dn import admin_group_prefix, fold
from exops.facts.store import FactKind, register_kind

EXAMPLES_PER_KIND = 5


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


register_kind(FactKind("directory", DirectoryFacts, "directory facts (an ldifde export, or the live directory)"))
