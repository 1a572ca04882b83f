"""Planning the free/busy fixes from facts: which steps, which database, and what is refused."""
from __future__ import annotations

import dataclasses

import pytest

from exops.facts.store import Facts
from exops.lab.directory_layout import all_entries
from exops.lab.ldif_export import write_ldif
from exops.lab.scenario import load_scenario
from exops.plan import Plan
from exops.fixes.freebusy import FixRefused, plan_freebusy, plan_rewrite
from exops.sources.ldif import read_ldif_facts

ORPHAN = "/o=EUROPE/ou=First Administrative Group"


@pytest.fixture(scope="module")
def directory(tmp_path_factory):
    path = tmp_path_factory.mktemp("l") / "litware.ldf"
    write_ldif(path, all_entries(load_scenario("litware")))
    return read_ldif_facts(path)


def test_plan_creates_the_ag_on_the_newest_exchange_database_and_says_why(directory):
    # PF01 (Exchange 2010) and the Exchange 2003 store are each the siteFolderServer of one AG:
    # the tie goes to the newest version, never to the store the migration is retiring.
    plan = plan_freebusy(Facts(directory), dn=ORPHAN)
    [step] = plan.steps
    assert step.action == "ldap.add" and step.before == {"exists": False, "attributes": {}}
    assert step.after["attributes"]["legacyExchangeDN"] == [ORPHAN]
    assert step.after["attributes"]["siteFolderServer"][0].startswith("CN=PF01,")
    assert "legacyExchangeDN: /o=EUROPE/ou=First Administrative Group" in step.preview
    [note] = [n for n in plan.notes if n.startswith("siteFolderServer")]
    assert "Exchange 14.3 on L12EX1" in note and "not chosen: Public Folder Store (EX2003) (Exchange 6.5" in note


def test_a_retiring_server_is_never_chosen_and_choices_are_offered(directory):
    plan = plan_freebusy(Facts(directory), dn=ORPHAN, avoid_server="l12ex1")
    assert "EX2003" in plan.steps[0].after["attributes"]["siteFolderServer"][0]
    from exops.workbench import fix_spec
    [pf_db] = [p for p in fix_spec("freebusy").params if p.name == "pf_db"]
    choices = pf_db.choices(Facts(directory))
    assert [dn.split(",")[0] for dn, _ in choices] == ["CN=PF01", "CN=Public Folder Store (EX2003)"]
    assert "Exchange 14.3 on L12EX1" in choices[0][1]


def test_plan_puts_the_missing_public_folder_tree_first(directory):
    plan = plan_freebusy(Facts(dataclasses.replace(directory, public_folder_trees=())), dn=ORPHAN)
    assert plan.notes[0].startswith("FIRST: the directory has no public folder tree (FB-PF-TREE)")


def test_given_database_by_name_is_used(directory):
    plan = plan_freebusy(Facts(directory), dn=ORPHAN, pf_db="PF01")
    assert plan.steps[0].after["attributes"]["siteFolderServer"][0].startswith("CN=PF01,")


def test_missing_org_and_container_are_created_first(directory):
    bare = dataclasses.replace(directory, organizations=(), containers=())
    plan = plan_freebusy(Facts(bare), dn="/o=ASIA/ou=Tokyo", ag_name="Tokyo AG")
    assert [s.id for s in plan.steps] == ["create-org", "create-ag-container", "create-ag"]
    assert plan.steps[2].target.startswith("CN=Tokyo AG,CN=Administrative Groups,CN=ASIA,")
    assert any("one organization" in n for n in plan.notes)


def test_existing_ag_is_a_no_op_in_any_letter_case(directory):
    plan = plan_freebusy(Facts(directory), dn="/O=europe/OU=AMSTERDAM")
    assert plan.noop and "nothing to do" in plan.notes[0]


def test_existing_ag_with_other_site_folder_is_refused_unless_told(directory):
    with pytest.raises(FixRefused, match="--replace-site-folder"):
        plan_freebusy(Facts(directory), dn="/o=EUROPE/ou=Amsterdam", pf_db="PF01")
    plan = plan_freebusy(Facts(directory), dn="/o=EUROPE/ou=Amsterdam", pf_db="PF01",
                         replace_site_folder=True)
    [step] = plan.steps
    assert step.action == "ldap.modify" and "replace: siteFolderServer" in step.preview


def test_ag_without_site_folder_gets_one(directory):
    ags = tuple(dataclasses.replace(a, site_folder_server=None) if a.name == "Amsterdam" else a
                for a in directory.admin_groups)
    plan = plan_freebusy(Facts(dataclasses.replace(directory, admin_groups=ags)),
                         dn="/o=EUROPE/ou=Amsterdam")
    assert plan.steps[0].before["attributes"] == {"siteFolderServer": []}


@pytest.mark.parametrize("dn", ["First Administrative Group", "/o=EUROPE", "*)(objectClass=*"])
def test_values_that_are_not_ag_dns_are_refused(directory, dn):
    with pytest.raises(FixRefused, match="expected /o=<Organization>/ou=<Administrative Group>"):
        plan_freebusy(Facts(directory), dn=dn)


def test_no_public_folder_database_is_refused_with_the_reason(directory):
    none = dataclasses.replace(directory, public_folder_databases=())
    with pytest.raises(FixRefused, match="no public folder database"):
        plan_freebusy(Facts(none), dn=ORPHAN)


def test_rewrite_needs_the_live_directory_and_an_existing_target(directory):
    with pytest.raises(FixRefused, match="live directory"):
        plan_rewrite(Facts(directory), (), dn=ORPHAN, to_ag="Amsterdam")


def test_plan_round_trips_through_json(directory, tmp_path):
    plan = plan_freebusy(Facts(directory), dn=ORPHAN)
    plan.save(tmp_path / "p.json")
    assert Plan.load(tmp_path / "p.json") == plan
    (tmp_path / "bad.json").write_text('{"plan_version": 9}')
    with pytest.raises(ValueError, match="not an exops plan"):
        Plan.load(tmp_path / "bad.json")
