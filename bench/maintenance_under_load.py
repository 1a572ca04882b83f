"""Benchmark: `exops maintenance L12EX1 -- ACTION` under client load, against the same restart
done without draining (what an admin does when they restart a service in rotation).

A real HAProxy runs the litware lab's virtual services in front of two emulated CAS servers;
`--clients` threads connect to Exchange-RPC from their own loopback addresses, send a line and
read the answer, over and over. Two actions, each done once alone and once through exops while
the load runs:

- `restart-store`: Restart-Service MSExchangeIS over WinRM (pywinrm, HTTPS, NTLM) on the lab's
  emulated L12EX1, whose store restart restarts its CAS endpoints, as a real one interrupts them;
- `restart-backend`: the lab's own action, the emulated CAS endpoints restarted directly.

The connections made and failed are counted, and for exops the time the drain took (drain until
the last session ended and the server was in maintenance) and the whole maintenance. The
alternative is the action alone, with the balancer's health checks (inter 1 s, fall 2) left to
notice.

    python bench/maintenance_under_load.py [--clients 16] [--hold 0.2]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exops.config import Config, ExchangeSettings, LabSettings, ServerSettings  # noqa: E402
from exops.facts.directory import DirectoryFacts  # noqa: E402
from exops.facts.store import kind_named  # noqa: E402
from exops.lab.client_load import ClientLoad, LoadResult  # noqa: E402
from exops.lab.exchange_emulation import ExchangeLab, initial_state  # noqa: E402
from exops.lab.haproxy import LabState, restart_backend, start_lab_balancer, stop_lab_balancer  # noqa: E402
from exops.lab.samba import LAB_ADMIN_PASSWORD, issue_ca  # noqa: E402
from exops.lab.scenario import load_scenario  # noqa: E402
from exops.lab.winrm_lab import RunningExchangeLab, serve  # noqa: E402
from exops.sources.evidence import EvidenceFile  # noqa: E402
from exops.sources.loadbalancers import BalancerSource, driver_for  # noqa: E402
from exops.sources.powershell import RemoteShell  # noqa: E402
from exops.workbench import Workbench  # noqa: E402

SETTLE = 3.0   # seconds of load before and after each restart
LDIF = Path(__file__).resolve().parents[1] / "fixtures" / "scenarios" / "litware" / "bundle" / "directory.ldf"


def wait_all_up(state: LabState) -> None:
    driver = BalancerSource(driver_for(state.settings())).driver
    while not all(s.status == "UP" and s.admin == "ready" for vs in driver.read().services for s in vs.servers):
        time.sleep(0.2)


def exchange_settings(running: RunningExchangeLab) -> ExchangeSettings:
    meta = running.meta
    return ExchangeSettings(user=meta.user, password_env="EXOPS_LAB_PASSWORD", transport=meta.auth,
                            ca_file=meta.ca_file,
                            servers=tuple(ServerSettings(e.server, e.url, e.roles) for e in meta.endpoints))


def with_exops(state: LabState, config: Config, action: str, clients: int, hold: float) -> tuple[LoadResult, float, float]:
    events: list[tuple[float, str, str]] = []
    with Workbench.from_config(config) as bench, ClientLoad(state.vip, 59531, clients=clients, hold=hold) as load:
        time.sleep(SETTLE)
        start = time.monotonic()
        plan = bench.plan("maintenance", {"server": "L12EX1", "action": action, "timeout": 30})
        bench.apply(plan, progress=lambda e: events.append((time.monotonic(), e.step.action, e.state)))
        took = time.monotonic() - start
        time.sleep(SETTLE)
    drain_start = min(t for t, step, done in events if step == "lb.drain" and done == "applying")
    drained = max(t for t, step, done in events if step == "lb.maint" and done == "verified")
    return load.result, took, drained - drain_start


def alone(state: LabState, restart: Callable[[], object], clients: int, hold: float) -> tuple[LoadResult, float]:
    with ClientLoad(state.vip, 59531, clients=clients, hold=hold) as load:
        time.sleep(SETTLE)
        start = time.monotonic()
        restart()
        took = time.monotonic() - start
        time.sleep(SETTLE)
    return load.result, took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--hold", type=float, default=0.0,
                        help="seconds each client keeps its connection open before reading the answer")
    args = parser.parse_args()
    os.environ.setdefault("EXOPS_LAB_PASSWORD", LAB_ADMIN_PASSWORD)
    work = Path(tempfile.mkdtemp(prefix="exops-bench-lb-"))
    issue_ca(work / "ca")
    scenario = load_scenario("litware")
    state = start_lab_balancer(scenario, work / "balancer", work / "ca")
    directory = EvidenceFile(kind_named("directory"), LDIF).facts().get(DirectoryFacts)
    store = ExchangeLab(work / "exchange" / "state.json", lambda: directory, balancer=Path(state.directory))
    store.path.parent.mkdir(parents=True)
    store.path.write_text(json.dumps(initial_state(scenario, store.directory)))
    rows = []
    try:
        with serve(store, scenario, work / "exchange", ca_dir=work / "ca", password=LAB_ADMIN_PASSWORD) as running:
            exchange = exchange_settings(running)
            config = Config(exchange=exchange, loadbalancers=(state.settings(),),
                            lab=LabSettings(home=state.directory), journal=str(work / "journal.sqlite"))
            shell = RemoteShell(exchange.servers[0], exchange, LAB_ADMIN_PASSWORD)
            for action, restart in (
                    ("restart-store", lambda: shell.run("restart-service", {"service": "MSExchangeIS"})),
                    ("restart-backend", lambda: restart_backend(Path(state.directory), "L12EX1"))):
                wait_all_up(state)
                plain, plain_took = alone(state, restart, args.clients, args.hold)
                wait_all_up(state)
                drained, took, drain_took = with_exops(state, config, action, args.clients, args.hold)
                rows.append((action, plain, plain_took, drained, took, drain_took))
            shell.close()
    finally:
        stop_lab_balancer(state)
        shutil.rmtree(work, ignore_errors=True)
    version = subprocess.run(["haproxy", "-v"], capture_output=True, text=True).stdout.split()[2]
    print(f"clients: {args.clients} threads against Exchange-RPC through HAProxy {version}, each connection held "
          f"{args.hold:g} s, {os.cpu_count()} CPUs")
    for action, plain, plain_took, drained, took, drain_took in rows:
        print(f"{action}:")
        print(f"  without drain     : {plain.made:6d} connections made, {plain.failed:4d} failed "
              f"(restart {plain_took:.2f} s)")
        print(f"  exops maintenance : {drained.made:6d} connections made, {drained.failed:4d} failed "
              f"(drain to maintenance {drain_took:.2f} s, whole run {took:.2f} s)")
        per_k = [1000 * r.failed / max(r.made, 1) for r in (plain, drained)]
        print(f"  failed per 1,000 connections: alone {per_k[0]:.2f}, exops {per_k[1]:.2f}"
              + (f" (ratio {per_k[0] / per_k[1]:.1f}x)" if per_k[1] else " (exops lost none)"))


if __name__ == "__main__":
    main()
