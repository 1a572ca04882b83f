"""The HAProxy driver against a real HAProxy: reading by column name, every admin action, the
runtime API over UNIX and TCP sockets, and a drain that survives a restart."""
from __future__ import annotations

import socket
from dataclasses import replace

import pytest

from exops.lab.haproxy import RUNTIME_PORT, spawn, stop, wait_for_socket
from exops.sources.loadbalancers import BalancerSource
from exops.sources.loadbalancers.base import BalancerUnreachable, NotFound
from exops.sources.loadbalancers.haproxy import HAProxyDriver, admin_state, parse_stat, status_word
from exops.sources.loadbalancers.haproxy_config import parse_config
from exops.facts.loadbalancer import BalancerFacts
from tests.lb.conftest import wait_until


def test_stat_columns_are_read_by_name_whatever_their_order():
    text = "# svname,pxname,scur,status\nL12EX1,Exchange-RPC,3,UP 1/2\n\n"
    rows = parse_stat(text)
    assert rows == [{"svname": "L12EX1", "pxname": "Exchange-RPC", "scur": "3", "status": "UP 1/2"}]
    assert status_word(rows[0]["status"]) == "UP"
    assert status_word("no check") == "no check"


def test_admin_bits_tell_drain_from_maintenance():
    assert [admin_state(b) for b in (0, 0x08, 0x10, 0x01, 0x09, 0x20)] == \
        ["ready", "drain", "drain", "maint", "maint", "maint"]


def test_config_gives_what_the_runtime_api_does_not():
    config = parse_config("""
global
  server-state-file /var/lib/haproxy/state
defaults
  balance leastconn
  load-server-state-from-file global
frontend fe
  bind 10.0.0.5:443
  default_backend owa
backend owa
  option httpchk GET /owa/healthcheck.htm
  server a 10.0.1.1:443 check slowstart 30s
""")
    (listener, backend), = config.services()
    assert (listener.binds, backend.balance, backend.health_check, backend.slowstart) == \
        (["10.0.0.5:443"], "leastconn", "GET /owa/healthcheck.htm", 30)
    assert config.keeps_runtime_state


def test_reads_every_seed_service_with_its_rules(balancer):
    b = HAProxyDriver(balancer.settings()).read()
    services = {vs.port: vs for vs in b.services}
    assert sorted(services) == [135, 443, 59531, 59532]
    https, rpc = services[443], services[59531]
    assert (https.persistence, https.health_check, https.address) == ("http", "GET /owa", balancer.vip)
    assert (rpc.persistence, rpc.scheduling, rpc.health_check) == ("source-ip", "round-robin", "tcp")
    assert {s.name: (s.status, s.admin, s.check) for s in https.servers} == \
        {"L12EX1": ("UP", "ready", "L7OK"), "L12EX2": ("UP", "ready", "L7OK")}
    assert b.keeps_runtime_state and b.source_nat and not b.notes


def test_drain_maint_ready_and_weight_read_back(balancer):
    driver = HAProxyDriver(balancer.settings())
    for state, status in (("drain", "DRAIN"), ("maint", "MAINT"), ("ready", "UP")):
        driver.set_admin("Exchange-AB", "L12EX2", state)
        member = driver.member("Exchange-AB", "L12EX2")
        assert (member.admin, member.status) == (state, status)
    driver.set_weight("Exchange-AB", "L12EX2", 7)
    assert driver.member("Exchange-AB", "L12EX2").weight == 7


def test_runtime_api_over_tcp_reads_the_same(balancer):
    over_tcp = HAProxyDriver(replace(balancer.settings(), socket=None, url=f"tcp://{balancer.vip}:{RUNTIME_PORT}"))
    assert [vs.name for vs in over_tcp.read().services] == \
        [vs.name for vs in HAProxyDriver(balancer.settings()).read().services]


def test_unknown_server_and_missing_socket_are_one_line_errors(balancer, tmp_path):
    driver = HAProxyDriver(balancer.settings())
    with pytest.raises(NotFound, match="no real server 'L12EX9'"):
        driver.member("Exchange-RPC", "L12EX9")
    gone = HAProxyDriver(replace(balancer.settings(), socket=str(tmp_path / "none.sock"), config=None))
    with pytest.raises(BalancerUnreachable, match="is HAProxy running"):
        gone.read()


def test_source_collects_facts_and_probes_real_servers(balancer):
    source = BalancerSource(HAProxyDriver(replace(balancer.settings(), serves=("localhost",))))
    facts = source.facts().get(BalancerFacts)
    (b,) = facts.balancers
    assert all(s.answers for vs in b.services for s in vs.servers)
    assert b.names["localhost"]
    assert list(source.executors()) == [f"lb:{balancer.name}"]


def test_sessions_clients_and_persistence_are_seen(balancer):
    driver = HAProxyDriver(balancer.settings())
    with socket.create_connection((balancer.vip, 59531), source_address=("127.0.3.77", 0)) as conn:
        conn.sendall(b"hi\r\n")
        server = conn.recv(64).split(b" ")[0].decode()
        member = driver.member("Exchange-RPC", server)
        assert member.sessions == 1 and member.clients == ("127.0.3.77",)
        assert "127.0.3.77" in member.sticky_clients


def test_a_drain_survives_a_haproxy_restart(balancer):
    driver = HAProxyDriver(balancer.settings())
    driver.set_admin("Exchange-EPM", "L12EX1", "drain")
    stop(balancer.haproxy)
    balancer.haproxy = spawn(balancer.haproxy.argv, balancer.haproxy_log)
    balancer.save()
    wait_for_socket(balancer)
    assert driver.member("Exchange-EPM", "L12EX1").admin == "drain"
    wait_until(lambda: driver.member("Exchange-EPM", "L12EX2").status == "UP", what="L12EX2 UP again")
