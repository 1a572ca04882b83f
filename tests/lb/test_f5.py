"""The F5 driver over HTTPS (token auth) against the iControl REST emulator, which drives the
lab's real HAProxy; the emulator's JSON shapes pinned by golden files."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from exops.config import BalancerSettings
from exops.facts.loadbalancer import RealServer
from exops.lab.f5_emulator import member_json, member_stats, serve
from exops.sources.loadbalancers.base import BalancerError
from exops.sources.loadbalancers.f5 import F5Driver, nested
from exops.sources.loadbalancers.haproxy import HAProxyDriver

GOLDEN = Path(__file__).parent / "golden"
PASSWORD = "f5-lab-password"
MEMBER = RealServer("L12EX1", "172.16.20.11:59531", "DRAIN", "drain", 2, weight=1, total=9, check="L4OK")


@pytest.mark.parametrize("name, shape", [("f5_member.json", member_json), ("f5_member_stats.json", member_stats)])
def test_wire_format_is_pinned(name, shape):
    text = json.dumps(shape("Exchange-RPC", MEMBER), indent=1, sort_keys=True) + "\n"
    assert text == (GOLDEN / name).read_text()


def test_stats_counters_sit_under_the_members_stats_url():
    stats = member_stats("Exchange-RPC", MEMBER)
    (link,) = stats["entries"]
    assert link.endswith("/members/~Common~L12EX1:59531/stats")
    assert nested(stats)["serverside.curConns"] == {"value": 2}


@pytest.fixture(scope="module")
def f5(lab_balancer, emulator_endpoint):
    address, cert, key = emulator_endpoint("f5")
    server = serve(lab_balancer, address, 443, cert, key, PASSWORD)
    yield address, server.api
    server.shutdown()
    server.server_close()


@pytest.fixture
def f5_settings(f5, lab_ca, monkeypatch) -> BalancerSettings:
    monkeypatch.setenv("EXOPS_TEST_F5", PASSWORD)
    return BalancerSettings(name="bigip", type="f5", url=f"https://{f5[0]}", user="admin",
                            password_env="EXOPS_TEST_F5", ca_file=str(lab_ca / "ca.pem"))


def test_reads_pools_members_monitors_and_persistence(balancer, f5_settings):
    driver = F5Driver(f5_settings)
    b = driver.read()
    services = {vs.name: vs for vs in b.services}
    assert services["Exchange-HTTPS"].health_check == "GET /owa"
    assert (services["Exchange-RPC"].persistence, services["Exchange-RPC"].scheduling) == ("source-ip", "round-robin")
    assert b.source_nat and all(s.status == "UP" for vs in b.services for s in vs.servers)
    driver.close()


def test_drain_forced_offline_and_enable_reach_the_real_haproxy(balancer, f5_settings):
    driver, haproxy = F5Driver(f5_settings), HAProxyDriver(balancer.settings())
    for state in ("drain", "maint", "ready"):
        driver.set_admin("Exchange-EPM", "L12EX2", state)
        assert haproxy.member("Exchange-EPM", "L12EX2").admin == state
        assert driver.member("Exchange-EPM", "L12EX2").admin == state
    driver.close()


def test_an_expired_token_logs_in_again_and_close_logs_out(balancer, f5_settings, f5):
    driver = F5Driver(f5_settings)
    driver.read()
    f5[1].tokens.clear()                 # the BIG-IP forgot the token (expiry)
    assert driver.read().services
    token = driver.token
    driver.close()
    assert token not in f5[1].tokens


def test_wrong_password_and_untrusted_certificate(f5_settings, monkeypatch):
    with pytest.raises(BalancerError, match="certificate not trusted"):
        F5Driver(replace(f5_settings, ca_file=None)).read()
    monkeypatch.setenv("EXOPS_TEST_F5", "wrong")
    with pytest.raises(BalancerError, match="login as admin refused"):
        F5Driver(f5_settings).read()
