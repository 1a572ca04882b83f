"""A real HAProxy in front of the litware lab's emulated CAS servers, shared by a module's tests;
each test starts with every real server ready and UP."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from exops.lab.certificates import issue_certificate
from exops.lab.haproxy import LabState, claim_address, start_lab_balancer, stop_lab_balancer
from exops.lab.samba import issue_ca
from exops.lab.scenario import load_scenario
from exops.sources.loadbalancers.haproxy import HAProxyDriver


def wait_until(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:g} s")
        time.sleep(0.1)


def all_up(driver: HAProxyDriver) -> bool:
    """Every real server UP, ready, and past its first health check (HAProxy says `* INI` while
    a check it starts with a server is still running)."""
    return all(s.status == "UP" and s.admin == "ready" and "INI" not in s.check
               for vs in driver.read().services for s in vs.servers)


@pytest.fixture(scope="module")
def lab_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ca = tmp_path_factory.mktemp("lab-ca")
    issue_ca(ca, "exops test lab CA")
    return ca


@pytest.fixture(scope="module")
def lab_balancer(lab_ca: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabState]:
    state = start_lab_balancer(load_scenario("litware"), tmp_path_factory.mktemp("balancer"), lab_ca)
    try:
        wait_until(lambda: all_up(HAProxyDriver(state.settings())), what="every real server UP")
        yield state
    finally:
        stop_lab_balancer(state)


@pytest.fixture(scope="module")
def emulator_endpoint(lab_ca: Path, tmp_path_factory: pytest.TempPathFactory):
    """Makes (address, certificate, key) for an API emulator on its own loopback address."""
    def make(stem: str) -> tuple[str, Path, Path]:
        address = claim_address([443])
        cert, key = issue_certificate(lab_ca, tmp_path_factory.mktemp(stem), stem,
                                      [f"{stem}.litware.com"], [address])
        return address, cert, key
    return make


@pytest.fixture
def balancer(lab_balancer: LabState) -> LabState:
    """The lab balancer with every real server ready at weight 1 and UP."""
    driver = HAProxyDriver(lab_balancer.settings())
    for vs in driver.read().services:
        for s in vs.servers:
            driver.set_admin(vs.name, s.name, "ready")
            driver.set_weight(vs.name, s.name, 1)
    wait_until(lambda: all_up(driver), what="every real server UP")
    return lab_balancer


@pytest.fixture
def lb_config(balancer: LabState, tmp_path: Path) -> Path:
    """An exops.yaml naming the lab balancer, the lab's backends and a fresh journal."""
    config = tmp_path / "exops.yaml"
    config.write_text(
        f"loadbalancers:\n  - {{name: {balancer.name}, type: haproxy, socket: {balancer.socket}, "
        f"config: {balancer.config}, serves: [localhost]}}\n"
        f"lab:\n  home: {balancer.directory}\njournal: {tmp_path / 'journal.sqlite'}\n")
    return config
