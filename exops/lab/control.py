"""`exops lab up|status|down`: a scenario's lab left running for people to try exops on.

The lab DC is a fresh copy of the scenario's golden Samba directory under
`$EXOPS_LAB_HOME/<scenario>` (default `~/.local/state/exops/lab`), started detached; `up` writes
`exops.lab.yaml` so that `exops --config exops.lab.yaml ...` works against it at once. The
scenario's Exchange 2010 servers run beside it as WinRM endpoints (`winrm_control`), also named
in that file.
"""
from __future__ import annotations

import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

import yaml

from exops.lab.samba import CA_DIR, DCInfo, fresh_copy, golden_dc, pid_alive, stop_detached
from exops.lab.scenario import Scenario, ScenarioError, load_scenario, path_safe_name
from exops.lab.winrm_control import exchange_down, exchange_meta, exchange_running, exchange_tick, exchange_up
from exops.lab.winrm_lab import LabMeta

CONFIG_NAME = "exops.lab.yaml"
PASSWORD_ENV = "EXOPS_LAB_PASSWORD"


@dataclass(frozen=True)
class LabStatus:
    scenario: str
    target: Path
    running: bool
    answering: bool
    address: str | None
    exchange: tuple[str, ...] = ()     # the Exchange servers' WinRM URLs, when they run


def lab_home() -> Path:
    return Path(os.environ.get("EXOPS_LAB_HOME", Path.home() / ".local" / "state" / "exops" / "lab"))


def lab_dir(scenario_name: str) -> Path:
    """The running copy's folder; the name is checked so that nothing outside the lab home is
    ever started, replaced or stopped."""
    return lab_home() / path_safe_name(scenario_name, "scenario name") / "dc"


def balancer_dir(scenario_name: str) -> Path:
    """Where the scenario's lab balancer keeps its state (beside the DC)."""
    return lab_dir(scenario_name).parent / "balancer"


def lab_up(scenario_name: str, config_dir: Path) -> tuple[LabStatus, Path]:
    """Start the scenario's lab DC (re-using a running one) and write its exops.lab.yaml."""
    scenario = load_scenario(scenario_name)
    target = lab_dir(scenario.name)
    current = lab_status(scenario.name)
    if not current.running:
        if target.exists():
            shutil.rmtree(target)
        fresh_copy(golden_dc(scenario), target).start(detached=True)
    exchange = (exchange_up(scenario.name, target.parent / "exchange", target, balancer_dir(scenario.name))
                if scenario.servers else None)
    config = write_lab_config(scenario, DCInfo.load(target), target, config_dir, exchange)
    balancer_up(scenario, target / CA_DIR, config)
    return lab_status(scenario.name), config


def write_lab_config(scenario: Scenario, info: DCInfo, target: Path, config_dir: Path,
                     exchange: LabMeta | None = None) -> Path:
    config = config_dir / CONFIG_NAME
    config.write_text(
        f"# The {scenario.name} lab (exops lab up). Its throwaway password: export {PASSWORD_ENV}\n"
        f"directory:\n  url: ldaps://{info.address}\n  base_dn: {info.base_dn}\n"
        f"  user: {info.admin_user}\n  password_env: {PASSWORD_ENV}\n"
        f"  ca_file: {target / CA_DIR / 'ca.pem'}\n"
        f"journal: {target.parent / 'journal.sqlite'}\n"
        + (yaml.safe_dump({"exchange": exchange.exchange_settings()}, sort_keys=False) if exchange else ""))
    return config


def lab_status(scenario_name: str) -> LabStatus:
    target = lab_dir(scenario_name)
    if not (target / "exops-lab.json").is_file():
        return LabStatus(scenario_name, target, False, False, None)
    info = DCInfo.load(target)
    running = bool(info.pid) and pid_alive(info.pid, info.pid_started)
    exchange = exchange_meta(target.parent / "exchange")
    urls = tuple(e.url for e in exchange.endpoints) if exchange and exchange_running(target.parent / "exchange") else ()
    return LabStatus(scenario_name, target, running, running and _answers(info.address), info.address, urls)


def lab_down(scenario_name: str) -> bool:
    target = lab_dir(scenario_name)
    balancer = balancer_down(scenario_name)
    exchange = exchange_down(target.parent / "exchange")
    return (target / "exops-lab.json").is_file() and stop_detached(target) or exchange or balancer


def lab_tick(scenario_name: str) -> list[str]:
    """One maintenance and publish cycle of the running lab's Exchange store."""
    target = lab_dir(scenario_name)
    return exchange_tick(target.parent / "exchange", target)


# ---------------------------------------------------------------- the lab balancer

def balancer_up(scenario: Scenario, ca_dir: Path, config: Path) -> None:
    """Start the scenario's balancer (re-using a running one) and add it to exops.lab.yaml."""
    from exops.lab.haproxy import LabState, scenario_balancer, start_emulators, start_lab_balancer
    from exops.lab.samba import LAB_ADMIN_PASSWORD
    try:
        scenario_balancer(scenario)
    except ScenarioError:
        return   # a scenario without virtual services has no balancer
    directory = balancer_dir(scenario.name)
    state = LabState.load(directory) if (directory / "balancer.json").is_file() else None
    if state is None or not (state.haproxy and state.haproxy.running):
        if state is not None:
            balancer_down(scenario.name)
        state = start_lab_balancer(scenario, directory, ca_dir)
        start_emulators(state, ca_dir, LAB_ADMIN_PASSWORD)
    ca_file = ca_dir / "ca.pem"
    with config.open("a") as out:
        out.write(f"loadbalancers:\n  - {{name: {state.name}, type: haproxy, socket: {state.socket}, "
                  f"config: {state.config}, serves: [{state.fqdn}]}}\n"
                  "  # the same HAProxy through the lab's API emulators; use one entry at a time:\n"
                  f"  # - {{name: {state.name}, type: kemp, url: 'https://{state.emulators['kemp']}', user: bal, "
                  f"password_env: {PASSWORD_ENV}, ca_file: {ca_file}}}\n"
                  f"  # - {{name: {state.name}, type: f5, url: 'https://{state.emulators['f5']}', user: admin, "
                  f"password_env: {PASSWORD_ENV}, ca_file: {ca_file}}}\n"
                  f"lab:\n  home: {directory}\n")


def balancer_down(scenario_name: str) -> bool:
    from exops.lab.haproxy import LabState, stop_lab_balancer
    directory = balancer_dir(scenario_name)
    if not (directory / "balancer.json").is_file():
        return False
    stop_lab_balancer(LabState.load(directory))
    return True


def _answers(address: str | None) -> bool:
    if not address:
        return False
    try:
        with socket.create_connection((address, 636), timeout=1):
            return True
    except OSError:
        return False
