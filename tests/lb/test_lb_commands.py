"""`exops lb status|drain|enable`, `exops undo` and `exops maintenance` against a real HAProxy,
through the CLI as a user runs them (the engine, its journal and the lab's backends are real)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from exops.journal import Journal
from exops.lab.client_load import ClientLoad
from exops.sources.loadbalancers.haproxy import HAProxyDriver
from tests.lb.conftest import wait_until


def exops(config, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "exops", "--config", str(config), *args],
                          capture_output=True, text=True, env=env, timeout=300)


def admin(balancer, server: str) -> set[str]:
    return {vs.server(server).admin for vs in HAProxyDriver(balancer.settings()).read().services}


def test_status_shows_every_service_as_table_and_json(lb_config):
    table = exops(lb_config, "lb", "status")
    assert table.returncode == 0, table.stderr
    assert "Exchange-EPM" in table.stdout and "L7OK" in table.stdout
    data = json.loads(exops(lb_config, "lb", "status", "--format", "json").stdout)
    (b,) = data["balancers"]
    assert {vs["name"]: len(vs["servers"]) for vs in b["services"]} == \
        {"Exchange-HTTPS": 2, "Exchange-RPC": 2, "Exchange-AB": 2, "Exchange-EPM": 2}


def test_drain_then_undo_puts_the_server_back(lb_config, balancer):
    run = exops(lb_config, "lb", "drain", "L12EX1", "--timeout", "5", "--yes")
    assert run.returncode == 0, run.stdout + run.stderr
    assert admin(balancer, "L12EX1") == {"maint"} and admin(balancer, "L12EX2") == {"ready"}
    change = Journal(str(lb_config.parent / "journal.sqlite")).changes(1)[0]
    assert [s.step.action for s in change.steps][:4] == ["lb.drain"] * 4
    undo = exops(lb_config, "undo", str(change.id), "--yes")
    assert undo.returncode == 0, undo.stdout + undo.stderr
    assert admin(balancer, "L12EX1") == {"ready"}


def test_the_last_healthy_server_is_not_drained_without_force(lb_config, balancer):
    HAProxyDriver(balancer.settings()).set_admin("Exchange-AB", "L12EX2", "maint")
    refused = exops(lb_config, "lb", "drain", "L12EX1", "--yes")
    assert refused.returncode == 1 and "last healthy server of Exchange-AB" in refused.stderr
    assert admin(balancer, "L12EX1") == {"ready"}
    forced = exops(lb_config, "lb", "drain", "L12EX1", "--service", "Exchange-AB", "--force",
                   "--timeout", "2", "--yes")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "--force" in forced.stdout


def test_a_drain_reports_persistent_clients_and_ends_at_its_limit(lb_config, balancer):
    driver = HAProxyDriver(balancer.settings())
    with socket.create_connection((balancer.vip, 59531), source_address=("127.0.3.90", 0)) as held:
        held.sendall(b"stay\r\n")
        server = held.recv(64).split(b" ")[0].decode()
        run = exops(lb_config, "lb", "drain", server, "--service", "Exchange-RPC", "--timeout", "3", "--yes")
        assert run.returncode == 0, run.stdout + run.stderr
        assert "persistence sends here: 127.0.3.90" in run.stdout
        assert driver.member("Exchange-RPC", server).admin == "maint"


def test_enable_waits_for_up_and_ramps_the_weight(lb_config, balancer):
    driver = HAProxyDriver(balancer.settings())
    driver.set_weight("Exchange-HTTPS", "L12EX2", 100)
    driver.set_admin("Exchange-HTTPS", "L12EX2", "maint")
    run = exops(lb_config, "lb", "enable", "L12EX2", "--service", "Exchange-HTTPS", "--slow-ramp", "1", "--yes")
    assert run.returncode == 0, run.stdout + run.stderr
    member = driver.member("Exchange-HTTPS", "L12EX2")
    assert (member.admin, member.status, member.weight) == ("ready", "UP", 100)
    assert "start L12EX2 at weight 10" in run.stdout


def test_maintenance_under_load_loses_no_client(lb_config, balancer):
    with ClientLoad(balancer.vip, 59531, clients=8) as load:
        wait_until(lambda: load.result.made > 50, what="load running")
        run = exops(lb_config, "maintenance", "L12EX1", "--timeout", "5", "--yes", "--", "restart-backend")
        wait_until(lambda: load.result.reached["L12EX1"] > 0 or load.result.made > 5000, what="traffic again")
    assert run.returncode == 0, run.stdout + run.stderr
    assert load.result.failed == 0, load.result.errors
    assert admin(balancer, "L12EX1") == {"ready"}
    change = Journal(str(lb_config.parent / "journal.sqlite")).changes(1)[0]
    actions = [s.step.action for s in change.steps]
    order = [actions.index(a) for a in ("lb.drain", "lb.sessions", "lab.restart", "lb.probe", "lb.ready", "lb.health")]
    assert order == sorted(order) and change.status == "applied"
    assert all(s.status == "verified" for s in change.steps)


def test_a_failed_action_undoes_the_drain(lb_config, balancer):
    os.rename(balancer.directory + "/certs/l12ex2.key", balancer.directory + "/certs/l12ex2.key.away")
    try:
        run = exops(lb_config, "maintenance", "L12EX2", "--timeout", "2", "--yes", "--", "restart-backend")
    finally:
        os.rename(balancer.directory + "/certs/l12ex2.key.away", balancer.directory + "/certs/l12ex2.key")
    assert run.returncode == 1 and "undone" in run.stderr
    assert admin(balancer, "L12EX2") == {"ready"}
    from exops.lab.haproxy import restart_backend
    restart_backend(balancer.directory, "L12EX2")
