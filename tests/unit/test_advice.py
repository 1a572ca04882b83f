"""Suggested commands run as printed in the report's own context, and are safe to paste; the
rewrite fix previews from a bundle's export and refuses values already in use."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from exops.affected import EvidenceRecipients, bundle_entries, ldif_entries
from exops.collect import gather_facts
from exops.fixes.freebusy import FixRefused, plan_rewrite
from exops.sources.bundle_writer import write_bundle
from tests.conftest import REPO

FABRIKAM = REPO / "fixtures" / "scenarios" / "fabrikam" / "bundle"
PARTIAL = REPO / "fixtures" / "scenarios" / "partial"
MODERN = "Exchange Administrative Group (FYDIBOHF23SPDLT)"


def exops(*args, cwd):
    env = {**os.environ, "EXOPS_CONFIG": str(cwd / "absent.yaml")}
    return subprocess.run([sys.executable, "-m", "exops", *args], capture_output=True, text=True,
                          cwd=cwd, env=env)


def user(dn, legacy):
    return (f"dn: {dn}\nobjectClass: user\nlegacyExchangeDN: {legacy}\n"
            "homeMDB: CN=MDB01,CN=InformationStore,CN=L12EX1,CN=Servers,DC=litware,DC=com\n\n")


def test_every_suggested_command_of_a_bundle_report_runs_as_printed(tmp_path):
    report = json.loads(exops("check", "--bundle", str(FABRIKAM), "--format", "json", cwd=tmp_path).stdout)
    commands = [c for f in report["findings"] for c in f["fixes"]]
    assert len(commands) >= 4 and all(f"--bundle {FABRIKAM} --dry-run" in c for c in commands)
    assert any("--replace-site-folder" in c for c in commands)        # FB-SITEFOLDER's needs it
    for command in commands:
        result = subprocess.run(["bash", "-c", command.replace("exops ", f"{sys.executable} -m exops ", 1)],
                                capture_output=True, text=True, cwd=tmp_path)
        assert result.returncode == 0, (command, result.stderr)


def test_a_dn_holding_shell_syntax_is_quoted_not_run(tmp_path):
    evil = "/o=EUROPE/ou=Evil $(touch PWNED) `touch PWNED2`"
    ldif = tmp_path / "evil.ldf"
    ldif.write_text((PARTIAL / "config-only.ldf").read_text()
                    + user("CN=Mallory,OU=Users,DC=litware,DC=com", f"{evil}/cn=Recipients/cn=mallory"))
    bundle = write_bundle(tmp_path / "b", files={"directory": [ldif]})
    report = json.loads(exops("check", "--bundle", str(bundle), "--format", "json", cwd=tmp_path).stdout)
    [orphan] = [f for f in report["findings"] if f["id"] == "FB-ORPHAN-DN"]
    for command in orphan["fixes"]:
        subprocess.run(["bash", "-c", command.replace("exops ", f"{sys.executable} -m exops ", 1)],
                       capture_output=True, cwd=tmp_path)
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "PWNED2").exists()
    assert f"--dn '{evil}'" in orphan["fixes"][0]


def test_the_rewrite_previews_from_a_bundle_and_says_what_it_does_not_fix():
    facts, _ = gather_facts(bundle=str(FABRIKAM))
    plan = plan_rewrite(facts, [EvidenceRecipients(bundle_entries(FABRIKAM), "bundle")],
                        dn="/o=FABRIKAM/ou=First Administrative Group", to_ag=MODERN)
    assert len(plan.steps) == 70                # 69 mailboxes in two spellings and one group
    assert any("delegate" in n for n in plan.notes) and any("checked unique" in n for n in plan.notes)


def test_the_rewrite_refuses_a_new_value_already_in_use(tmp_path):
    ldif = tmp_path / "clash.ldf"
    ldif.write_text((PARTIAL / "config-only.ldf").read_text()
                    + user("CN=Old Bob,OU=Users,DC=litware,DC=com",
                           "/o=EUROPE/ou=First Administrative Group/cn=Recipients/cn=bob")
                    + user("CN=New Bob,OU=Users,DC=litware,DC=com",
                           f"/o=EUROPE/ou={MODERN}/cn=Recipients/cn=BOB"))
    facts, _ = gather_facts(ldif=(str(ldif),))
    with pytest.raises(FixRefused, match="already in use.*by CN=New Bob"):
        plan_rewrite(facts, [EvidenceRecipients(ldif_entries([ldif]), "test")],
                     dn="/o=EUROPE/ou=First Administrative Group", to_ag=MODERN)
