"""The fabrikam scenario, a messy decommissioning: every free/busy check finds something real,
in its offline bundle (the `exops` console script, as scripts run it) and in its Samba lab."""
from __future__ import annotations

import dataclasses
import json
import re

import pytest

from exops.diagnose import run_checks, select_checks
from exops.facts.directory import DirectoryFacts
from exops.facts.store import Facts
from exops.lab.samba import fresh_copy, golden_dc
from exops.lab.scenario import load_scenario
from exops.sources.directory import DirectorySource
from exops.sources.ldif import read_ldif_facts
from tests.conftest import REPO
from tests.integration.test_cli import exops

BUNDLE = REPO / "fixtures" / "scenarios" / "fabrikam" / "bundle"
CONFIG = "CN=FABRIKAM,CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=fabrikam,DC=com"
ORPHAN = "/o=FABRIKAM/ou=First Administrative Group"
RESOLVED = "/o=FABRIKAM/ou=Munich"
PARIS = f"CN=Paris,CN=Administrative Groups,{CONFIG}"
PARIS_PREFIX = "/o=FABRIKAM/ou=Paris"            # findings about an AG target its legacyExchangeDN
MODERN_PREFIX = "/o=FABRIKAM/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
BERLIN_SERVERS = f"CN=Servers,CN=Berlin,CN=Administrative Groups,{CONFIG}"
DIRECTORY_CHECKS = ("FB-ORPHAN-DN", "FB-SITEFOLDER", "FB-PF-TREE", "FB-EMPTY-SERVERS")
# The objectGUID Samba gives the deleted database is random; the export carries a stand-in.
DELETED_GUID = re.compile(r"(\\0ADEL:)[0-9a-fA-F-]{36}")


def findings_of(report: dict) -> dict[tuple[str, str], str]:
    return {(f["id"], f["target"]): f["severity"] for f in report["findings"]}


def test_fabrikam_bundle_reports_every_free_busy_problem_and_exits_critical():
    result = exops("check", "--bundle", str(BUNDLE), "--format", "json")
    assert result.returncode == 2, result.stderr
    report = json.loads(result.stdout)
    found = findings_of(report)

    # Only the unresolved orphan: Munich's AG was recreated.
    assert [t for (i, t), s in found.items() if i == "FB-ORPHAN-DN"] == [ORPHAN]
    assert found[("FB-ORPHAN-DN", ORPHAN)] == "critical"
    assert found[("FB-PF-TREE", MODERN_PREFIX)] == "critical"
    assert found[("FB-SITEFOLDER", PARIS_PREFIX)] == "critical"
    assert [t for (i, t) in found if i == "FB-SITEFOLDER"] == [PARIS_PREFIX]
    assert found[("FB-EMPTY-SERVERS", BERLIN_SERVERS)] == "warning"
    assert [t for (i, t) in found if i == "FB-EMPTY-SERVERS"] == [BERLIN_SERVERS]
    assert found[("FB-EVENT-8207", MODERN_PREFIX)] == "critical"      # 0x80070005: the tree
    assert found[("FB-EVENT-8207", PARIS_PREFIX)] == "critical"       # 0x80004005: Paris's folder
    assert found[("FB-EVENT-14031", ORPHAN)] == "critical"
    assert found[("FB-EVENT-14031", RESOLVED)] == "ok"
    assert found[("FB-EVENT-3047", RESOLVED)] == "ok"

    by_key = {(f["id"], f["target"]): f for f in report["findings"]}
    site = by_key[("FB-SITEFOLDER", PARIS_PREFIX)]
    assert "deleted" in site["summary"] and "30 mailboxes" in site["summary"]
    evidence = site["evidence"][0]
    assert evidence["data"]["dn"] == PARIS
    assert "\\0ADEL:" in evidence["data"]["attributes"]["siteFolderServer"]
    assert "CN=Deleted Objects,CN=Configuration,DC=fabrikam,DC=com" in evidence["data"]["attributes"]["siteFolderServer"]
    # Both spellings of the orphan, on both servers, count as one.
    orphan = by_key[("FB-EVENT-14031", ORPHAN)]
    assert "69 mailboxes" in by_key[("FB-ORPHAN-DN", ORPHAN)]["summary"]
    assert "fex01.fabrikam.com, fex02.fabrikam.com" in orphan["summary"]
    assert "resolved" in by_key[("FB-EVENT-14031", RESOLVED)]["summary"]
    assert "repaired" in by_key[("FB-EVENT-3047", RESOLVED)]["summary"]
    assert report["exit_code"] == 2


def _without_deleted_guid(facts: DirectoryFacts) -> DirectoryFacts:
    ags = tuple(dataclasses.replace(ag, site_folder_server=DELETED_GUID.sub(r"\1<guid>", ag.site_folder_server))
                if ag.site_folder_server else ag for ag in facts.admin_groups)
    return dataclasses.replace(facts, admin_groups=ags)


def _directory_findings(facts: DirectoryFacts) -> set[tuple]:
    report = run_checks(Facts(facts), "fabrikam", select_checks(DIRECTORY_CHECKS))
    return {(f.check_id, f.severity, f.target, f.summary, f.fixes) for f in report.findings}


@pytest.mark.samba
def test_live_fabrikam_lab_gives_the_same_directory_findings_as_its_bundle(tmp_path):
    dc = fresh_copy(golden_dc(load_scenario("fabrikam")), tmp_path / "dc")
    try:
        running = dc.start()
        with DirectorySource(running.directory_settings(), running.admin_password) as source:
            live = source.collect()
    finally:
        dc.stop()
    offline = read_ldif_facts(BUNDLE / "directory.ldf")

    [paris] = [ag for ag in live.admin_groups if ag.dn == PARIS]
    assert DELETED_GUID.search(paris.site_folder_server), paris.site_folder_server
    assert paris.site_folder_server.startswith("CN=Public Folder Store (PAREX01)\\0ADEL:")
    assert paris.site_folder_server.endswith(",CN=Deleted Objects,CN=Configuration,DC=fabrikam,DC=com")
    live, offline = _without_deleted_guid(live), _without_deleted_guid(offline)
    for field in ("organizations", "admin_groups", "servers", "public_folder_databases",
                  "public_folder_trees", "containers", "recipient_prefixes", "recipients_scanned"):
        assert getattr(live, field) == getattr(offline, field), field

    findings = _directory_findings(live)
    assert findings == _directory_findings(offline)
    assert {(i, s.value) for i, s, *_ in findings} >= {
        ("FB-ORPHAN-DN", "critical"), ("FB-SITEFOLDER", "critical"), ("FB-PF-TREE", "critical"),
        ("FB-EMPTY-SERVERS", "warning")}
