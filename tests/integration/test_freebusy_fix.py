"""The free/busy fix end to end against a real Samba AD DC: check, fix, verify, undo, re-run,
concurrency, crash recovery. Every command runs the real `exops` CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from ldap3 import BASE, Connection, Server, Tls
import ssl

from exops.dn import admin_group_dn

pytestmark = pytest.mark.samba

ORPHAN = "/o=EUROPE/ou=First Administrative Group"
AG_DN = admin_group_dn("DC=litware,DC=com", "EUROPE", "First Administrative Group")


@pytest.fixture
def lab(fresh_dc, tmp_path):
    """A fresh litware DC, an exops.yaml for it (validated LDAPS) and the environment to run exops."""
    dc = fresh_dc().running
    config = tmp_path / "exops.yaml"
    config.write_text(
        f"directory:\n  url: {dc.url_ldaps}\n  user: {dc.admin_user}\n"
        f"  password_env: EXOPS_LDAP_PASSWORD\n  ca_file: {dc.ca_file}\n"
        f"journal: {tmp_path / 'journal.sqlite'}\n")
    env = {**os.environ, "EXOPS_LDAP_PASSWORD": dc.admin_password, "EXOPS_CONFIG": str(config)}
    env.pop("EXOPS_FAULT", None)
    return dc, env


def exops(env, *args, check=None, **popen):
    result = subprocess.run([sys.executable, "-m", "exops", *args], env=env, capture_output=True,
                            text=True, timeout=120, stdin=subprocess.DEVNULL)
    if check is not None:
        assert result.returncode == check, result.stdout + result.stderr
    return result


def read_ag(dc):
    tls = Tls(ca_certs_file=dc.ca_file, validate=ssl.CERT_REQUIRED)
    conn = Connection(Server(dc.url_ldaps, use_ssl=True, tls=tls), dc.admin_user, dc.admin_password,
                      auto_bind=True)
    found = conn.search(AG_DN, "(objectClass=*)", BASE, attributes=["legacyExchangeDN", "siteFolderServer"])
    entry = conn.entries[0] if found and conn.entries else None
    conn.unbind()
    return entry


def orphan_findings(env):
    out = exops(env, "check", "--only", "FB-ORPHAN-DN", "--format", "json")
    report = json.loads(out.stdout)
    return out.returncode, [f for f in report["findings"] if f["severity"] == "critical"]


def test_fix_check_undo_round_trip(lab):
    dc, env = lab
    code, found = orphan_findings(env)
    assert code == 2 and found[0]["target"] == ORPHAN and "152 mailboxes" in found[0]["summary"]

    dry = exops(env, "fix", "freebusy", "--dn", ORPHAN, "--dry-run", check=0)
    assert "changetype: add" in dry.stdout and read_ag(dc) is None

    refused = exops(env, "fix", "freebusy", "--dn", ORPHAN, check=3)   # a usage error: UNKNOWN
    assert "--yes" in refused.stderr and read_ag(dc) is None

    applied = exops(env, "fix", "freebusy", "--dn", ORPHAN, "--yes", check=0)
    assert "verified" in applied.stdout
    ag = read_ag(dc)
    assert str(ag.legacyExchangeDN) == ORPHAN
    assert str(ag.siteFolderServer).startswith("CN=PF01,CN=InformationStore,CN=L12EX1,")
    assert orphan_findings(env) == (0, [])

    again = exops(env, "fix", "freebusy", "--dn", ORPHAN.upper(), "--yes", check=0)
    assert "nothing to do" in again.stdout

    history = json.loads(exops(env, "history", "--format", "json", check=0).stdout)
    assert history[0]["status"] == "applied" and history[0]["steps"][0]["before"]["exists"] is False
    exops(env, "undo", str(history[0]["id"]), "--yes", check=0)
    assert read_ag(dc) is None
    assert orphan_findings(env)[0] == 2


def test_bad_input_changes_nothing_and_says_why(lab):
    dc, env = lab
    bad_dn = exops(env, "fix", "freebusy", "--dn", "First Administrative Group", "--yes", check=1)
    assert "expected /o=<Organization>/ou=<Administrative Group>" in bad_dn.stderr
    assert "Traceback" not in bad_dn.stderr
    injection = exops(env, "fix", "freebusy-rewrite", "--dn", ORPHAN, "--to-ag", "Amsterdam",
                      "--users", "*)(objectClass=*", "--yes", check=3)   # a usage error: UNKNOWN
    assert "not a valid LDAP filter" in injection.stderr or "one parenthesised" in injection.stderr
    nobody = exops(env, "fix", "freebusy-rewrite", "--dn", "/o=EUROPE/ou=Nobody*)(cn=*", "--to-ag",
                   "Amsterdam", "--yes", check=1)
    assert "no recipient" in nobody.stderr
    unknown_db = exops(env, "fix", "freebusy", "--dn", ORPHAN, "--pf-db", "CN=Nope", "--yes", check=1)
    assert "is not a public folder database" in unknown_db.stderr
    assert read_ag(dc) is None


def test_saved_plan_applies_and_a_stale_one_is_refused(lab, tmp_path):
    dc, env = lab
    plan = tmp_path / "plan.json"
    exops(env, "fix", "freebusy", "--dn", ORPHAN, "--plan-out", str(plan), check=0)
    assert read_ag(dc) is None
    stale = tmp_path / "stale.json"
    exops(env, "fix", "freebusy", "--dn", ORPHAN, "--plan-out", str(stale), check=0)
    exops(env, "apply", str(plan), "--yes", check=0)
    assert read_ag(dc) is not None
    # The stale plan expected no AG; one exists now, made by the first plan: found, not re-made.
    found = exops(env, "apply", str(stale), "--yes", check=0)
    assert "found" in found.stdout
    history = json.loads(exops(env, "history", "--format", "json", check=0).stdout)
    assert [c["status"] for c in history] == ["applied"]   # finding it in place journals nothing
    exops(env, "undo", str(history[0]["id"]), "--yes", check=0)
    # Now someone else creates the AG with other attributes: the saved plan is stale.
    exops(env, "fix", "freebusy", "--dn", ORPHAN, "--yes", "--pf-db", "Public Folder Store (EX2003)", check=0)
    refused = exops(env, "apply", str(plan), "--yes", check=1)
    assert "changed since the plan was made" in refused.stderr


def test_rewrite_moves_users_keeps_proxies_and_undoes(lab):
    dc, env = lab
    args = ("fix", "freebusy-rewrite", "--dn", ORPHAN, "--to-ag",
            "Exchange Administrative Group (FYDIBOHF23SPDLT)", "--users", "(mailNickname=euw*)")
    plan = exops(env, *args, "--dry-run", check=0)
    assert plan.stdout.count("Rewrite legacyExchangeDN") == 12
    exops(env, *args, "--yes", check=0)
    tls = Tls(ca_certs_file=dc.ca_file, validate=ssl.CERT_REQUIRED)
    conn = Connection(Server(dc.url_ldaps, use_ssl=True, tls=tls), dc.admin_user, dc.admin_password, auto_bind=True)
    conn.search(dc.base_dn, "(mailNickname=euw01)", attributes=["legacyExchangeDN", "proxyAddresses"])
    entry = conn.entries[0]
    assert str(entry.legacyExchangeDN).startswith("/o=EUROPE/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/")
    proxies = set(entry.proxyAddresses.values)
    assert "SMTP:euw01@litware.com" in proxies
    assert "X500:/O=Europe/OU=first administrative group/cn=Recipients/cn=euw01" in proxies
    history = json.loads(exops(env, "history", "--format", "json", check=0).stdout)
    exops(env, "undo", str(history[0]["id"]), "--yes", check=0)
    conn.search(dc.base_dn, "(mailNickname=euw01)", attributes=["legacyExchangeDN", "proxyAddresses"])
    assert str(conn.entries[0].legacyExchangeDN) == "/O=Europe/OU=first administrative group/cn=Recipients/cn=euw01"
    assert set(conn.entries[0].proxyAddresses.values) == {"SMTP:euw01@litware.com"}


def test_two_concurrent_runs_create_one_ag(lab):
    dc, env = lab
    runs = [subprocess.Popen([sys.executable, "-m", "exops", "fix", "freebusy", "--dn", ORPHAN, "--yes"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             stdin=subprocess.DEVNULL) for _ in range(2)]
    outputs = [r.communicate(timeout=120) for r in runs]
    assert [r.returncode for r in runs] == [0, 0], outputs
    assert read_ag(dc) is not None
    history = json.loads(exops(env, "history", "--format", "json", check=0).stdout)
    statuses = sorted(c["status"] for c in history)
    # One run made it; the other either planned after it (nothing to do) or found it at apply.
    made = [c for c in history if c["status"] == "applied"]
    assert len(made) == 1, statuses
    assert any("found" in out or "nothing to do" in out for out, _ in outputs)


@pytest.mark.parametrize("fault", ["after-journal", "after-write"])
def test_killed_run_is_recovered_by_undo_or_rerun(lab, fault):
    dc, env = lab
    killed = exops({**env, "EXOPS_FAULT": fault}, "fix", "freebusy", "--dn", ORPHAN, "--yes")
    assert killed.returncode == -9
    assert (read_ag(dc) is not None) == (fault == "after-write")
    history = json.loads(exops(env, "history", "--format", "json", check=0).stdout)
    assert history[0]["status"] == "applying" and history[0]["steps"][0]["status"] == "journaled"
    # A re-run reaches the fixed state either way...
    exops(env, "fix", "freebusy", "--dn", ORPHAN, "--yes", check=0)
    assert read_ag(dc) is not None
    # ...and undoing the interrupted change is safe: it did nothing, or what it did is undone.
    undo = exops(env, "undo", str(history[0]["id"]), "--yes")
    if fault == "after-journal":
        assert undo.returncode == 0 and read_ag(dc) is not None
    else:
        assert undo.returncode == 0 and read_ag(dc) is None


def test_collect_writes_a_bundle_the_checks_read_offline(lab, tmp_path):
    dc, env = lab
    bundle = tmp_path / "evidence.zip"
    out = exops(env, "collect", "-o", str(bundle), check=0)
    assert "555 recipients" in out.stdout
    assert dc.admin_password.encode() not in bundle.read_bytes()
    offline = exops({k: v for k, v in env.items() if k != "EXOPS_CONFIG"}, "check", "--bundle", str(bundle),
                    "--only", "FB-ORPHAN-DN", "--format", "json")
    assert offline.returncode == 2
    assert json.loads(offline.stdout)["findings"][0]["target"] == ORPHAN


def test_plain_ldap_works_only_when_insecure_is_said(lab, tmp_path):
    dc, env = lab
    config = tmp_path / "plain.yaml"
    config.write_text(f"directory:\n  url: {dc.url_ldap}\n  user: {dc.admin_user}\n"
                      "  password_env: EXOPS_LDAP_PASSWORD\n")
    refused = exops({**env, "EXOPS_CONFIG": str(config)}, "check", check=3)
    assert "insecure: true" in refused.stderr
    config.write_text(config.read_text() + "  insecure: true\n")
    assert exops({**env, "EXOPS_CONFIG": str(config)}, "check", "--only", "FB-ORPHAN-DN").returncode == 2


def run_on_terminal(env, args, answer):
    """Run exops on a real pseudo-terminal, answer its question, return what it printed."""
    import pty
    import select
    main, secondary = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "exops", *args], env=env, stdin=secondary,
                            stdout=secondary, stderr=secondary, close_fds=True)
    os.close(secondary)
    seen, answered = b"", False
    try:
        while proc.poll() is None or select.select([main], [], [], 0.1)[0]:
            if select.select([main], [], [], 1)[0]:
                try:
                    chunk = os.read(main, 4096)
                except OSError:
                    break
                seen += chunk
                if not answered and b"[y/N]" in seen:
                    os.write(main, answer.encode() + b"\r")
                    answered = True
    finally:
        proc.wait(timeout=60)
        os.close(main)
    return proc.returncode, seen.decode(errors="replace")


@pytest.mark.parametrize("answer, applied", [("n", False), ("y", True)])
def test_interactive_run_asks_before_changing(lab, answer, applied):
    dc, env = lab
    code, out = run_on_terminal(env, ["fix", "freebusy", "--dn", ORPHAN], answer)
    assert "Apply these 1 step(s)" in out and "changetype: add" in out
    assert (read_ag(dc) is not None) == applied
    assert code == (0 if applied else 1)
