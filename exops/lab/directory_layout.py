"""A scenario's directory as an export shows it: the seed's entries, as LDIF attributes.

The seed (`exops.lab.seed`) is the one description of where Exchange keeps things in AD; this
turns it into the `(dn, {attribute: [values]})` records an `ldifde` export holds, with
siteFolderServer in place, so offline fixtures and the live lab can never disagree.

A public folder database deleted after an AG's siteFolderServer was set to it
(`site_folder_server_deleted`) is left out, and the link is written as the directory returns it
then (measured against Samba 4.17, the form AD uses too):
`CN=<name>\\0ADEL:<objectGUID>,CN=Deleted Objects,CN=Configuration,<domain>`, where `\\0A` is a
literal backslash, zero, A (the escaped line feed AD puts in a deleted object's RDN). The live
objectGUID is random; the export carries a deterministic one (`deleted_guid`), so a comparison
with a live lab must ignore that GUID and only that.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator

from exops.dn import configuration_dn, escape_rdn
from exops.lab.scenario import Scenario
from exops.lab.seed import (Database, configuration_entries, deleted_databases, recipient_entries,
                            scenario_databases, site_folder_links)

Attrs = dict[str, list[str]]


def all_entries(scenario: Scenario) -> Iterator[tuple[str, Attrs]]:
    databases = scenario_databases(scenario)
    gone = {db.dn: deleted_reference(scenario, db) for db in deleted_databases(scenario, databases)}
    links = {dn: gone.get(db.dn, db.dn) for dn, db in site_folder_links(scenario, databases)}
    for _kind, dn, classes, attrs in configuration_entries(scenario):
        if dn in gone:
            continue
        if dn in links:
            attrs = {**attrs, "siteFolderServer": links[dn]}
        yield dn, _as_lists(classes, attrs)
    for _kind, dn, classes, attrs in recipient_entries(scenario, databases):
        yield dn, _as_lists(classes, attrs)


def deleted_guid(db: Database) -> str:
    """A stand-in for the objectGUID the directory gave the database: stable, derived from its DN."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"exops-lab:{db.dn}"))


def deleted_reference(scenario: Scenario, db: Database) -> str:
    """What a DN-valued attribute naming `db` reads as once `db` is deleted."""
    return (f"CN={escape_rdn(db.name)}\\0ADEL:{deleted_guid(db)},CN=Deleted Objects,"
            f"{configuration_dn(scenario.base_dn)}")


def _as_lists(classes: list[str], attrs: dict) -> Attrs:
    return {"objectClass": classes, **{k: v if isinstance(v, list) else [v] for k, v in attrs.items()}}
