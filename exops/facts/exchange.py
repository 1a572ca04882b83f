"""Exchange server facts: what exops's PowerShell scripts read from each server over WinRM.

One `ServerReport` per configured server; every part says which script read it (`scripts`), and
a part that is `None` was not read, with the reason in `failures`, so a check can tell "nothing
there" from "could not look". The session type (snap-in or `Microsoft.Exchange`) travels with the
report: every finding's evidence names it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from exops.dn import rdn_value
from exops.facts.store import FactKind, register_kind

FREE_BUSY_ROOT = "\\NON_IPM_SUBTREE\\SCHEDULE+ FREE BUSY"


@dataclass(frozen=True)
class OrgServer:
    """An Exchange server as Get-ExchangeServer lists it."""

    name: str
    fqdn: str = ""
    version: str = ""
    roles: str = ""
    site: str = ""


@dataclass(frozen=True)
class FreeBusyFolder:
    identity: str
    name: str
    replicas: tuple[str, ...] = ()


@dataclass(frozen=True)
class PublicFolderStore:
    """A public folder database as Get-PublicFolderDatabase lists it (org-wide)."""

    name: str
    server: str
    dn: str = ""


@dataclass(frozen=True)
class MailboxDatabase:
    name: str
    server: str
    rpc_client_access_server: str = ""
    public_folder_database: str = ""


@dataclass(frozen=True)
class CasArray:
    name: str
    fqdn: str
    site: str = ""
    members: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()          # what the FQDN resolves to, seen from the server


@dataclass(frozen=True)
class VirtualDirectory:
    kind: str                 # owa | ews | ecp | oab | activesync | autodiscover
    name: str
    internal_url: str = ""
    external_url: str = ""


@dataclass(frozen=True)
class RegistryValue:
    path: str
    name: str
    present: bool
    kind: str = ""            # DWord, String, ... (RegistryValueKind)
    value: str = ""


@dataclass(frozen=True)
class ServiceState:
    name: str
    state: str
    started: datetime | None = None


@dataclass(frozen=True)
class ServerReport:
    """What one server answered, script by script."""

    server: str                                  # as configured
    url: str
    session: str                                 # snap-in | Microsoft.Exchange
    read_at: datetime
    roles: tuple[str, ...] = ()                  # configured roles
    organization: tuple[OrgServer, ...] | None = None
    folders: tuple[FreeBusyFolder, ...] | None = None
    public_folder_stores: tuple[PublicFolderStore, ...] | None = None
    mailbox_databases: tuple[MailboxDatabase, ...] | None = None
    cas_arrays: tuple[CasArray, ...] | None = None
    virtual_directories: tuple[VirtualDirectory, ...] | None = None
    registry: tuple[RegistryValue, ...] | None = None
    listening: tuple[int, ...] | None = None
    services: tuple[ServiceState, ...] | None = None
    scripts: tuple[str, ...] = ()                # the scripts that answered
    failures: dict[str, str] = field(default_factory=dict)   # script -> why it gave nothing

    def has(self, role: str) -> bool:
        return role in self.roles

    def myself(self) -> OrgServer | None:
        """This server in its own Get-ExchangeServer answer."""
        return next((s for s in self.organization or () if s.name.casefold() == self.server.casefold()), None)


@dataclass(frozen=True)
class ExchangeFacts:
    servers: tuple[ServerReport, ...] = ()

    def report(self, name: str) -> ServerReport | None:
        return next((s for s in self.servers if s.server.casefold() == name.casefold()), None)


def database_server(database_dn: str) -> str:
    """The server a database's DN sits under (`CN=<db>,...,CN=<server>,CN=Servers,CN=<AG>,...`)."""
    parts = re.split(r"(?<!\\),", database_dn)
    for i, part in enumerate(parts[1:], 1):
        if part.strip().upper() == "CN=SERVERS":
            return rdn_value(parts[i - 1])
    return ""


def merge_exchange(values: list[ExchangeFacts]) -> ExchangeFacts:
    """Each server's source gives one report; together they are the organisation's."""
    return ExchangeFacts(servers=tuple(sorted((s for v in values for s in v.servers),
                                              key=lambda s: s.server.casefold())))


register_kind(FactKind("exchange", ExchangeFacts, "Exchange server facts (read over WinRM)", merge=merge_exchange))
