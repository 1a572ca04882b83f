"""Load balancers as sources: one per configured balancer, with its `lb:<name>` executor.

The `loadbalancers` section of the configuration lists them; each entry's `type` picks the
driver (haproxy, kemp, f5), imported only when configured.
"""
from __future__ import annotations

import threading
from dataclasses import replace
from importlib import import_module

from exops.config import BalancerSettings, Config
from exops.errors import Cancelled
from exops.facts.loadbalancer import BalancerFacts
from exops.facts.store import Facts
from exops.sources.loadbalancers.base import BalancerDriver, probed, resolve
from exops.sources.loadbalancers.executor import BalancerExecutor
from exops.sources.source import collect_from

DRIVERS = {"haproxy": "exops.sources.loadbalancers.haproxy:HAProxyDriver",
           "kemp": "exops.sources.loadbalancers.kemp:KempDriver",
           "f5": "exops.sources.loadbalancers.f5:F5Driver"}


def driver_for(settings: BalancerSettings) -> BalancerDriver:
    module, _, name = DRIVERS[settings.type].partition(":")
    return getattr(import_module(module), name)(settings)


class BalancerSource:
    """One balancer: its state as facts (with exops's own probe of every real server and what
    the CAS array names resolve to) and its executor."""

    provides = (BalancerFacts,)

    def __init__(self, driver: BalancerDriver):
        self.driver = driver
        self.name = f"balancer {driver.name} ({driver.kind})"
        self._executor = BalancerExecutor(driver)

    def facts(self, *, cancel: threading.Event | None = None, progress=None) -> Facts:
        if progress:
            progress(f"reading {self.name}")
        balancer = self.driver.read()
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"{self.name}: cancelled")
        if progress:
            progress(f"{self.name}: probing its real servers")
        balancer = replace(probed(balancer), names=resolve(self.driver.settings.serves))
        return Facts(BalancerFacts(balancers=(balancer,)))

    def executors(self) -> dict[str, BalancerExecutor]:
        return {f"lb:{self.driver.name}": self._executor}

    def close(self) -> None:
        self.driver.close()


def sources_from_config(config: Config) -> list[BalancerSource]:
    """The `loadbalancers` section's sources (entry point `exops.sources: loadbalancers`)."""
    return [BalancerSource(driver_for(settings)) for settings in config.loadbalancers]


def read_balancers(config: Config) -> tuple[BalancerFacts, dict[type, str]]:
    """The configured balancers only (for `lb status` and the TUI's balancer screen), with the
    reason for each that could not be read."""
    sources = sources_from_config(config)
    try:
        facts = collect_from(sources)
    finally:
        for source in sources:
            source.close()
    return facts.get(BalancerFacts) or BalancerFacts(), facts.unavailable
