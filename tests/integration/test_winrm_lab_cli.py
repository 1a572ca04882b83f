"""`exops lab up|status|tick|down` with the Exchange side: detached WinRM endpoints beside the DC."""
from __future__ import annotations

import os

import pytest
import yaml

from tests.integration.lab_cli import lab_cli

pytestmark = pytest.mark.samba


def test_lab_runs_the_exchange_servers_and_stops_them(tmp_path):
    exops = lab_cli(tmp_path)

    try:
        up = exops("lab", "up")
        assert up.returncode == 0, up.stderr
        config = yaml.safe_load((tmp_path / "exops.lab.yaml").read_text())
        assert [s["name"] for s in config["exchange"]["servers"]] == ["L12EX1", "L12EX2"]
        assert config["exchange"]["transport"] == "ntlm" and config["exchange"]["ca_file"].endswith("ca.pem")
        status = exops("lab", "status")
        assert status.stdout.count("Exchange server (WinRM) https://127.0.0.1:") == 2
        check = exops("--config", "exops.lab.yaml", "check", "--only", "FB-FOLDER", "--format", "json")
        assert check.returncode == 2, check.stderr
        tick = exops("lab", "tick")
        assert tick.stdout.splitlines() == ["L12EX1: event 14031 for /o=EUROPE/ou=First Administrative Group",
                                            "L12EX2: event 14031 for /o=EUROPE/ou=First Administrative Group"]
        pid = yaml.safe_load((tmp_path / "home" / "litware" / "exchange" / "exchange-lab.json").read_text())["pid"]
    finally:
        down = exops("lab", "down")
    assert down.stdout.strip() == "lab litware: stopped"
    assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read().lower()
    assert "Exchange server" not in exops("lab", "status").stdout
