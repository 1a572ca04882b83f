"""exops against the lab's Exchange servers: pywinrm over HTTPS + NTLM to the emulated store,
which reads the real Samba DC. The loop of the seed, end to end through the CLI."""
from __future__ import annotations

import json
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from exops.diagnose import run_checks
from exops.facts.events import EventFacts
from exops.facts.exchange import ExchangeFacts
from exops.lab.samba import issue_ca, issue_certificate
from exops.model import Severity
from exops.sources.powershell import RemoteShell, ScriptFailed
from exops.sources.source import collect_from, configured_sources
from tests.winrm.lab import PASSWORD_ENV, exchange_lab, lab_config, write_lab_config

pytestmark = pytest.mark.samba
ORPHAN = "/o=EUROPE/ou=First Administrative Group"


@pytest.fixture
def lab(litware, fresh_dc, tmp_path, monkeypatch):
    dc = fresh_dc().running
    monkeypatch.setenv(PASSWORD_ENV, dc.admin_password)
    running = exchange_lab(litware, dc, tmp_path / "exchange")
    yield dc, running
    running.stop()


def collect(config):
    sources = configured_sources(config)
    try:
        return collect_from(sources)
    finally:
        for source in sources:
            source.close()


def test_every_server_is_read_over_ntlm_with_its_live_events(lab):
    dc, running = lab
    facts = collect(lab_config(dc, running))
    exchange = facts.get(ExchangeFacts)
    assert [r.server for r in exchange.servers] == ["L12EX1", "L12EX2"]
    for report in exchange.servers:
        assert report.failures == {} and report.session == "snap-in"
        assert {"server", "public-folders", "events", "rpc-ports", "virtual-directories"} <= set(report.scripts)
        assert sorted(f.name for f in report.folders) == [
            "EX:/o=EUROPE/ou=Amsterdam", "EX:/o=EUROPE/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"]
    live = [s for s in facts.get(EventFacts).scans if s.path.startswith("winrm://")]
    assert {s.path for s in live} == {f"winrm://{server}/Application?script=events.ps1&session=snap-in"
                                      for server in ("L12EX1", "L12EX2")}
    assert all(g.event_id == 14031 and g.dn.casefold() == ORPHAN.casefold() for s in live for g in s.groups)


def test_a_down_server_is_unknown_and_the_other_still_counts(lab):
    dc, running = lab
    running.endpoints[1].stop()
    facts = collect(lab_config(dc, running))
    assert [r.server for r in facts.get(ExchangeFacts).servers] == ["L12EX1"]
    report = run_checks(facts, "lab")
    unknown = [f for f in report.findings if f.check_id == "FB-FOLDER" and f.severity is Severity.UNKNOWN]
    assert unknown and "L12EX2" in unknown[0].summary and "does not answer" in unknown[0].summary
    assert any(f.check_id == "FB-FOLDER" and f.severity is Severity.CRITICAL for f in report.findings)


def test_an_endpoint_that_answers_garbage_is_unknown_not_a_crash(lab, tmp_path):
    dc, running = lab
    ca = issue_ca(tmp_path / "ca")
    key, cert = issue_certificate(tmp_path / "ca", tmp_path / "tls", "junk", addresses=("127.0.0.1",))

    class Junk(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = b"<html>It works!</html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Junk)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = lab_config(dc, running, directory=False)
        junk = config.exchange.servers[0].__class__("JUNK", f"https://127.0.0.1:{server.server_address[1]}/wsman")
        from dataclasses import replace
        config = replace(config, exchange=replace(config.exchange, ca_file=str(ca), servers=(junk,)))
        facts = collect(config)
    finally:
        server.shutdown()
    assert facts.get(ExchangeFacts) is None
    assert "JUNK" in facts.unavailable[ExchangeFacts] and "WinRM" in facts.unavailable[ExchangeFacts]


def test_a_certificate_the_configuration_does_not_trust_is_refused(lab, tmp_path):
    dc, running = lab
    from dataclasses import replace
    config = lab_config(dc, running, directory=False)
    config = replace(config, exchange=replace(config.exchange, ca_file=str(issue_ca(tmp_path / "other"))))
    facts = collect(config)
    assert "not trusted" in facts.unavailable[ExchangeFacts] and "ca_file" in facts.unavailable[ExchangeFacts]


def test_a_failing_script_says_why_and_the_server_stays_usable(lab):
    dc, running = lab
    config = lab_config(dc, running)
    shell = RemoteShell(config.exchange.servers[0], config.exchange, dc.admin_password)
    try:
        with pytest.raises(ScriptFailed, match="restarts only"):
            shell.run("restart-service", {"service": "Spooler"})
        assert shell.run("server")["script"] == "server"
    finally:
        shell.close()


def test_awkward_values_survive_the_json_writer(lab):
    dc, running = lab
    awkward = 'EX:/o=Qu"ote\\Back\nNew\tTab/ou=Zürich ☃ 𝄞 \u2019'
    with running.lab.state() as data:
        data["folders"].append({"name": awkward, "replicas": ["PF01", ""]})
        data["servers"]["L12EX1"]["services"]["MSExchangeAB"] = "2011-08-01T06:00:00.123456+00:00"
    facts = collect(lab_config(dc, running, directory=False))
    report = facts.get(ExchangeFacts).report("L12EX1")
    assert any(f.name == awkward and f.replicas == ("PF01", "") for f in report.folders)
    started = {s.name: s.started for s in report.services}
    assert started["MSExchangeAB"].isoformat() == "2011-08-01T06:00:00.123456+00:00"


def test_the_store_creates_the_folder_only_for_an_admin_group_with_a_site_folder_server(lab):
    dc, running = lab
    assert running.lab.tick() == [f"L12EX1: event 14031 for {ORPHAN}", f"L12EX2: event 14031 for {ORPHAN}"]
    from exops.lab.lab_ldap import admin_connection
    conn = admin_connection(dc)
    pf01 = next(db.dn for db in running.lab.directory().public_folder_databases if db.name == "PF01")
    ag = f"CN=First Administrative Group,CN=Administrative Groups,CN=EUROPE,CN=Microsoft Exchange,CN=Services,CN=Configuration,{dc.base_dn}"
    assert conn.add(ag, ["top", "msExchAdminGroup"], {"legacyExchangeDN": ORPHAN, "siteFolderServer": pf01})
    assert running.lab.tick() == [f"L12EX1: created SCHEDULE+ FREE BUSY\\EX:{ORPHAN} (event 3047)"]
    assert running.lab.tick() == []
    evtx = running.lab.export_evtx("L12EX1", Path(running.lab.path).with_name("L12EX1.evtx"))
    assert evtx > 0


def run(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["exops", "--config", str(config), *args], capture_output=True, text=True, timeout=300)


def findings(config: Path) -> dict[str, set[str]]:
    result = run(config, "check", "--format", "json")
    out: dict[str, set[str]] = {}
    for f in json.loads(result.stdout)["findings"]:
        out.setdefault(f["id"], set()).add(f"{f['severity']} {f['target']}")
    return out


def test_the_seed_loop_closes_end_to_end(lab, tmp_path):
    """lab up → the 14031s, the orphaned DN and the missing folder → fix freebusy --restart-store →
    3047, folder, checks clean → undo → the finding is back."""
    dc, running = lab
    config = write_lab_config(dc, running, tmp_path / "exops.yaml", journal=tmp_path / "journal.sqlite")
    before = findings(config)
    assert f"critical {ORPHAN}" in before["FB-EVENT-14031"]
    assert f"critical {ORPHAN}" in before["FB-ORPHAN-DN"]
    assert f"critical {ORPHAN}" in before["FB-FOLDER"]

    fixed = run(config, "fix", "freebusy", "--dn", ORPHAN, "--restart-store", "--yes")
    assert fixed.returncode == 0, fixed.stderr
    assert "Restart the Information Store on L12EX1" in fixed.stdout
    assert "condition met" in fixed.stdout and "change 1: applied" in fixed.stdout

    after = findings(config)
    assert after["FB-ORPHAN-DN"] == {"ok all mailboxes"}
    assert after["FB-FOLDER"] == {"ok SCHEDULE+ FREE BUSY"}
    assert after["FB-EVENT-14031"] == {f"ok {ORPHAN}"}
    assert f"ok {ORPHAN}" in after["FB-EVENT-3047"]
    events = running.lab.read()["servers"]["L12EX1"]["events"]
    assert events[-1]["id"] == 3047 and ORPHAN in events[-1]["data"][0]

    undone = run(config, "undo", "1", "--yes")
    assert undone.returncode == 0, undone.stderr
    assert "cannot be undone" in undone.stdout
    assert f"critical {ORPHAN}" in findings(config)["FB-ORPHAN-DN"]


def test_a_bundle_collected_from_the_servers_checks_the_same_offline(lab, tmp_path):
    dc, running = lab
    config = write_lab_config(dc, running, tmp_path / "exops.yaml")
    collected = run(config, "collect", "-o", str(tmp_path / "bundle"))
    assert collected.returncode == 0, collected.stderr
    assert (tmp_path / "bundle" / "exchange.json").is_file()
    live = findings(config)
    offline = json.loads(subprocess.run(["exops", "check", "--bundle", str(tmp_path / "bundle"), "--format", "json"],
                                        capture_output=True, text=True, timeout=120).stdout)["findings"]
    for check_id in ("FB-FOLDER", "FB-REPLICA", "EX-SERVER", "FB-EVENT-14031", "CAS-RPC-PORTS"):
        assert {f"{f['severity']} {f['target']}" for f in offline if f["id"] == check_id} == live[check_id]


def test_the_servers_screen_lists_each_server_and_why_one_did_not_answer(lab, tmp_path):
    from exops.tui.screens.servers import server_rows
    dc, running = lab
    running.endpoints[1].stop()
    rows = server_rows(collect(lab_config(dc, running)))
    assert [(r[0], r[1]) for r in rows] == [("L12EX1", "answered"), ("L12EX2", "unreachable")]
    assert rows[0][2].startswith("Version 14.3") and rows[0][4] == "snap-in" and "public-folders" in rows[0][5]
    assert "does not answer" in rows[1][5]


async def test_the_servers_screen_shows_a_bundle_from_the_servers(lab, tmp_path):
    from exops.tui.app import ExopsApp
    from exops.tui.screens.servers import ServersScreen
    from tests.tui.helpers import screen_text, settle
    dc, running = lab
    config = write_lab_config(dc, running, tmp_path / "exops.yaml", directory=False)
    assert run(config, "collect", "-o", str(tmp_path / "bundle")).returncode == 0
    app = ExopsApp(bundle=str(tmp_path / "bundle"))
    async with app.run_test(size=(140, 30)) as pilot:
        await settle(app, pilot)
        await app.push_screen(ServersScreen())
        await pilot.pause()
        text = screen_text(app)
    assert "Exchange servers (WinRM)" in text
    rows = [line.strip(" │").split()[:2] for line in text.splitlines()]
    assert [row for row in rows if row and row[0].startswith("L12EX")] == [
        ["L12EX1", "answered"], ["L12EX2", "answered"]]


def test_the_freebusy_plan_reads_free_busy_replicas_from_the_servers(lab, tmp_path):
    """AD does not say which databases hold free/busy replicas; the servers do, and the plan says
    it asked them (the lab's PF01 holds the replica of its AG's site folder)."""
    dc, running = lab
    config = write_lab_config(dc, running, tmp_path / "exops.yaml")
    planned = run(config, "fix", "freebusy", "--dn", ORPHAN, "--dry-run")
    assert planned.returncode == 0, planned.stderr
    said = " ".join(planned.stdout.split())
    assert "free/busy replicas checked on the Exchange servers (public-folders.ps1 read by L12EX1" in said
    assert "PF01 holds a replica" in said and "could not be checked" not in said
