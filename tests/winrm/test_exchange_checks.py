"""The server checks and the store fix as pure functions of facts built by hand."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from exops.checks.exchange import folder_replicas, servers_read, site_folders
from exops.dn import server_of
from exops.facts.directory import AdminGroup, DirectoryFacts, ExchangeServer, PrefixGroup, PublicFolderDatabase
from exops.facts.exchange import (ExchangeFacts, FreeBusyFolder, OrgServer, PublicFolderStore, ServerReport,
                                  ServiceState)
from exops.facts.serde import from_data, to_data
from exops.facts.store import Facts
from exops.fixes.loadbalancer import maintenance_actions
from exops.fixes.store import StoreFixRefused, plan_restart_store
from exops.fixes.freebusy import plan_freebusy
from exops.model import Severity

NOW = datetime(2026, 11, 30, 4, 0, tzinfo=timezone.utc)
BASE = "CN=EUROPE,CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=litware,DC=com"
MODERN = f"CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups,{BASE}"
PF01 = f"CN=PF01,CN=InformationStore,CN=L12EX1,CN=Servers,{MODERN}"
PF03 = f"CN=Public Folder Store (EX2003),CN=First Storage Group,CN=InformationStore,CN=EX2003,CN=Servers,CN=Amsterdam,CN=Administrative Groups,{BASE}"
ORPHAN = "/o=EUROPE/ou=First Administrative Group"


def report(name="L12EX1", folders=(), stores=(), organization=("L12EX1", "L12EX2"), **more) -> ServerReport:
    return ServerReport(
        server=name, url=f"https://{name}:5986/wsman", session="snap-in", read_at=NOW, roles=("cas", "mailbox"),
        organization=tuple(OrgServer(n, version="Version 14.3", roles="Mailbox") for n in organization),
        folders=tuple(folders), public_folder_stores=tuple(stores),
        services=(ServiceState("MSExchangeIS", "Running", datetime(2026, 11, 27, tzinfo=timezone.utc)),),
        scripts=("server", "public-folders", "services"), **more)


def directory(*ags: AdminGroup) -> DirectoryFacts:
    return DirectoryFacts(
        source="test", base_dn="DC=litware,DC=com", admin_groups=ags,
        public_folder_databases=(PublicFolderDatabase(PF01, "PF01"), PublicFolderDatabase(PF03, "Public Folder Store (EX2003)")),
        servers=tuple(ExchangeServer(server_of(db), server_of(db).split(",")[0][3:], version) for db, version in
                      ((PF01, "Version 14.3"), (PF03, "Version 6.5"))),
        recipient_prefixes=(PrefixGroup(ORPHAN, {"mailbox": 140}),))


MODERN_AG = AdminGroup(MODERN, "Exchange Administrative Group (FYDIBOHF23SPDLT)",
                       "/o=EUROPE/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)", PF01)


def test_a_prefix_mailboxes_carry_without_its_folder_is_critical():
    exchange = ExchangeFacts((report(folders=[FreeBusyFolder("x", f"EX:{MODERN_AG.legacy_dn}", ("PF01",))]),))
    found = list(site_folders(exchange, directory(MODERN_AG)))
    assert [(f.severity, f.target) for f in found] == [(Severity.CRITICAL, ORPHAN)]
    assert found[0].evidence[0].data["script"] == "public-folders.ps1"
    assert found[0].evidence[0].data["session"] == "snap-in"
    assert found[0].fixes == (f'exops fix freebusy --dn "{ORPHAN}" --restart-store',)


def test_every_folder_present_is_ok_and_says_what_it_saw():
    folders = [FreeBusyFolder("x", f"EX:{p}", ("PF01",)) for p in (MODERN_AG.legacy_dn, ORPHAN.upper())]
    found = list(site_folders(ExchangeFacts((report(folders=folders),)), directory(MODERN_AG)))
    assert [f.severity for f in found] == [Severity.OK] and "2 administrative groups" in found[0].summary


def test_no_server_that_read_the_folders_is_unknown_not_ok():
    silent = report(failures={"public-folders": "L12EX1: public-folders.ps1 failed"})
    silent = ServerReport(**{**silent.__dict__, "folders": None})
    found = list(site_folders(ExchangeFacts((silent,)), directory(MODERN_AG)))
    assert [f.severity for f in found] == [Severity.UNKNOWN]
    assert [f.severity for f in servers_read(ExchangeFacts((silent,)))] == [Severity.UNKNOWN]


def test_a_folder_whose_replicas_are_on_decommissioned_servers_is_critical():
    folders = [FreeBusyFolder("x", "EX:/o=EUROPE/ou=Amsterdam", ("EX2003\\Public Folder Store (EX2003)",)),
               FreeBusyFolder("y", f"EX:{MODERN_AG.legacy_dn}", ("PF01",)),
               FreeBusyFolder("z", "EX:/o=EUROPE/ou=Gone", ("PF99",))]
    stores = [PublicFolderStore("PF01", "L12EX1"), PublicFolderStore("Public Folder Store (EX2003)", "EX2003")]
    found = list(folder_replicas(ExchangeFacts((report(folders=folders, stores=stores),))))
    assert sorted((f.severity, f.target) for f in found) == [
        (Severity.CRITICAL, "EX:/o=EUROPE/ou=Amsterdam"), (Severity.CRITICAL, "EX:/o=EUROPE/ou=Gone")]
    assert "server EX2003 gone" in next(f.summary for f in found if "Amsterdam" in f.target)
    assert "database gone" in next(f.summary for f in found if "Gone" in f.target)


def test_exchange_facts_round_trip_through_a_bundle():
    exchange = ExchangeFacts((report(folders=[FreeBusyFolder("x", "EX:/o=a/ou=b", ("PF01",))],
                                     failures={"events": "timed out"}),))
    assert from_data(ExchangeFacts, to_data(exchange)) == exchange


def test_restart_store_waits_for_the_proof_and_cannot_be_undone():
    facts = Facts(directory(MODERN_AG), ExchangeFacts((report(),)))
    plan = plan_restart_store(facts, dn=MODERN_AG.legacy_dn)
    restart, wait = plan.steps
    assert (restart.action, restart.mode, restart.endpoint, restart.compensate) == (
        "winrm.restart-service", "act", "L12EX1", None)
    assert restart.params == {"service": "MSExchangeIS", "since": "2026-11-27T00:00:00+00:00"}
    assert "Restart-Service -Name $name -Force" in restart.preview
    assert (wait.mode, wait.after, wait.timeout) == ("wait", {"folder": True, "event_3047": True}, 600.0)
    assert "cannot be undone" in plan.describe() and "maintenance cycle" in plan.describe()


def test_restart_store_as_a_maintenance_action_restarts_then_waits_until_it_runs():
    action = maintenance_actions()["restart-store"]
    restart, running = action.steps("L12EX1", Facts(ExchangeFacts((report(),))), [])
    assert (restart.action, restart.mode, restart.executor, restart.compensate) == (
        "winrm.restart-service", "act", "winrm:L12EX1", None)
    assert restart.params == {"service": "MSExchangeIS", "since": "2026-11-27T00:00:00+00:00"}
    assert (running.action, running.mode, running.executor, running.after) == (
        "winrm.service-state", "wait", "winrm:L12EX1", {"state": "Running"})
    with pytest.raises(StoreFixRefused, match="L12EX2 is not a configured Exchange server"):
        action.steps("L12EX2", Facts(ExchangeFacts((report(),))), [])
    with pytest.raises(StoreFixRefused, match="cannot tell when MSExchangeIS on L12EX1 last started"):
        action.steps("L12EX1", Facts(ExchangeFacts((replace(report(), services=()),))), [])


def test_freebusy_with_restart_store_prefers_a_database_whose_store_exops_can_restart():
    amsterdam = AdminGroup(f"CN=Amsterdam,CN=Administrative Groups,{BASE}", "Amsterdam", "/o=EUROPE/ou=Amsterdam", PF03)
    facts = Facts(directory(amsterdam, MODERN_AG), ExchangeFacts((report(),)))
    plan = plan_freebusy(facts, dn=ORPHAN, restart_store=True)
    assert [s.action for s in plan.steps[-3:]] == ["ldap.add", "winrm.restart-service", "winrm.free-busy-folder"]
    assert plan.steps[-3].after["attributes"]["siteFolderServer"] == [PF01]
    assert plan.params["restart_store"] is True


def test_the_store_cannot_be_restarted_on_a_server_that_is_not_configured():
    facts = Facts(directory(MODERN_AG), ExchangeFacts((report(name="L12EX2"),)))
    with pytest.raises(StoreFixRefused, match="L12EX1 is not a configured Exchange server"):
        plan_restart_store(facts, dn=MODERN_AG.legacy_dn)
    with pytest.raises(StoreFixRefused, match="needs the Exchange servers"):
        plan_restart_store(Facts(directory(MODERN_AG)), dn=MODERN_AG.legacy_dn)
