"""What every balancer driver is: a small class that declares what it can do (Harlequin's
adapter shape), so the executor, the CLI and the TUI ask the driver instead of knowing which
product it is.

A driver reads the balancer into facts and moves one real server of one virtual service
between `ready`, `drain` and `maint`; weight and ending sessions are optional capabilities
(`NotImplementedError` when the product or its API cannot). Everything it raises for the
user is a `BalancerError`, one line.
"""
from __future__ import annotations

import socket
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import ClassVar

from exops.config import BalancerSettings
from exops.errors import ExopsError
from exops.facts.loadbalancer import ADMIN_STATES, Balancer, RealServer, VirtualService

PROBE_TIMEOUT = 1.0
PROBE_WORKERS = 8


class BalancerError(ExopsError):
    """The balancer could not be read or refused a change; str() says which and why."""


class BalancerUnreachable(BalancerError):
    """Nothing answered at the configured socket or URL."""


class NotFound(BalancerError):
    """The virtual service or real server named is not on this balancer."""


class BalancerDriver(ABC):
    """One balancer product behind one interface."""

    kind: ClassVar[str]
    capabilities: ClassVar[frozenset[str]] = frozenset({"drain", "maint", "ready"})

    def __init__(self, settings: BalancerSettings):
        self.settings = settings
        self.name = settings.name

    @abstractmethod
    def read(self) -> Balancer:
        """The balancer now: every virtual service with its real servers."""

    @abstractmethod
    def set_admin(self, service: str, server: str, state: str) -> None:
        """Move one real server of one virtual service to `ready`, `drain` or `maint`."""

    def set_weight(self, service: str, server: str, weight: int) -> None:
        raise NotImplementedError(f"{self.kind} driver cannot set weights")

    def shutdown_sessions(self, service: str, server: str) -> None:
        raise NotImplementedError(f"{self.kind} driver cannot end sessions")

    def member(self, service: str, server: str) -> RealServer:
        """One real server now; drivers with a cheaper single read override this."""
        return find_member(self.read(), service, server)[1]

    def close(self) -> None:
        """Drivers holding a session (F5's token) end it here."""

    def check_state(self, state: str) -> None:
        if state not in ADMIN_STATES:
            raise BalancerError(f"unknown admin state {state!r}; expected {', '.join(ADMIN_STATES)}")


def find_member(balancer: Balancer, service: str, server: str) -> tuple[VirtualService, RealServer]:
    vs = next((s for s in balancer.services if s.name.casefold() == service.casefold()), None)
    if vs is None:
        known = ", ".join(s.name for s in balancer.services) or "none"
        raise NotFound(f"{balancer.name}: no virtual service {service!r} (known: {known})")
    member = vs.server(server)
    if member is None:
        known = ", ".join(s.name for s in vs.servers) or "none"
        raise NotFound(f"{balancer.name}: {service} has no real server {server!r} (known: {known})")
    return vs, member


def answers(address: str, timeout: float = PROBE_TIMEOUT) -> bool | None:
    """Does the real server accept a TCP connection from here? None when the address is unusable."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return None
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def probed(balancer: Balancer) -> Balancer:
    """The balancer with exops's own probe of every real server, a few at a time, bounded."""
    addresses = sorted({s.address for vs in balancer.services for s in vs.servers})
    with ThreadPoolExecutor(max_workers=PROBE_WORKERS) as pool:
        result = dict(zip(addresses, pool.map(answers, addresses)))
    return replace(balancer, services=tuple(
        replace(vs, servers=tuple(replace(s, answers=result.get(s.address)) for s in vs.servers))
        for vs in balancer.services))


def resolve(names: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """What each CAS array FQDN resolves to from here; () when it does not resolve."""
    out = {}
    for name in names:
        try:
            out[name] = tuple(sorted({info[4][0] for info in socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)}))
        except (OSError, UnicodeError):
            out[name] = ()
    return out
