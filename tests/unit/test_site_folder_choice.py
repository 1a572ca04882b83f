"""The siteFolderServer choice: msExchVersion before serialNumber, and free/busy replicas checked
when the Exchange servers' answer is at hand, or plainly said to be unchecked."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest

from exops.facts.directory import OBJECT_VERSIONS, ExchangeServer, object_version
from exops.facts.exchange import ExchangeFacts, FreeBusyFolder, PublicFolderStore, ServerReport
from exops.facts.serde import from_data, to_data
from exops.facts.store import Facts
from exops.fixes.freebusy import FixRefused, plan_freebusy
from exops.fixes.freebusy_choice import REPLICAS_COMMAND, database_choices
from exops.lab.directory_layout import all_entries
from exops.lab.ldif_export import write_ldif
from exops.lab.scenario import load_scenario
from exops.sources.bundle import open_bundle
from exops.sources.bundle_writer import write_bundle
from exops.sources.ldif import read_ldif_facts

ORPHAN = "/o=EUROPE/ou=First Administrative Group"
EX2003_STORE = "Public Folder Store (EX2003)"
READ_AT = datetime(2026, 11, 30, 7, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def ldif(tmp_path_factory):
    path = tmp_path_factory.mktemp("l") / "litware.ldf"
    write_ldif(path, all_entries(load_scenario("litware")))
    return path


@pytest.fixture(scope="module")
def directory(ldif):
    return read_ldif_facts(ldif)


def servers(directory, **changes: dict):
    """The directory with some servers' attributes changed, by server name."""
    return dataclasses.replace(directory, servers=tuple(
        dataclasses.replace(s, **changes.get(s.name, {})) for s in directory.servers))


def site_folder_note(plan) -> str:
    return next(n for n in plan.notes if n.startswith("siteFolderServer"))


def exchange(*folders: FreeBusyFolder, stores=True) -> ExchangeFacts:
    listed = (PublicFolderStore("PF01", "L12EX1"), PublicFolderStore(EX2003_STORE, "EX2003")) if stores else ()
    return ExchangeFacts((ServerReport(server="L12EX1", url="https://l12ex1:5986/wsman", session="snap-in",
                                       read_at=READ_AT, folders=folders, public_folder_stores=listed),))


# ---------------------------------------------------------------- msExchVersion

@pytest.mark.parametrize("major, release", [(8, (8, 0)), (14, (14, 0)), (15, (15, 0))])
def test_msexchversion_decodes_to_the_release_the_shell_shows(major, release):
    assert ExchangeServer("CN=X", "X", object_version=OBJECT_VERSIONS[major]).object_release == release


def test_the_export_carries_msexchversion_from_exchange_2007_on(directory):
    found = {s.name: s.object_version for s in directory.servers}
    assert found == {"L12EX1": OBJECT_VERSIONS[14], "L12EX2": OBJECT_VERSIONS[14], "EX2003": None}


def test_msexchversion_ranks_before_serialnumber_and_a_disagreement_is_said(directory):
    # serialNumber alone would put EX2003 ("8.0") above L12EX1 ("6.5"); msExchVersion says 14.0.
    odd = servers(directory, L12EX1={"version": "Version 6.5"}, EX2003={"version": "Version 8.0"})
    plan = plan_freebusy(Facts(odd), dn=ORPHAN)
    assert plan.steps[0].after["attributes"]["siteFolderServer"][0].startswith("CN=PF01,")
    assert "msExchVersion says Exchange 14.0, serialNumber says 6.5: ranked by msExchVersion" in site_folder_note(plan)


def test_without_msexchversion_serialnumber_decides_as_before(directory):
    bare = servers(directory, L12EX1={"object_version": None}, L12EX2={"object_version": None})
    note = site_folder_note(plan_freebusy(Facts(bare), dn=ORPHAN))
    assert "chosen: PF01 (Exchange 14.3 on L12EX1" in note and "msExchVersion says" not in note


def test_msexchversion_alone_names_the_release(directory):
    unknown = servers(directory, L12EX1={"version": ""})
    note = site_folder_note(plan_freebusy(Facts(unknown), dn=ORPHAN))
    assert "chosen: PF01 (Exchange 14.0 (msExchVersion) on L12EX1" in note


@pytest.mark.parametrize("text", ["", "Version 14.3", "-1", "4.4e13", "9" * 40])
def test_an_msexchversion_that_is_no_number_is_not_guessed(text):
    assert object_version(text) is None


# ---------------------------------------------------------------- free/busy replicas

def test_without_exchange_facts_the_plan_says_replicas_were_not_checked_and_how_to(directory):
    plan = plan_freebusy(Facts(directory), dn=ORPHAN)
    [note] = [n for n in plan.notes if "replica" in n]
    assert note.startswith("free/busy replicas could not be checked (evidence: AD only")
    assert REPLICAS_COMMAND in note and "FB-REPLICA" in note
    assert REPLICAS_COMMAND == ("Get-PublicFolder -Identity '\\NON_IPM_SUBTREE\\SCHEDULE+ FREE BUSY' "
                                "-Recurse | Format-List Name,Replicas")


def test_a_database_without_a_free_busy_replica_is_never_chosen(directory):
    # Only the Exchange 2003 store holds a site folder replica: PF01, newer, is passed over.
    facts = Facts(directory, exchange(FreeBusyFolder("x", "EX:/o=EUROPE/ou=Amsterdam", (EX2003_STORE,))))
    plan = plan_freebusy(facts, dn=ORPHAN)
    assert plan.steps[0].after["attributes"]["siteFolderServer"][0].startswith(f"CN={EX2003_STORE},")
    note = site_folder_note(plan)
    assert "not chosen: PF01 (Exchange 14.3 on L12EX1" in note
    assert "holds no replica of any free/busy site folder (Get-PublicFolder as read by L12EX1 (snap-in))" in note
    [checked] = [n for n in plan.notes if n.startswith("free/busy replicas checked")]
    assert f"{EX2003_STORE} holds a replica" in checked
    assert [dn.split(",")[0] for dn, _ in database_choices(facts)] == [f"CN={EX2003_STORE}", "CN=PF01"]


def test_replicas_named_server_storage_group_database_match_without_a_store_list(directory):
    replica = f"EX2003\\First Storage Group\\{EX2003_STORE}"
    facts = Facts(directory, exchange(FreeBusyFolder("x", "EX:/o=EUROPE/ou=Amsterdam", (replica,)), stores=False))
    plan = plan_freebusy(facts, dn=ORPHAN)
    assert plan.steps[0].after["attributes"]["siteFolderServer"][0].startswith(f"CN={EX2003_STORE},")


def test_the_newest_database_holding_a_replica_wins(directory):
    folders = (FreeBusyFolder("x", "EX:/o=EUROPE/ou=Amsterdam", (EX2003_STORE,)),
               FreeBusyFolder("y", "EX:/o=EUROPE/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)", ("PF01",)))
    plan = plan_freebusy(Facts(directory, exchange(*folders)), dn=ORPHAN)
    assert plan.steps[0].after["attributes"]["siteFolderServer"][0].startswith("CN=PF01,")
    assert any(n.startswith("free/busy replicas checked") and "PF01 holds a replica" in n for n in plan.notes)


def test_site_folders_whose_replicas_are_all_gone_refuse_and_point_at_the_replica_fix(directory):
    gone = FreeBusyFolder("x", "EX:/o=EUROPE/ou=Amsterdam", ("OLDEX\\First Storage Group\\Public Folder Store (OLDEX)",))
    with pytest.raises(FixRefused, match="add one first \\(exops fix free-busy-replica\\)"):
        plan_freebusy(Facts(directory, exchange(gone)), dn=ORPHAN)


def test_no_site_folder_at_all_leaves_the_choice_to_the_version_and_says_so(directory):
    plan = plan_freebusy(Facts(directory, exchange()), dn=ORPHAN)
    assert plan.steps[0].after["attributes"]["siteFolderServer"][0].startswith("CN=PF01,")
    assert any("list no free/busy site folder yet" in n for n in plan.notes)


def test_restart_store_never_takes_a_retiring_server_or_one_exops_cannot_restart(directory):
    folders = (FreeBusyFolder("x", "EX:/o=EUROPE/ou=Amsterdam", (EX2003_STORE,)),
               FreeBusyFolder("y", "EX:/o=EUROPE/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)", ("PF01",)))
    facts = Facts(directory, exchange(*folders))       # only L12EX1 is configured
    with pytest.raises(FixRefused, match="EX2003 is not a configured Exchange server"):
        plan_freebusy(facts, dn=ORPHAN, restart_store=True, avoid_server="L12EX1")


def test_a_bundle_that_carries_the_exchange_facts_gets_its_replicas_checked(ldif, tmp_path):
    folders = (FreeBusyFolder("x", "EX:/o=EUROPE/ou=Amsterdam", (EX2003_STORE,)),)
    bundle = write_bundle(tmp_path / "b", facts=Facts(exchange(*folders)), files={"directory": [ldif]})
    plan = plan_freebusy(open_bundle(bundle), dn=ORPHAN)
    assert plan.steps[0].after["attributes"]["siteFolderServer"][0].startswith(f"CN={EX2003_STORE},")
    assert any(n.startswith("free/busy replicas checked") for n in plan.notes)


def test_directory_json_keeps_msexchversion_and_older_bundles_without_it_still_read(directory, tmp_path):
    bundle = write_bundle(tmp_path / "j", facts=Facts(directory))
    read = open_bundle(bundle).get(type(directory))
    assert {s.name: s.object_version for s in read.servers} == {s.name: s.object_version for s in directory.servers}
    older = to_data(directory)
    for server in older["servers"]:
        del server["object_version"]
    assert {s.object_version for s in from_data(type(directory), older).servers} == {None}


def test_a_database_named_with_pf_db_is_used_and_its_missing_replica_said(directory):
    facts = Facts(directory, exchange(FreeBusyFolder("x", "EX:/o=EUROPE/ou=Amsterdam", (EX2003_STORE,))))
    plan = plan_freebusy(facts, dn=ORPHAN, pf_db="PF01")
    assert plan.steps[0].after["attributes"]["siteFolderServer"][0].startswith("CN=PF01,")
    assert any("PF01 does NOT hold a replica (named with --pf-db)" in n for n in plan.notes)
