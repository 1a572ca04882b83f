"""Directory facts: the Exchange configuration objects and recipients free/busy depends on.

Recipients are summarised by legacyExchangeDN prefix while they stream in
(`RecipientSummary`), so memory stays flat however large the directory: the only per-recipient
cost is an 8-byte digest of each DN, which is how an entry listed twice is counted once.

Facts also say what they cannot answer (`DirectoryFacts.gap`): an `ldifde` export of the domain
partition holds no configuration objects, one filtered to `(legacyExchangeDN=*)` holds no
containers; checks that need those parts are then UNKNOWN with the export that would supply them.
"""
from __future__ import annotations

import bisect
import hashlib
import heapq
import re
from array import array
from collections import Counter
from dataclasses import dataclass, replace

from exops.dn import admin_group_prefix, fold
from exops.facts.store import FactKind, register_kind

EXAMPLES_PER_KIND = 5
SEEN_BUFFER = 4096
# What `ldifde -l` must list so an export holds everything the checks and the affected list use.
EXPORT_ATTRIBUTES = ("objectClass,legacyExchangeDN,siteFolderServer,serialNumber,msExchVersion,"
                     "msExchOwningPFTree,homeMDB,msExchHomeServerName,proxyAddresses,displayName,mail,cn")

# msExchVersion (Exchange 2007 and later) is an ExchangeObjectVersion in 64 bits, shown by the
# Exchange Management Shell as ExchangeVersion "0.10 (14.0.100.0)": the object's version (major
# << 50, minor << 42) and the build of the Exchange that wrote it (major << 34, minor << 28, build
# << 10, revision), a layout that decodes each value below to the form the shell shows. The
# values are Microsoft's (Exchange 2010's cross-forest move preparation sets msExchVersion
# 44220983382016) and listed together in e.g. LdapTools' ExchangeObjectVersion (github
# ldaptools/ldaptools). exops reads only the build's release (14.0 = Exchange 2010), not the
# service pack: every Exchange 2010 object carries 14.0.100.0, so serialNumber ("Version 14.3
# (Build 123.4)") still orders service packs. Exchange 2003 server objects carry no msExchVersion,
# only serialNumber "Version 6.5 (Build 7638.2: Service Pack 2)" (the Exchange Server Analyzer's
# key to serialNumber: 6.0 = Exchange 2000, 6.5 = 2003, 8.0 = 2007).
OBJECT_VERSIONS = {8: 4535486012416,      # Exchange 2007: 0.1 (8.0.535.0)
                   14: 44220983382016,    # Exchange 2010: 0.10 (14.0.100.0)
                   15: 88218628259840}    # Exchange 2013 and later: 0.20 (15.0.0.0)


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
    version: str = ""        # serialNumber: "Version 14.3 (Build 123.4)"; "Version 6.5 ..." is Exchange 2003
    object_version: int | None = None   # msExchVersion (Exchange 2007 and later), see OBJECT_VERSIONS

    @property
    def release(self) -> tuple[int, ...]:
        """(14, 3) from the serialNumber; () when it is not there to read."""
        match = re.search(r"(\d+)\.(\d+)", self.version or "")
        return (int(match[1]), int(match[2])) if match else ()

    @property
    def object_release(self) -> tuple[int, ...]:
        """(14, 0) from msExchVersion's build part; () without one (Exchange 2003, or not exported)."""
        if not self.object_version or self.object_version < 0:
            return ()
        return ((self.object_version >> 34) & 0x3F, (self.object_version >> 28) & 0x3F)

    @property
    def rank(self) -> tuple[int, ...]:
        """Newest first when sorted descending: the major release from msExchVersion when the
        server object carries one, else from serialNumber; then serialNumber's service pack."""
        major = self.object_release[:1] or self.release[:1]
        return (*major, *self.release[1:]) if major else ()

    def version_conflict(self) -> str:
        """What to say when msExchVersion and serialNumber name different releases; "" when they
        agree or one of them is missing."""
        if not self.object_release or not self.release or self.object_release[0] == self.release[0]:
            return ""
        return (f"msExchVersion says Exchange {_dotted(self.object_release)}, serialNumber says "
                f"{_dotted(self.release)}: ranked by msExchVersion")

    def describe_version(self) -> str:
        """The version as the choice shows it: serialNumber's words, or msExchVersion's release."""
        if self.version.strip():
            return self.version.removeprefix("Version ").strip()
        if self.object_release:
            return f"{_dotted(self.object_release)} (msExchVersion)"
        return "(version unknown)"


def _dotted(release: tuple[int, ...]) -> str:
    return ".".join(map(str, release))


def object_version(text: str | None) -> int | None:
    """msExchVersion as an integer; None when absent or not a number (it is never guessed)."""
    text = (text or "").strip()
    return int(text) if text.isdigit() and len(text) < 20 else None


@dataclass(frozen=True)
class PublicFolderDatabase:
    """An msExchPublicMDB, a valid target for siteFolderServer."""

    dn: str
    name: str
    owning_tree: str | None = None   # msExchOwningPFTree: the msExchPFTree it holds


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
    duplicates: int = 0              # entries listed again under a DN already read: counted once
    notes: tuple[str, ...] = ()

    @property
    def domain(self) -> str:
        """The domain's DN (`DC=litware,DC=com`), from the base DN or any DN the facts hold."""
        if self.base_dn:
            return self.base_dn
        for dn in (*(o.dn for o in self.organizations), *(a.dn for a in self.admin_groups),
                   *(c.dn for c in self.containers),
                   *(e.dn for g in self.recipient_prefixes for e in g.examples)):
            match = re.search(r"(?i)\bDC=.*$", dn)
            if match:
                return match[0]
        return "DC=<your domain>"

    def containers_of(self, object_class: str) -> tuple[Container, ...]:
        return tuple(c for c in self.containers if c.object_class == object_class)

    def gap(self, *parts: str) -> str | None:
        """Why these facts cannot answer a question about `parts`, with the export that would;
        None when they hold them. Parts: configuration, admin_groups, servers, recipients."""
        for part in parts:
            reason = _GAPS[part](self)
            if reason:
                return reason
        return None


def configuration_export(domain: str) -> str:
    return (f'ldifde -f exchange-config.ldf -d "CN=Microsoft Exchange,CN=Services,CN=Configuration,'
            f'{domain}" -l "{EXPORT_ATTRIBUTES}"')


def recipients_export(domain: str) -> str:
    return f'ldifde -f recipients.ldf -d "{domain}" -r "(legacyExchangeDN=*)" -l "{EXPORT_ATTRIBUTES}"'


def _no_configuration(d: DirectoryFacts) -> str | None:
    if d.organizations:
        return None
    return ("the directory facts hold no Exchange organization (CN=<Org>,CN=Microsoft Exchange,"
            "CN=Services,CN=Configuration): the configuration partition was not exported (an export "
            "of the domain partition does not descend into it) or could not be read; export it with: "
            + configuration_export(d.domain))


def _no_admin_groups(d: DirectoryFacts) -> str | None:
    if d.containers_of("msexchadmingroupcontainer"):
        return None
    return ("the directory facts hold no CN=Administrative Groups container, so which administrative "
            "groups exist cannot be told (an export filtered to (legacyExchangeDN=*) leaves the "
            "containers out); export the configuration without a filter: "
            + configuration_export(d.domain))


def _no_servers(d: DirectoryFacts) -> str | None:
    if d.containers_of("msexchserverscontainer") or d.public_folder_databases:
        return None
    return ("the directory facts hold no CN=Servers container and no public folder database, so "
            "siteFolderServer values cannot be verified; export the configuration without a filter: "
            + configuration_export(d.domain))


def _no_recipients(d: DirectoryFacts) -> str | None:
    if d.recipients_scanned:
        return None
    return ("the directory facts hold no recipient with a legacyExchangeDN (the domain partition was "
            "not exported, or the export was limited to the configuration); export it with: "
            + recipients_export(d.domain))


_GAPS = {"configuration": _no_configuration, "admin_groups": _no_admin_groups,
         "servers": _no_servers, "recipients": _no_recipients}


class SeenDNs:
    """The DNs already read, 8 bytes each (a BLAKE2b digest of the folded DN), so an entry an
    export lists twice is counted once without keeping the entries: recent digests in a small
    set, merged into one sorted array whenever the set fills."""

    def __init__(self, buffer: int = SEEN_BUFFER):
        self._sorted = array("Q")
        self._recent: set[int] = set()
        self._buffer = buffer

    def add(self, dn: str) -> bool:
        """True the first time a DN is added, False when it was seen before."""
        key = int.from_bytes(hashlib.blake2b(fold(dn).encode(), digest_size=8).digest(), "big")
        if key in self._recent:
            return False
        at = bisect.bisect_left(self._sorted, key)
        if at < len(self._sorted) and self._sorted[at] == key:
            return False
        self._recent.add(key)
        if len(self._recent) >= self._buffer:
            self._sorted = array("Q", heapq.merge(self._sorted, sorted(self._recent)))
            self._recent.clear()
        return True


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


def merge_directory(values: list[DirectoryFacts]) -> DirectoryFacts:
    """Several exports as one directory (the configuration and the domain partition are exported
    apart): objects are united by DN, prefix counts added. An export given twice counts once."""
    distinct: list[DirectoryFacts] = []
    notes: list[str] = []
    for value in values:
        if any(replace(value, source="") == replace(d, source="") for d in distinct):
            notes.append(f"{value.source} holds the same entries as another export given: counted once")
        else:
            distinct.append(value)
    if len(distinct) == 1:
        return replace(distinct[0], notes=distinct[0].notes + tuple(notes))
    groups: dict[str, list[PrefixGroup]] = {}
    for value in distinct:
        for group in value.recipient_prefixes:
            groups.setdefault(fold(group.prefix), []).append(group)

    def united(field: str) -> tuple:
        items = {fold(item.dn): item for value in distinct for item in getattr(value, field)}
        return tuple(sorted(items.values(), key=lambda item: fold(item.dn)))

    return DirectoryFacts(
        source=", ".join(v.source for v in distinct), base_dn=next((v.base_dn for v in distinct if v.base_dn), ""),
        organizations=united("organizations"), admin_groups=united("admin_groups"), servers=united("servers"),
        public_folder_databases=united("public_folder_databases"),
        public_folder_trees=tuple(sorted({fold(t): t for v in distinct for t in v.public_folder_trees}.values(),
                                         key=fold)),
        containers=united("containers"),
        recipient_prefixes=tuple(_merged_group(g) for _, g in sorted(groups.items())),
        recipients_scanned=sum(v.recipients_scanned for v in distinct),
        duplicates=sum(v.duplicates for v in distinct),
        notes=tuple(n for v in distinct for n in v.notes) + tuple(notes))


def _merged_group(groups: list[PrefixGroup]) -> PrefixGroup:
    counts: Counter[str] = Counter()
    for group in groups:
        counts.update(group.counts)
    examples = sorted({fold(e.dn): e for g in groups for e in g.examples}.values(),
                      key=lambda e: (e.kind, fold(e.dn)))
    kept = [e for i, e in enumerate(examples)
            if sum(x.kind == e.kind for x in examples[:i]) < EXAMPLES_PER_KIND]
    return PrefixGroup(prefix=groups[0].prefix, counts=dict(counts), examples=tuple(kept))


register_kind(FactKind("directory", DirectoryFacts, "directory facts (an ldifde export, or the live directory)",
                       merge=merge_directory))
