"""The KEMP driver over HTTPS against the KEMP API emulator, which drives the lab's real HAProxy;
the emulator's wire format pinned byte for byte by golden files."""
from __future__ import annotations

import base64
import json
import ssl
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest

from exops.config import BalancerSettings
from exops.facts.loadbalancer import Balancer, RealServer, VirtualService
from exops.lab.kemp_emulator import Model, failure, serve, success
from exops.sources.loadbalancers.base import BalancerError, BalancerUnreachable
from exops.sources.loadbalancers.haproxy import HAProxyDriver
from exops.sources.loadbalancers.kemp import KempDriver, parse_response

GOLDEN = Path(__file__).parent / "golden"
PASSWORD = "kemp-lab-password"


def fixed_model() -> Model:
    members = (RealServer("L12EX1", "172.16.20.11:59531", "UP", "ready", 3, weight=100, total=40,
                          sticky_clients=("172.16.30.5",)),
               RealServer("L12EX2", "172.16.20.12:59531", "MAINT", "maint", 0, weight=100, total=7))
    vs = VirtualService("Exchange-RPC", "172.16.10.101", 59531, "source-ip", "round-robin", "tcp", 0, members)
    return Model(Balancer("vlm1", "haproxy", services=(vs,)), "litware.com", {})


@pytest.mark.parametrize("name, render", [
    ("kemp_listvs.xml", lambda m: success("".join(m.vs_element(i, vs, ms) for i, vs, ms in m.indexed()))),
    ("kemp_stats.xml", lambda m: success(m.stats())),
    ("kemp_error.xml", lambda m: failure(400, "Unknown VS")),
])
def test_wire_format_is_pinned(name, render):
    assert render(fixed_model()) == (GOLDEN / name).read_bytes()


def test_quirks_of_the_api_are_kept():
    stats = success(fixed_model().stats()).decode("iso-8859-1")
    listvs = success(fixed_model().vs_element(1, *list(fixed_model().indexed())[0][1:])).decode("iso-8859-1")
    assert "<ActiveConns>3</ActiveConns>" in stats and "<ActivConns>3</ActivConns>" in stats
    assert "<RSIndex>1</RSIndex>" in stats and "<RsIndex>1</RsIndex>" in listvs
    assert "<Enable>0</Enable>" in stats and "<Enable>N</Enable>" in listvs


def test_an_error_response_is_one_line():
    with pytest.raises(BalancerError, match="KEMP modrs: Unknown VS"):
        parse_response(failure(400, "Unknown VS"), "modrs")


@pytest.fixture(scope="module")
def kemp(lab_balancer, emulator_endpoint):
    address, cert, key = emulator_endpoint("kemp")
    server = serve(lab_balancer, address, 443, cert, key, PASSWORD, apikey="lab-api-key")
    yield address
    server.shutdown()
    server.server_close()


@pytest.fixture
def kemp_settings(kemp, lab_ca, monkeypatch) -> BalancerSettings:
    monkeypatch.setenv("EXOPS_TEST_KEMP", PASSWORD)
    return BalancerSettings(name="vlm1", type="kemp", url=f"https://{kemp}", user="bal",
                            password_env="EXOPS_TEST_KEMP", ca_file=str(lab_ca / "ca.pem"))


def test_reads_the_seed_services_as_kemp_shows_them(balancer, kemp_settings):
    b = KempDriver(kemp_settings).read()
    services = {vs.name: vs for vs in b.services}
    assert (services["Exchange-HTTPS"].persistence, services["Exchange-HTTPS"].health_check) == ("http", "GET /owa")
    assert services["Exchange-RPC"].persistence == "source-ip"
    assert {s.name for s in services["Exchange-AB"].servers} == {"L12EX1", "L12EX2"}
    assert all(s.status == "UP" for vs in b.services for s in vs.servers)


def test_disable_and_enable_reach_the_real_haproxy(balancer, kemp_settings):
    driver, haproxy = KempDriver(kemp_settings), HAProxyDriver(balancer.settings())
    driver.set_admin("Exchange-RPC", "L12EX2", "drain")
    assert haproxy.member("Exchange-RPC", "L12EX2").admin == "maint"
    assert driver.member("Exchange-RPC", "L12EX2").admin == "maint"
    driver.set_admin("Exchange-RPC", "L12EX2", "ready")
    assert haproxy.member("Exchange-RPC", "L12EX2").admin == "ready"


def test_tls_is_verified_and_bad_credentials_refused(kemp_settings, monkeypatch):
    with pytest.raises(BalancerUnreachable, match="certificate not trusted"):
        KempDriver(replace(kemp_settings, ca_file=None)).read()
    monkeypatch.setenv("EXOPS_TEST_KEMP", "wrong")
    with pytest.raises(BalancerError, match="refused"):
        KempDriver(kemp_settings).read()


def test_v2_json_answers_listvs_with_the_api_key(kemp, lab_ca):
    context = ssl.create_default_context(cafile=str(lab_ca / "ca.pem"))
    request = urllib.request.Request(f"https://{kemp}/accessv2", method="POST",
                                     data=json.dumps({"apikey": "lab-api-key", "cmd": "listvs"}).encode())
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        reply = json.loads(response.read())
    assert reply["status"] == "ok" and {vs["NickName"] for vs in reply["VS"]} >= {"Exchange-RPC"}
    basic = base64.b64encode(f"bal:{PASSWORD}".encode()).decode()
    plain = urllib.request.Request(f"https://{kemp}/access/get?param=slowstart",
                                   headers={"Authorization": f"Basic {basic}"})
    with urllib.request.urlopen(plain, context=context, timeout=10) as response:
        assert response.read().endswith(b"<Data><slowstart>0</slowstart></Data></Success></Response>")


def test_a_drain_through_the_engine_on_kemp_and_its_undo(balancer, kemp_settings, tmp_path):
    from exops.journal import Journal
    from exops.sources.loadbalancers import BalancerSource
    from exops.workbench import Workbench
    with Workbench([BalancerSource(KempDriver(kemp_settings))], Journal(str(tmp_path / "j.sqlite"))) as bench:
        plan = bench.plan("lb-drain", {"server": "L12EX1", "service": "Exchange-AB", "timeout": 5})
        assert "GET /access/modrs?vs=" in plan.describe()
        result = bench.apply(plan)
        assert KempDriver(kemp_settings).member("Exchange-AB", "L12EX1").admin == "maint"
        bench.undo(result.change_id)
    assert HAProxyDriver(balancer.settings()).member("Exchange-AB", "L12EX1").admin == "ready"
