"""The directory entries a scenario stands for, in the order they must be created.

One description serves both the live lab (seeded into Samba over LDAP) and the offline fixtures
(an `ldifde`-style export), so the two can never disagree about where Exchange keeps things.
"""
from __future__ import annotations

from collections.abc import Iterator

from exops.dn import admin_group_dn, admin_groups_dn, escape_rdn, exchange_dn, organization_dn
from exops.lab.scenario import Scenario, Server

Attrs = dict[str, list[str]]
RECIPIENTS_OU = "OU=Exchange Users"


def recipients_dn(scenario: Scenario) -> str:
    return f"{RECIPIENTS_OU},{scenario.base_dn}"


def server_dn(scenario: Scenario, server: Server) -> str:
    ag = admin_group_dn(scenario.base_dn, scenario.org, server.admin_group)
    return f"CN={escape_rdn(server.name)},CN=Servers,{ag}"


def database_dn(scenario: Scenario, server: Server, database: str) -> str:
    store = f"CN=InformationStore,{server_dn(scenario, server)}"
    if server.storage_group:
        store = f"CN={escape_rdn(server.storage_group)},{store}"
    return f"CN={escape_rdn(database)},{store}"


def find_database(scenario: Scenario, name: str) -> str:
    """The DN of a mailbox or public folder database named anywhere in the scenario."""
    for server in scenario.servers:
        if name in server.mailbox_databases + server.public_folder_databases:
            return database_dn(scenario, server, name)
    raise KeyError(f"no database named {name!r} in scenario {scenario.name}")


def configuration_entries(scenario: Scenario) -> Iterator[tuple[str, Attrs]]:
    """The Exchange configuration tree: org, AGs, servers, databases, folder hierarchies."""
    base, org = scenario.base_dn, scenario.org
    yield exchange_dn(base), {"objectClass": ["top", "container", "msExchConfigurationContainer"],
                              "cn": ["Microsoft Exchange"]}
    yield organization_dn(base, org), {"objectClass": ["top", "container", "msExchOrganizationContainer"],
                                       "cn": [org], "legacyExchangeDN": [scenario.org_legacy_dn]}
    yield admin_groups_dn(base, org), {"objectClass": ["top", "container", "msExchAdminGroupContainer"],
                                       "cn": ["Administrative Groups"]}
    for ag in scenario.admin_groups:
        ag_dn = admin_group_dn(base, org, ag.name)
        yield ag_dn, {"objectClass": ["top", "msExchAdminGroup"], "cn": [ag.name],
                      "legacyExchangeDN": [ag.legacy_dn]}
        yield f"CN=Servers,{ag_dn}", {"objectClass": ["top", "container", "msExchServersContainer"],
                                      "cn": ["Servers"]}
        for server in ag.servers:
            yield from _server_entries(scenario, server, ag.legacy_dn)
        if ag.folder_hierarchy:
            hierarchies = f"CN=Folder Hierarchies,{ag_dn}"
            yield hierarchies, {"objectClass": ["top", "container", "msExchPublicFolderTreeContainer"],
                                "cn": ["Folder Hierarchies"]}
            yield f"CN=Public Folders,{hierarchies}", {"objectClass": ["top", "msExchPFTree"],
                                                      "cn": ["Public Folders"]}


def site_folder_links(scenario: Scenario) -> Iterator[tuple[str, str]]:
    """(AG DN, public folder database DN) for AGs whose siteFolderServer the scenario sets.

    Set after the databases exist: AD refuses a DN-valued attribute naming a missing object.
    """
    for ag in scenario.admin_groups:
        if ag.site_folder_server:
            server, _, database = ag.site_folder_server.partition("/")
            yield (admin_group_dn(scenario.base_dn, scenario.org, ag.name),
                   database_dn(scenario, scenario.server(server), database))


def _server_entries(scenario: Scenario, server: Server, ag_legacy_dn: str) -> Iterator[tuple[str, Attrs]]:
    dn = server_dn(scenario, server)
    yield dn, {"objectClass": ["top", "server", "msExchExchangeServer"], "cn": [server.name],
               "legacyExchangeDN": [f"{ag_legacy_dn}/cn=Configuration/cn=Servers/cn={server.name}"],
               "serialNumber": [f"Version {server.version}"]}
    store = f"CN=InformationStore,{dn}"
    yield store, {"objectClass": ["top", "container"], "cn": ["InformationStore"]}
    if server.storage_group:
        yield f"CN={escape_rdn(server.storage_group)},{store}", {
            "objectClass": ["top", "container", "msExchStorageGroup"], "cn": [server.storage_group]}
    for name in server.mailbox_databases:
        yield database_dn(scenario, server, name), {"objectClass": ["top", "msExchPrivateMDB"], "cn": [name]}
    for name in server.public_folder_databases:
        yield database_dn(scenario, server, name), {"objectClass": ["top", "msExchPublicMDB"], "cn": [name]}


def recipient_entries(scenario: Scenario) -> Iterator[tuple[str, Attrs]]:
    """Every recipient, generated lazily: mailboxes, contacts and groups with their legacyExchangeDN."""
    domain = scenario.realm.lower()
    for r in scenario.recipients():
        attrs: Attrs = {"cn": [r.name], "displayName": [r.name], "mailNickname": [r.alias],
                        "legacyExchangeDN": [r.legacy_dn],
                        "proxyAddresses": [f"SMTP:{r.alias}@{domain}"],
                        "mail": [f"{r.alias}@{domain}"]}
        if r.kind in ("mailbox", "mail_user"):
            attrs["objectClass"] = ["top", "person", "organizationalPerson", "user"]
            attrs["sAMAccountName"] = [r.alias[:20]]
            if r.kind == "mailbox" and r.home_mdb:
                attrs["homeMDB"] = [find_database(scenario, r.home_mdb)]
        elif r.kind == "contact":
            attrs["objectClass"] = ["top", "person", "organizationalPerson", "contact"]
        else:
            attrs["objectClass"] = ["top", "group"]
            attrs["sAMAccountName"] = [r.alias[:20]]
        yield f"CN={escape_rdn(r.name)},{recipients_dn(scenario)}", attrs


def all_entries(scenario: Scenario) -> Iterator[tuple[str, Attrs]]:
    """The whole directory of a scenario as an export would show it (siteFolderServer included)."""
    links = dict(site_folder_links(scenario))
    for dn, attrs in configuration_entries(scenario):
        if dn in links:
            attrs = {**attrs, "siteFolderServer": [links[dn]]}
        yield dn, attrs
    yield recipients_dn(scenario), {"objectClass": ["top", "organizationalUnit"], "ou": ["Exchange Users"]}
    yield from recipient_entries(scenario)
