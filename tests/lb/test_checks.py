"""The seed's balancer checks: built facts for each warning, and the lab's real HAProxy for the
OK results (what a correctly built seed setup looks like)."""
from __future__ import annotations

from dataclasses import replace

from exops.diagnose import run_checks, select_checks
from exops.facts.loadbalancer import Balancer, BalancerFacts, RealServer, VirtualService
from exops.facts.store import Facts
from exops.model import Severity
from exops.sources.loadbalancers import BalancerSource
from exops.sources.loadbalancers.haproxy import HAProxyDriver

IDS = ("LB-VS-SEED", "LB-HEALTH-URL", "LB-SLOWSTART", "LB-PERSIST-SNAT", "LB-ADMIN-ON-VIP",
       "LB-DRAIN-STUCK", "LB-HEALTH-MISMATCH", "LB-SNAT", "LB-CAS-ARRAY-VIP")


def server(name: str, **kw) -> RealServer:
    return RealServer(**{"name": name, "address": f"10.0.1.{name[-1]}:59531", "status": "UP",
                         "admin": "ready", "sessions": 0, "answers": True, **kw})


def seed(**changes) -> Balancer:
    services = tuple(VirtualService(name=n, address="172.16.10.101", port=p, persistence=pers,
                                    scheduling="round-robin", health_check="GET /owa" if p == 443 else "tcp",
                                    slow_ramp=0, servers=(server("L12EX1"), server("L12EX2")))
                     for n, p, pers in (("Exchange-HTTPS", 443, "http"), ("Exchange-RPC", 59531, "source-ip"),
                                        ("Exchange-AB", 59532, "source-ip"), ("Exchange-EPM", 135, "source-ip")))
    return replace(Balancer(name="vlm1", kind="kemp", admin_address="172.16.10.5:443", source_nat=False,
                            names={"outlook.litware.com": ("172.16.10.101",)}, services=services), **changes)


def findings(balancer: Balancer, only: str) -> list:
    specs = [s for s in select_checks() if s.id == only]
    return list(run_checks(Facts(BalancerFacts((balancer,))), "test", specs).findings)


def worst(balancer: Balancer, only: str) -> Severity:
    return max((f.severity for f in findings(balancer, only)), key=lambda s: s.rank)


def with_service(balancer: Balancer, port: int, **changes) -> Balancer:
    return replace(balancer, services=tuple(replace(vs, **changes) if vs.port == port else vs
                                            for vs in balancer.services))


def test_the_seeds_own_setup_is_ok_everywhere():
    assert {i: worst(seed(), i) for i in IDS} == {i: Severity.OK for i in IDS}


def test_a_missing_service_or_wrong_persistence_is_a_warning():
    missing = replace(seed(), services=seed().services[:3])
    assert "no virtual service on port 135" in findings(missing, "LB-VS-SEED")[-1].summary
    wrong = with_service(seed(), 59531, persistence="none")
    assert worst(wrong, "LB-VS-SEED") is Severity.WARNING


def test_a_port_only_health_check_on_https_is_a_warning():
    assert worst(with_service(seed(), 443, health_check="tcp"), "LB-HEALTH-URL") is Severity.WARNING
    assert worst(with_service(seed(), 59531, health_check="none"), "LB-HEALTH-URL") is Severity.WARNING


def test_least_connection_without_slow_ramp_warns_of_the_storm():
    storm = with_service(seed(), 443, scheduling="least-connection")
    assert worst(storm, "LB-SLOWSTART") is Severity.WARNING
    assert worst(with_service(storm, 443, slow_ramp=30), "LB-SLOWSTART") is Severity.OK


def test_source_ip_persistence_from_one_address_is_the_snat_warning():
    piled = with_service(seed(), 59531, servers=(
        server("L12EX1", sessions=40, clients=("192.0.2.1",)), server("L12EX2", sessions=0)))
    (finding,) = [f for f in findings(piled, "LB-PERSIST-SNAT") if f.severity is Severity.WARNING]
    assert "from 1 address" in finding.summary and "L12EX1 40" in finding.summary


def test_admin_gui_on_the_service_address_443():
    assert worst(seed(admin_address="172.16.10.101:443"), "LB-ADMIN-ON-VIP") is Severity.WARNING


def test_a_drain_left_for_hours_is_stuck_and_suggests_enable():
    stuck = with_service(seed(), 59532, servers=(server("L12EX1", admin="drain", since=7200), server("L12EX2")))
    (finding,) = findings(stuck, "LB-DRAIN-STUCK")
    assert finding.severity is Severity.WARNING and finding.fixes == ("exops lb enable L12EX1",)


def test_down_on_the_balancer_while_it_answers_and_the_reverse():
    down = with_service(seed(), 135, servers=(server("L12EX1", status="DOWN", check="L4CON"), server("L12EX2")))
    silent = with_service(seed(), 135, servers=(server("L12EX1", answers=False), server("L12EX2")))
    assert "marks L12EX1 DOWN" in findings(down, "LB-HEALTH-MISMATCH")[0].summary
    assert "does not answer here" in findings(silent, "LB-HEALTH-MISMATCH")[0].summary


def test_one_armed_balancer_hides_clients_from_smtp_connectors():
    smtp = VirtualService(name="SMTP", address="172.16.10.101", port=25, servers=(server("L12EX1"),))
    snat = seed(source_nat=True, services=(*seed().services, smtp))
    assert worst(snat, "LB-SNAT") is Severity.WARNING
    assert worst(seed(source_nat=True), "LB-SNAT") is Severity.INFO


def test_cas_array_name_pointing_elsewhere_is_critical():
    elsewhere = seed(names={"outlook.litware.com": ("172.16.10.51",)})
    assert worst(elsewhere, "LB-CAS-ARRAY-VIP") is Severity.CRITICAL


def test_the_lab_balancer_passes_the_seed_checks(balancer):
    facts = BalancerSource(HAProxyDriver(replace(balancer.settings(), serves=(balancer.vip,)))).facts()
    report = run_checks(facts, "lab", [s for s in select_checks() if s.id in IDS])
    bad = [(f.check_id, f.severity.value, f.summary) for f in report.findings
           if f.severity not in (Severity.OK, Severity.INFO)]
    assert bad == []
    assert {f.check_id for f in report.findings} == set(IDS)


def test_balancer_facts_round_trip_through_a_bundle(tmp_path):
    from exops.sources.bundle import BundleSource
    from exops.sources.bundle_writer import write_bundle
    facts = Facts(BalancerFacts((seed(source_nat=None),)))
    write_bundle(tmp_path / "b", facts=facts, files={}, source="test")
    again = BundleSource(str(tmp_path / "b")).facts().get(BalancerFacts)
    assert again == facts.get(BalancerFacts)
