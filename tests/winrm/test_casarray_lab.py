"""The CAS array, RPC port and virtual directory checks on the lab's Exchange servers: clean on
litware, failing on litware-broken-cas. The emulated store reads the litware directory from its
ldifde export here (these checks need no directory), so no Samba DC is started."""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from exops.diagnose import run_checks, select_checks
from exops.config import Config, ExchangeSettings, ServerSettings
from exops.facts.directory import DirectoryFacts
from exops.facts.store import kind_named
from exops.lab.exchange_emulation import ExchangeLab, initial_state
from exops.lab.samba import issue_ca
from exops.lab.scenario import load_scenario
from exops.lab.winrm_lab import scenario_overrides, serve
from exops.sources.evidence import EvidenceFile
from exops.journal import Journal
from exops.sources.source import configured_sources
from exops.workbench import Workbench

from .conftest import LAB_PASSWORD

LDIF = Path(__file__).parents[2] / "fixtures" / "scenarios" / "litware" / "bundle" / "directory.ldf"
CAS_CHECKS = ("CAS-ARRAY", "CAS-RPC-ACCESS", "CAS-RPC-PORTS", "CAS-VDIR")


def litware_directory() -> DirectoryFacts:
    return EvidenceFile(kind_named("directory"), LDIF).facts().get(DirectoryFacts)


@contextmanager
def workbench(scenario_name: str, tmp_path: Path, monkeypatch) -> Iterator[Workbench]:
    """The scenario's Exchange servers served by the lab, as a Workbench with its own journal."""
    scenario = load_scenario(scenario_name)
    lab = ExchangeLab(tmp_path / "state.json", litware_directory)
    lab.path.write_text(json.dumps(initial_state(scenario, lab.directory, overrides=scenario_overrides(scenario))))
    issue_ca(tmp_path / "ca")
    monkeypatch.setenv("EXOPS_LAB_PASSWORD", LAB_PASSWORD)
    with serve(lab, scenario, tmp_path, ca_dir=tmp_path / "ca", password=LAB_PASSWORD, auth="basic") as running:
        meta = running.meta
        config = Config(exchange=ExchangeSettings(
            user=meta.user, password_env="EXOPS_LAB_PASSWORD", transport="basic", ca_file=meta.ca_file,
            servers=tuple(ServerSettings(e.server, e.url, e.roles) for e in meta.endpoints)))
        with Workbench(configured_sources(config), Journal(tmp_path / "journal.sqlite")) as bench:
            yield bench


def cas_findings(bench: Workbench) -> dict[str, set[tuple[str, str]]]:
    report = run_checks(bench.facts(), "lab", [c for c in select_checks() if c.id in CAS_CHECKS])
    out: dict[str, set[tuple[str, str]]] = {}
    for f in report.findings:
        out.setdefault(f.check_id, set()).add((f.severity.value, f.summary))
    return out


def findings(scenario_name: str, tmp_path: Path, monkeypatch) -> dict[str, set[tuple[str, str]]]:
    with workbench(scenario_name, tmp_path, monkeypatch) as bench:
        return cas_findings(bench)


def test_litware_passes_every_cas_check(tmp_path, monkeypatch):
    found = findings("litware", tmp_path, monkeypatch)
    assert set(found) == set(CAS_CHECKS)
    assert all(severity == "ok" for results in found.values() for severity, _ in results), found


@pytest.mark.parametrize("check_id, severity, words", [
    ("CAS-RPC-ACCESS", "critical", "database MDB01 on L12EX1 gives Outlook l12ex1.litware.com"),
    ("CAS-RPC-PORTS", "critical", "L12EX1: TCP/IP Port is 59531 but nothing listens there"),
    ("CAS-RPC-PORTS", "warning", "L12EX2: TCP/IP Port is 6001, outside 59531-60554"),
    ("CAS-RPC-PORTS", "critical", "L12EX2: RpcTcpPort is a DWord, not a String"),
    ("CAS-VDIR", "warning", "L12EX1: owa (Default Web Site) InternalUrl https://l12ex1.litware.com/owa names"),
    ("CAS-VDIR", "warning", "owa InternalUrl differs between client access servers"),
])
def test_litware_broken_cas_fails_them(tmp_path, monkeypatch, check_id, severity, words):
    found = findings("litware-broken-cas", tmp_path, monkeypatch)
    assert any(s == severity and words in summary for s, summary in found[check_id]), found[check_id]


def test_the_cas_fixes_repair_litware_broken_cas_and_the_database_change_undoes(tmp_path, monkeypatch):
    with workbench("litware-broken-cas", tmp_path, monkeypatch) as bench:
        access = bench.plan("rpc-client-access", {})
        assert [s.title for s in access.steps] == ["Point MDB01 at outlook.litware.com"]
        assert "Set-MailboxDatabase -Identity $database -RpcClientAccessServer" in access.steps[0].preview
        ports = bench.plan("static-rpc-ports", {})
        assert [s.title for s in ports.steps] == [
            "Restart MSExchangeRPC on L12EX1", "Restart MSExchangeAB on L12EX1",
            "Set TCP/IP Port = 59531 on L12EX2", "Set RpcTcpPort = 59532 on L12EX2",
            "Restart MSExchangeRPC on L12EX2", "Restart MSExchangeAB on L12EX2"]
        changed = bench.apply(access).change_id
        bench.apply(ports)
        after = cas_findings(bench)
        assert {s for s, _ in after["CAS-RPC-ACCESS"] | after["CAS-RPC-PORTS"]} == {"ok"}
        bench.undo(changed)
        assert any(s == "critical" and "MDB01" in text for s, text in cas_findings(bench)["CAS-RPC-ACCESS"])


def test_a_replica_left_on_a_gone_database_is_repaired_and_undone(tmp_path, monkeypatch):
    with workbench("litware", tmp_path, monkeypatch) as bench:
        lab_state = tmp_path / "state.json"
        state = json.loads(lab_state.read_text())
        state["public_folder_databases"].append({"name": "PF-OLD", "server": "OLDSERVER", "dn": "CN=PF-OLD"})
        state["folders"][0]["replicas"] = ["PF-OLD"]      # its server decommissioned, the database object left
        lab_state.write_text(json.dumps(state))
        folder = state["folders"][0]["name"]

        def replica_findings():
            report = run_checks(bench.facts(), "lab", [c for c in select_checks() if c.id == "FB-REPLICA"])
            return {(f.severity.value, f.target) for f in report.findings}

        assert replica_findings() == {("critical", folder)}
        plan = bench.plan("free-busy-replica", {"folder": folder})
        assert plan.steps[0].after == {"replicas": ["PF-OLD", "PF01"]}
        assert "Set-PublicFolder -Identity $identity -Replicas" in plan.steps[0].preview
        change = bench.apply(plan).change_id
        assert replica_findings() == {("ok", "SCHEDULE+ FREE BUSY")}
        bench.undo(change)
        assert replica_findings() == {("critical", folder)}
