"""Benchmark: `exops maintenance L12EX1 -- restart-backend` under client load, against the same
restart done without draining (what an admin does when they restart a service in rotation).

A real HAProxy runs the litware lab's virtual services in front of two emulated CAS servers;
`--clients` threads connect to Exchange-RPC from their own loopback addresses, send a line and
read the answer, over and over. Each side restarts L12EX1 once while the load runs; the
connections made and failed are counted, and for exops the time the drain took (drain until
the last session ended) and the whole maintenance. The alternative is the restart alone, with
the balancer's health checks (inter 1 s, fall 2) left to notice.

    python bench/maintenance_under_load.py [--clients 16]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exops.journal import Journal  # noqa: E402
from exops.lab.cas_control import LabSource  # noqa: E402
from exops.lab.client_load import ClientLoad  # noqa: E402
from exops.lab.haproxy import restart_backend, start_lab_balancer, stop_lab_balancer  # noqa: E402
from exops.lab.samba import issue_ca  # noqa: E402
from exops.lab.scenario import load_scenario  # noqa: E402
from exops.sources.loadbalancers import BalancerSource, driver_for  # noqa: E402
from exops.workbench import Workbench  # noqa: E402

SETTLE = 3.0   # seconds of load before and after each restart


def wait_all_up(source: BalancerSource) -> None:
    while not all(s.status == "UP" for vs in source.driver.read().services for s in vs.servers):
        time.sleep(0.2)


def with_exops(state, work: Path, clients: int) -> tuple:
    source = BalancerSource(driver_for(state.settings()))
    bench = Workbench([source, LabSource(Path(state.directory))], Journal(str(work / "journal.sqlite")))
    events: list[tuple[float, str, str]] = []
    with ClientLoad(state.vip, 59531, clients=clients) as load:
        time.sleep(SETTLE)
        start = time.monotonic()
        plan = bench.plan("maintenance", {"server": "L12EX1", "action": "restart-backend", "timeout": 30})
        bench.apply(plan, progress=lambda e: events.append((time.monotonic(), e.step.action, e.state)))
        took = time.monotonic() - start
        time.sleep(SETTLE)
    drain_start = min(t for t, action, state in events if action == "lb.drain" and state == "applying")
    drained = max(t for t, action, state in events if action == "lb.maint" and state == "verified")
    return load.result, took, drained - drain_start


def without_drain(state, clients: int) -> tuple:
    with ClientLoad(state.vip, 59531, clients=clients) as load:
        time.sleep(SETTLE)
        start = time.monotonic()
        restart_backend(Path(state.directory), "L12EX1")
        took = time.monotonic() - start
        time.sleep(SETTLE)
    return load.result, took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="exops-bench-lb-"))
    issue_ca(work / "ca")
    state = start_lab_balancer(load_scenario("litware"), work / "balancer", work / "ca")
    try:
        source = BalancerSource(driver_for(state.settings()))
        wait_all_up(source)
        plain, plain_took = without_drain(state, args.clients)
        wait_all_up(source)
        drained, took, drain_took = with_exops(state, work, args.clients)
    finally:
        stop_lab_balancer(state)
    print(f"clients: {args.clients} threads against Exchange-RPC through HAProxy 2.6")
    print(f"restart without drain : {plain.made:6d} connections made, {plain.failed:4d} failed "
          f"(restart {plain_took:.2f} s)")
    print(f"exops maintenance     : {drained.made:6d} connections made, {drained.failed:4d} failed "
          f"(drain to maintenance {drain_took:.2f} s, whole run {took:.2f} s)")
    per_k = [1000 * r.failed / max(r.made, 1) for r in (plain, drained)]
    print(f"failed per 1,000 connections: restart alone {per_k[0]:.2f}, exops {per_k[1]:.2f}"
          + (f" (ratio {per_k[0] / per_k[1]:.1f}x)" if per_k[1] else " (exops lost none)"))


if __name__ == "__main__":
    main()
