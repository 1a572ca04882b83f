"""A scenario's directory as an export shows it: the seed's entries, as LDIF attributes.

The seed (`exops.lab.seed`) is the one description of where Exchange keeps things in AD; this
turns it into the `(dn, {attribute: [values]})` records an `ldifde` export holds, with
siteFolderServer in place, so offline fixtures and the live lab can never disagree.
"""
from __future__ import annotations

from collections.abc import Iterator

from exops.lab.scenario import Scenario
from exops.lab.seed import configuration_entries, recipient_entries, scenario_databases, site_folder_links

Attrs = dict[str, list[str]]


def all_entries(scenario: Scenario) -> Iterator[tuple[str, Attrs]]:
    databases = scenario_databases(scenario)
    links = {dn: db.dn for dn, db in site_folder_links(scenario, databases)}
    for _kind, dn, classes, attrs in configuration_entries(scenario):
        if dn in links:
            attrs = {**attrs, "siteFolderServer": links[dn]}
        yield dn, _as_lists(classes, attrs)
    for _kind, dn, classes, attrs in recipient_entries(scenario, databases):
        yield dn, _as_lists(classes, attrs)


def _as_lists(classes: list[str], attrs: dict) -> Attrs:
    return {"objectClass": classes, **{k: v if isinstance(v, list) else [v] for k, v in attrs.items()}}
