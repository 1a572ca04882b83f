"""Every recipient whose legacyExchangeDN names a missing administrative group, streamed.

The facts keep per-prefix counts and a few examples, so memory stays flat; the complete list a
change board asks for is read again, one entry at a time, from where the recipients came from:
the LDIF exports given, the LDIF members of a bundle, or a paged search of the live directory.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from exops.checks.freebusy import orphaned
from exops.dn import admin_group_prefix, fold
from exops.errors import ExopsError
from exops.facts.directory import DirectoryFacts, SeenDNs
from exops.facts.store import Facts
from exops.sources.entries import Recipient, recipient_of
from exops.sources.ldif import read_ldif

Entries = Callable[[], Iterable[tuple[str, dict]]]


class AffectedRecipients:
    """Iterable again and again; each pass re-reads the evidence and yields each recipient once."""

    def __init__(self, prefixes: Iterable[str], total: int, entries: Entries, origin: str):
        self.prefixes = {fold(p): p for p in prefixes}
        self.total = total          # as the facts counted them: what every pass should yield
        self.origin = origin
        self._entries = entries

    def __iter__(self) -> Iterator[Recipient]:
        seen = SeenDNs()
        for dn, attrs in self._entries():
            recipient = recipient_of(dn, attrs)
            if recipient is None:
                continue
            prefix = admin_group_prefix(recipient.legacy_dn)
            if prefix and fold(prefix) in self.prefixes and seen.add(dn):
                yield recipient


def ldif_entries(paths: Iterable[str | Path]) -> Entries:
    paths = [Path(p) for p in paths]
    return lambda: (entry for path in paths for entry in read_ldif(path))


def bundle_entries(bundle: str | Path) -> Entries | None:
    """The entries of a bundle's ldifde exports; None when it holds none (a bundle collected live
    keeps counts, not recipients: list them against the directory with --config)."""
    from exops.sources.bundle import raw_evidence

    def exports(files: list[Path]) -> list[Path]:
        return [f for f in files if f.suffix.lower() in (".ldf", ".ldif")]

    with raw_evidence(bundle, "directory") as files:
        if not exports(files):
            return None

    def entries() -> Iterator[tuple[str, dict]]:
        with raw_evidence(bundle, "directory") as files:
            for path in exports(files):
                yield from read_ldif(path)
    return entries


def directory_entries(source) -> Entries:
    """A paged search of every recipient with a legacyExchangeDN (one pass, any number of prefixes)."""
    from exops.sources.directory import RECIPIENT_FILTER
    from exops.sources.entries import ATTRIBUTES
    return lambda: (tuple(e) for e in source.search(source.base_dn, RECIPIENT_FILTER, ATTRIBUTES,
                                                    phase="affected recipients"))


def affected_recipients(facts: Facts, entries: Entries | None, origin: str) -> AffectedRecipients | None:
    """The recipients under every orphaned prefix, or None when the directory facts cannot tell
    or the evidence holds no recipients to list."""
    directory = facts.get(DirectoryFacts)
    if entries is None or directory is None or directory.gap("configuration", "admin_groups", "recipients"):
        return None
    groups = orphaned(directory)
    return AffectedRecipients((g.prefix for g in groups), sum(sum(g.counts.values()) for g in groups),
                              entries, origin)



class EvidenceRecipients:
    """Recipients read from evidence (a bundle's LDIF) for the planners that search the live
    directory: the same two questions, answered by streaming the export again. Plans made this
    way are previews; applying one goes through the live directory, which plans it anew."""

    def __init__(self, entries: Entries, name: str):
        self.name = name
        self._entries = entries

    def recipients_with_prefix(self, prefix: str, attributes=(), *, narrow: str = "") -> Iterator:
        from exops.sources.directory import Entry
        if narrow:
            raise ExopsError(f"{self.name}: --users filters are evaluated by the directory; "
                             "plan without --users from evidence, or against the live directory")
        under = fold(prefix.strip().rstrip("/") + "/")
        seen = SeenDNs()
        for dn, attrs in self._entries():
            recipient = recipient_of(dn, attrs)
            if recipient and fold(recipient.legacy_dn).startswith(under) and seen.add(dn):
                yield Entry(dn, attrs)

    def legacy_dns_in_use(self, values: Iterable[str]) -> dict[str, str]:
        """{folded value: DN of the object that has it} for values some object already carries,
        as its legacyExchangeDN or as an X500 proxy address."""
        wanted = {fold(v) for v in values}
        found: dict[str, str] = {}
        for dn, attrs in self._entries():
            for value in [*attrs.get("legacyexchangedn", ()),
                          *(p[5:] for p in attrs.get("proxyaddresses", ()) if p[:5].upper() == "X500:")]:
                if fold(value) in wanted:
                    found.setdefault(fold(value), dn)
        return found
