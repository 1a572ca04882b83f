"""Seed a directory with a scenario: the Exchange configuration tree and every recipient.

The configuration tree follows REFERENCE.md §1 (Microsoft Exchange → org → Administrative Groups
→ AG → Servers → server → InformationStore → [storage group] → databases; Folder Hierarchies →
Public Folders). Recipients go to `OU=Exchange Users` under the domain. Everything is added over
one LDAP connection, one entry per request: Samba handles requests one at a time, so pipelining
(ldap3's ASYNC strategy) measured no faster here; about 3 ms a user with `ldb:nosync` in a small
directory. But an add costs Samba time in proportion to the users already there (ldb_clone
says why): 10,000 took 222 s and 100,000 would take hours. So beyond OFFLINE_RECIPIENTS only the
first recipient of each generated group is added over LDAP, and once Samba has stopped
`add_clones` writes the others as copies of it (exops/lab/ldb_clone.py); tests compare such a
directory with one seeded wholly over LDAP, entry for entry.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ldap3 import MODIFY_REPLACE, Connection

from exops.dn import admin_group_dn, admin_groups_dn, escape_rdn, exchange_dn, organization_dn
from exops.facts.directory import OBJECT_VERSIONS
from exops.lab.lab_ldap import borrowed_or_own
from exops.lab.scenario import AdminGroup, Recipient, Scenario, ScenarioError, Server

RECIPIENTS_OU = "Exchange Users"
SERVERS = "Servers"
INFORMATION_STORE = "InformationStore"
FOLDER_HIERARCHIES = "Folder Hierarchies"
PUBLIC_FOLDERS = "Public Folders"
# groupType of a universal distribution group (ADS_GROUP_TYPE_UNIVERSAL_GROUP, not security).
UNIVERSAL_DISTRIBUTION = "8"
OFFLINE_RECIPIENTS = 2000   # beyond this many, recipients are cloned offline (add_clones)
CLONER = Path(__file__).with_name("ldb_clone.py")


class SeedError(RuntimeError):
    """The directory refused an entry; the message names it and gives the server's reason."""


@dataclass
class SeedReport:
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    cloned: int = 0          # recipients left to `add_clones`

    def count(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1


@dataclass(frozen=True)
class Database:
    name: str
    dn: str
    server: Server
    server_legacy_dn: str
    public: bool


def seed_directory(target, scenario: Scenario, progress=None, *,
                   offline: bool | None = None) -> SeedReport:
    """Create the scenario's Exchange objects and recipients in an empty lab directory.

    `target` is a `RunningDC` or a bound ldap3 Connection with rights on the configuration and
    domain partitions. `progress(done)` is called every 1,000 recipients. With `offline` (by
    default when there are more than OFFLINE_RECIPIENTS) only the templates of `clones` are
    added: `add_clones` adds the rest once the DC has stopped (report.cloned says how many).
    """
    if offline is None:
        offline = recipient_count(scenario) > OFFLINE_RECIPIENTS
    later = {dn for dn, _template, _attrs in clones(scenario)} if offline else set()
    conn, own = borrowed_or_own(target)
    started = time.monotonic()
    report = SeedReport()
    try:
        databases = scenario_databases(scenario)
        for kind, dn, classes, attrs in configuration_entries(scenario):
            _add(conn, dn, classes, attrs)
            report.count(kind)
        for ag_dn, db in site_folder_links(scenario, databases):
            if not conn.modify(ag_dn, {"siteFolderServer": [(MODIFY_REPLACE, [db.dn])]}):
                raise SeedError(f"cannot set siteFolderServer on {ag_dn}: {_why(conn)}")
        # Only now: the directory refuses a link to a missing object, but keeps (mangled) a link
        # to one deleted afterwards.
        for db in deleted_databases(scenario, databases):
            if not conn.delete(db.dn):
                raise SeedError(f"cannot delete {db.dn}: {_why(conn)}")
            report.count("deleted_database")
        for n, (kind, dn, classes, attrs) in enumerate(recipient_entries(scenario, databases)):
            if dn in later:
                report.cloned += 1
            else:
                _add(conn, dn, classes, attrs)
            report.count(kind)
            if progress and n and n % 1000 == 0:
                progress(n)
    finally:
        if own:
            conn.unbind()
    report.seconds = time.monotonic() - started
    return report


# ---------------------------------------------------------------- configuration partition

def configuration_entries(scenario: Scenario) -> Iterator[tuple[str, str, list[str], dict]]:
    """(kind, dn, objectClasses, attributes) of the Exchange configuration tree, parents first.

    siteFolderServer is not among them: AD refuses a DN-valued attribute naming an object that
    does not exist yet, so `site_folder_links` are set once the databases are there.
    """
    base, org = scenario.base_dn, scenario.org
    yield "container", exchange_dn(base), ["top", "container", "msExchConfigurationContainer"], {}
    yield "organization", organization_dn(base, org), ["top", "container", "msExchOrganizationContainer"], \
        {"legacyExchangeDN": scenario.org_legacy_dn}
    yield "container", admin_groups_dn(base, org), ["top", "container", "msExchAdminGroupContainer"], {}
    for ag in scenario.admin_groups:
        yield from admin_group_entries(scenario, ag)


def scenario_databases(scenario: Scenario) -> dict[str, Database]:
    """Every database of the scenario by case-folded name."""
    return {db.name.casefold(): db for ag in scenario.admin_groups for server in ag.servers
            for db in server_databases(scenario, ag, server)}


def site_folder_links(scenario: Scenario, databases: dict[str, Database]) -> Iterator[tuple[str, Database]]:
    """(AG DN, public folder database) for each AG whose scenario names a siteFolderServer."""
    for ag in scenario.admin_groups:
        if ag.site_folder_server:
            yield admin_group_dn(scenario.base_dn, scenario.org, ag.name), _site_folder_database(ag, databases)


def deleted_databases(scenario: Scenario, databases: dict[str, Database]) -> list[Database]:
    """Public folder databases deleted after an AG's siteFolderServer was set to them."""
    gone = (_site_folder_database(ag, databases) for ag in scenario.admin_groups
            if ag.site_folder_server_deleted)
    return list({db.dn: db for db in gone}.values())


def admin_group_entries(scenario: Scenario, ag: AdminGroup) -> Iterator[tuple[str, str, list[str], dict]]:
    """(kind, dn, objectClasses, attributes) of one AG and everything under it, parents first."""
    ag_dn = admin_group_dn(scenario.base_dn, scenario.org, ag.name)
    yield "admin_group", ag_dn, ["top", "container", "msExchAdminGroup"], {"legacyExchangeDN": ag.legacy_dn}
    if ag.servers or ag.servers_container:
        yield "container", f"CN={SERVERS},{ag_dn}", ["top", "container", "msExchServersContainer"], {}
    for server in ag.servers:
        server_dn = _server_dn(scenario, ag, server)
        yield "server", server_dn, ["top", "container", "msExchExchangeServer"], server_attributes(ag, server)
        store = f"CN={INFORMATION_STORE},{server_dn}"
        yield "container", store, ["top", "container", "msExchInformationStore"], {}
        if server.storage_group:
            yield "container", f"CN={escape_rdn(server.storage_group)},{store}", \
                ["top", "container", "msExchStorageGroup"], {}
        for db in server_databases(scenario, ag, server):
            yield ("public_folder_database" if db.public else "mailbox_database"), db.dn, \
                ["top", "container", "msExchPublicMDB" if db.public else "msExchPrivateMDB"], \
                {"legacyExchangeDN": f"{server_legacy_dn(ag, server)}/cn=Microsoft "
                                     f"{'Public' if db.public else 'Private'} MDB/cn={db.name}"}
    if ag.folder_hierarchy:
        hierarchies = f"CN={FOLDER_HIERARCHIES},{ag_dn}"
        yield "container", hierarchies, ["top", "container", "msExchPublicFolderTreeContainer"], {}
        yield "public_folder_tree", f"CN={PUBLIC_FOLDERS},{hierarchies}", \
            ["top", "container", "msExchPFTree"], {}


def server_attributes(ag: AdminGroup, server: Server) -> dict:
    """A server object as its Exchange version writes it: serialNumber always, msExchVersion from
    Exchange 2007 on (an Exchange 2003 server object has none)."""
    attrs = {"legacyExchangeDN": server_legacy_dn(ag, server), "serialNumber": f"Version {server.version}"}
    major = server.version.partition(".")[0]
    if major.isdigit() and int(major) in OBJECT_VERSIONS:
        attrs["msExchVersion"] = str(OBJECT_VERSIONS[int(major)])
    return attrs


def server_databases(scenario: Scenario, ag: AdminGroup, server: Server) -> list[Database]:
    parent = f"CN={INFORMATION_STORE},{_server_dn(scenario, ag, server)}"
    if server.storage_group:
        parent = f"CN={escape_rdn(server.storage_group)},{parent}"
    legacy = server_legacy_dn(ag, server)
    return [Database(name, f"CN={escape_rdn(name)},{parent}", server, legacy, public)
            for names, public in ((server.mailbox_databases, False),
                                  (server.public_folder_databases, True))
            for name in names]


def server_legacy_dn(ag: AdminGroup, server: Server) -> str:
    return f"{ag.legacy_dn}/cn=Configuration/cn=Servers/cn={server.name}"


def _server_dn(scenario: Scenario, ag: AdminGroup, server: Server) -> str:
    ag_dn = admin_group_dn(scenario.base_dn, scenario.org, ag.name)
    return f"CN={escape_rdn(server.name)},CN={SERVERS},{ag_dn}"


def _site_folder_database(ag: AdminGroup, databases: dict[str, Database]) -> Database:
    server, _, name = ag.site_folder_server.partition("/")
    db = databases.get(name.casefold())
    if db is None or not db.public or db.server.name.casefold() != server.casefold():
        raise ScenarioError(f"admin group {ag.name!r}: site_folder_server {ag.site_folder_server!r} "
                            "names no public folder database (expected <server>/<database>)")
    return db


# ---------------------------------------------------------------- recipients

def recipients_dn(scenario: Scenario) -> str:
    return f"OU={escape_rdn(RECIPIENTS_OU)},{scenario.base_dn}"


def recipient_entries(scenario: Scenario, databases: dict[str, Database]) -> Iterator[tuple[str, str, list[str], dict]]:
    """(kind, dn, objectClasses, attributes): the recipients' OU, then every recipient, lazily."""
    parent = recipients_dn(scenario)
    yield "container", parent, ["top", "organizationalUnit"], {}
    domain = scenario.realm.lower()
    for recipient in scenario.recipients():
        yield (recipient.kind, *recipient_entry(recipient, parent, domain, databases))


def recipient_entry(recipient: Recipient, parent_dn: str, domain: str,
                    databases: dict[str, Database]) -> tuple[str, list[str], dict]:
    """The DN, objectClasses and attributes of one recipient."""
    dn = f"CN={escape_rdn(recipient.name)},{parent_dn}"
    attrs: dict = {"displayName": recipient.name, "mailNickname": recipient.alias,
                   "legacyExchangeDN": recipient.legacy_dn,
                   "proxyAddresses": [f"SMTP:{recipient.alias}@{domain}"],
                   "mail": f"{recipient.alias}@{domain}"}
    if recipient.kind == "contact":
        return dn, ["top", "person", "organizationalPerson", "contact"], attrs
    attrs["sAMAccountName"] = recipient.alias[:20]
    if recipient.kind == "group":
        attrs["groupType"] = UNIVERSAL_DISTRIBUTION
        return dn, ["top", "group"], attrs
    if recipient.kind not in ("mailbox", "mail_user"):
        raise ScenarioError(f"recipient {recipient.alias!r}: unknown kind {recipient.kind!r}")
    attrs["userPrincipalName"] = f"{recipient.alias}@{domain}"
    if recipient.kind == "mailbox":
        db = databases.get((recipient.home_mdb or "").casefold())
        if db is None or db.public:
            raise ScenarioError(f"recipient {recipient.alias!r}: home_mdb {recipient.home_mdb!r} "
                                "is not a mailbox database of the scenario")
        attrs["homeMDB"] = db.dn
        attrs["msExchHomeServerName"] = db.server_legacy_dn
    return dn, ["top", "person", "organizationalPerson", "user"], attrs


def recipient_count(scenario: Scenario) -> int:
    return sum(spec.get("generate") or 1 for spec in scenario.raw_recipients)


def clones(scenario: Scenario) -> Iterator[tuple[str, str, dict]]:
    """(dn, template dn, attributes) of every generated recipient but the first of its group,
    which is its template: same kind, database and objectClasses, its own names and addresses."""
    databases = scenario_databases(scenario)
    entries = recipient_entries(scenario, databases)
    next(entries)                                    # the recipients' OU
    for spec in scenario.raw_recipients:
        template = None
        for _ in range(spec.get("generate") or 1):
            _kind, dn, _classes, attrs = next(entries)
            if template is None or not spec.get("generate"):
                template = dn
                continue
            yield dn, template, {k: v if isinstance(v, list) else [v] for k, v in attrs.items()}


def add_clones(dc_dir: Path, scenario: Scenario) -> int:
    """Add the `clones` to the stopped lab DC in `dc_dir` (seeded with offline=True), through
    exops/lab/ldb_clone.py run by Samba's own Python; how many were added."""
    info = json.loads((Path(dc_dir) / "exops-lab.json").read_text())
    partition = Path(dc_dir) / "private" / "sam.ldb.d" / f"{info['base_dn'].upper()}.ldb"
    job = {"entries": [{"dn": dn, "template": template, "attrs": attrs}
                       for dn, template, attrs in clones(scenario)]}
    if not job["entries"]:
        return 0
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=dc_dir, encoding="utf-8") as spec:
        json.dump(job, spec)
        spec.flush()
        done = subprocess.run([_samba_python(), str(CLONER), str(partition), spec.name],
                              capture_output=True, text=True)
    if done.returncode != 0:
        tail = " / ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise SeedError(f"cloning {len(job['entries'])} recipients into {partition} failed: {tail}")
    return len(job["entries"])


def _samba_python() -> str:
    """The interpreter samba-tool runs with: the one that has Samba's `ldb` module."""
    tool = shutil.which("samba-tool")
    if tool:
        first = Path(tool).read_text(errors="replace").splitlines()[0]
        if first.startswith("#!"):
            return first[2:].strip().split()[0]
    return "/usr/bin/python3"


def _add(conn: Connection, dn: str, classes: list[str], attrs: dict) -> None:
    if not conn.add(dn, classes, attrs):
        raise SeedError(f"cannot add {dn}: {_why(conn)}")


def _why(conn: Connection) -> str:
    return f"{conn.result.get('description')} {conn.result.get('message', '').strip()}".strip()
