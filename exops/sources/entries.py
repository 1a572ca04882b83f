"""Directory entries to DirectoryFacts, whoever read them (live LDAP, an LDIF export).

Entries stream through `DirectoryFactsBuilder.add` one at a time: configuration objects are kept
(there are few), recipients are folded into per-prefix counts (there may be millions).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from exops.dn import fold, parent_dn, rdn_value
from exops.facts.directory import (EXPORT_ATTRIBUTES, AdminGroup, Container, DirectoryFacts,
                                   ExchangeServer, Organization, PublicFolderDatabase, RecipientSummary,
                                   SeenDNs, object_version, recipient_kind)

# What a collector must ask for: what docs/guide.md's ldifde recipes export, plus a few names.
ATTRIBUTES = (*EXPORT_ATTRIBUTES.split(","), "mailNickname", "name")
# What `DirectoryFactsBuilder.add` reads of a recipient: all a recipient scan needs to ask for
# (less for the server to check and send, less for exops to decode).
RECIPIENT_ATTRIBUTES = ("objectClass", "legacyExchangeDN", "homeMDB", "msExchHomeServerName")
RECIPIENT_CLASSES = ("user", "contact", "group")
CONTAINER_CLASSES = ("msexchserverscontainer", "msexchpublicfoldertreecontainer", "msexchadmingroupcontainer")
EXCHANGE_CLASSES = frozenset(("msexchorganizationcontainer", "msexchadmingroup", "msexchexchangeserver",
                              "msexchpublicmdb", "msexchpftree", *CONTAINER_CLASSES))

Attributes = Mapping[str, Sequence[str]]


def first(attrs: Attributes, name: str) -> str | None:
    values = attrs.get(name.lower())
    return values[0] if values else None


@dataclass(frozen=True)
class Recipient:
    """One recipient as the affected-recipients list shows it."""

    dn: str
    display_name: str
    mail: str
    legacy_dn: str
    home: str          # homeMDB, else msExchHomeServerName
    kind: str

    FIELDS = ("dn", "display_name", "mail", "legacy_dn", "home", "kind")


def recipient_of(dn: str, attrs: Attributes) -> Recipient | None:
    """The recipient an entry is, or None for configuration objects and entries without a
    legacyExchangeDN."""
    classes = sorted(c.lower() for c in attrs.get("objectclass", ()))
    legacy_dn = first(attrs, "legacyexchangedn")
    if not legacy_dn or not set(classes) & set(RECIPIENT_CLASSES):
        return None
    home = first(attrs, "homemdb") or first(attrs, "msexchhomeservername") or ""
    return Recipient(dn=dn, display_name=first(attrs, "displayname") or "", mail=first(attrs, "mail") or "",
                     legacy_dn=legacy_dn, home=home, kind=recipient_kind(classes, bool(home)))


class DirectoryFactsBuilder:
    """Classifies entries by objectClass; call `facts()` once every entry has been added."""

    def __init__(self, source: str, base_dn: str = ""):
        self.source, self.base_dn = source, base_dn
        self.recipients = RecipientSummary()
        self._orgs: list[Organization] = []
        self._ags: list[AdminGroup] = []
        self._servers: list[ExchangeServer] = []
        self._pf_dbs: list[PublicFolderDatabase] = []
        self._pf_trees: list[str] = []
        self._containers: dict[str, str] = {}
        self._children: Counter[str] = Counter()
        self._seen = SeenDNs()
        self.duplicates = 0

    def add(self, dn: str, attrs: Attributes) -> None:
        """Add one entry; attribute names must be lower-case. An entry whose DN was already added
        (an export listed twice, or concatenated) is counted once."""
        if not self._seen.add(dn):
            self.duplicates += 1
            return
        classes = {c.lower() for c in attrs.get("objectclass", ())}
        self._children[fold(parent_dn(dn))] += 1
        if not classes & EXCHANGE_CLASSES:     # a recipient, or nothing exops counts
            recipient = recipient_of(dn, attrs)
            if recipient:
                self.recipients.add(dn, recipient.legacy_dn, recipient.kind)
            return
        name = first(attrs, "cn") or first(attrs, "name") or rdn_value(dn)
        legacy_dn = first(attrs, "legacyexchangedn")
        if "msexchorganizationcontainer" in classes:
            self._orgs.append(Organization(dn=dn, name=name, legacy_dn=legacy_dn))
        elif "msexchadmingroup" in classes:
            self._ags.append(AdminGroup(dn=dn, name=name, legacy_dn=legacy_dn,
                                        site_folder_server=first(attrs, "sitefolderserver")))
        elif "msexchexchangeserver" in classes:
            self._servers.append(ExchangeServer(dn=dn, name=name, version=first(attrs, "serialnumber") or "",
                                                object_version=object_version(first(attrs, "msexchversion"))))
        elif "msexchpublicmdb" in classes:
            self._pf_dbs.append(PublicFolderDatabase(dn=dn, name=name,
                                                     owning_tree=first(attrs, "msexchowningpftree")))
        elif "msexchpftree" in classes:
            self._pf_trees.append(dn)
        else:
            self._containers[dn] = next(c for c in CONTAINER_CLASSES if c in classes)

    def facts(self) -> DirectoryFacts:
        """Sorted by DN, so facts do not depend on the order a server or file returned entries."""
        return DirectoryFacts(
            source=self.source, base_dn=self.base_dn,
            organizations=_by_dn(self._orgs), admin_groups=_by_dn(self._ags),
            servers=_by_dn(self._servers), public_folder_databases=_by_dn(self._pf_dbs),
            public_folder_trees=tuple(sorted(self._pf_trees, key=fold)),
            containers=_by_dn(Container(dn=dn, object_class=cls, children=self._children[fold(dn)])
                              for dn, cls in self._containers.items()),
            recipient_prefixes=self.recipients.groups(),
            recipients_scanned=self.recipients.scanned, duplicates=self.duplicates,
            notes=(f"{self.duplicates} entries were listed more than once under the same DN: "
                   "each is counted once",) if self.duplicates else ())


def _by_dn(items) -> tuple:
    return tuple(sorted(items, key=lambda item: fold(item.dn)))
