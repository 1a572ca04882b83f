"""`exops maintenance L12EX1 -- restart-store` on the litware lab as a user runs it: the real CLI,
a real HAProxy in front of the emulated CAS servers, the WinRM endpoints of the emulated
Exchange servers (reading the real Samba DC), and clients connecting through the balancer the
whole time. The store restart restarts L12EX1's CAS endpoints, so the balancer sees it."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from exops.journal import Journal
from exops.lab.client_load import ClientLoad
from exops.lab.haproxy import LabState, restart_backend, restart_balanced_backend
from tests.lb.conftest import wait_until
from tests.lb.test_lb_commands import admin, exops
from tests.winrm.lab import PASSWORD_ENV, exchange_lab

pytestmark = [pytest.mark.samba, pytest.mark.slow]
STAGES = ["lb.drain", "lb.sessions", "lb.maint", "lb.sessions", "winrm.restart-service", "winrm.service-state",
          "lb.probe", "lb.ready", "lb.health"]    # drain, its wait, maintenance, in-flight sessions, ...


@pytest.fixture
def lab_config(litware, litware_dc, balancer, tmp_path, monkeypatch):
    """exops.yaml with the lab's Exchange servers (whose store restart restarts the balancer's
    backends) and the lab balancer, like the one `exops lab up` writes."""
    monkeypatch.setenv(PASSWORD_ENV, litware_dc.admin_password)
    running = exchange_lab(litware, litware_dc, tmp_path / "exchange", balancer=Path(balancer.directory))
    config = tmp_path / "exops.yaml"
    config.write_text(yaml.safe_dump({
        "exchange": running.meta.exchange_settings(),
        "loadbalancers": [{"name": balancer.name, "type": "haproxy", "socket": balancer.socket,
                           "config": balancer.config, "serves": ["localhost"]}],
        "journal": str(tmp_path / "journal.sqlite")}))
    yield config
    running.stop()


def backend_pid(balancer, server: str) -> int:
    return LabState.load(Path(balancer.directory)).backends[server].pid


def test_restart_store_under_load_loses_no_client_and_undo_keeps_it_in_rotation(lab_config, balancer):
    was = backend_pid(balancer, "L12EX1")
    with ClientLoad(balancer.vip, 59531, clients=8) as load:
        wait_until(lambda: load.result.made > 50, what="load running")
        run = exops(lab_config, "maintenance", "L12EX1", "--timeout", "5", "--yes", "--", "restart-store")
        wait_until(lambda: load.result.reached["L12EX1"] > 0 or load.result.made > 5000, what="traffic again")
    assert run.returncode == 0, run.stdout + run.stderr
    assert load.result.failed == 0, load.result.errors
    assert load.result.reached["L12EX1"] > 0
    assert backend_pid(balancer, "L12EX1") != was, "the store restart did not restart L12EX1's endpoints"
    assert admin(balancer, "L12EX1") == {"ready"}
    change = Journal(str(lab_config.parent / "journal.sqlite")).changes(1)[0]
    actions = [s.step.action for s in change.steps]
    assert [a for i, a in enumerate(actions) if i == 0 or actions[i - 1] != a] == STAGES, actions
    assert change.status == "applied" and all(s.status == "verified" for s in change.steps)
    restart = next(s for s in change.steps if s.step.action == "winrm.restart-service")
    assert restart.step.executor == "winrm:L12EX1" and restart.after == {"restarted": True}

    undo = exops(lab_config, "undo", str(change.id), "--yes")
    assert undo.returncode == 0, undo.stdout + undo.stderr
    assert admin(balancer, "L12EX1") == {"ready"}
    assert Journal(str(lab_config.parent / "journal.sqlite")).change(change.id).status == "undone"


def test_a_store_that_fails_to_start_undoes_the_drain(lab_config, balancer):
    key = Path(balancer.directory) / "certs" / "l12ex1.key"
    os.rename(key, key.with_suffix(".away"))
    try:
        run = exops(lab_config, "maintenance", "L12EX1", "--timeout", "2", "--yes", "--", "restart-store")
    finally:
        os.rename(key.with_suffix(".away"), key)
    try:
        assert run.returncode == 1 and "undone" in run.stderr, run.stdout + run.stderr
        assert "Failed to start service" in run.stdout + run.stderr
        assert admin(balancer, "L12EX1") == {"ready"}
        change = Journal(str(lab_config.parent / "journal.sqlite")).changes(1)[0]
        assert change.status == "rolled-back"
    finally:
        restart_backend(Path(balancer.directory), "L12EX1")


def test_without_a_running_lab_balancer_a_store_restart_restarts_no_backend(tmp_path):
    assert restart_balanced_backend(tmp_path, "L12EX1") is False
