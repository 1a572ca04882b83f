"""Load balancer facts: the balancer's own view of every Exchange service it carries.

One vocabulary for HAProxy, KEMP and F5, so the checks never ask which product it is: a
balancer has virtual services (address, port, persistence, scheduling, health check, slow
ramp), each with real servers (health, admin state, sessions, weight). Values a driver could
not learn are "unknown" (text), -1 (numbers) or None (yes/no), never a guess.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from exops.facts.store import FactKind, register_kind

ADMIN_STATES = ("ready", "drain", "maint")
UNKNOWN = "unknown"


@dataclass(frozen=True)
class RealServer:
    """One real server of one virtual service, as the balancer sees it."""

    name: str                     # as the balancer names it: L12EX1
    address: str                  # ip:port the balancer sends to
    status: str                   # UP, DOWN, DRAIN, MAINT, NOLB, "no check"
    admin: str                    # ready | drain | maint (what an operator set)
    sessions: int                 # current sessions
    weight: int = -1
    total: int = -1               # sessions since the balancer started (new connections show here)
    check: str = ""               # last health check result: L7OK, L4OK, L4CON... "" when none
    since: int = -1               # seconds since the last status or admin change
    clients: tuple[str, ...] = ()          # source addresses of the current sessions
    sticky_clients: tuple[str, ...] = ()   # clients persistence sends here
    answers: bool | None = None            # exops's own probe of the address: accepts TCP

    @property
    def healthy(self) -> bool:
        """Takes new clients: health UP and nobody took it out."""
        return self.status == "UP" and self.admin == "ready"


@dataclass(frozen=True)
class VirtualService:
    """An address and port clients connect to, with its rules and its real servers."""

    name: str                     # Exchange-HTTPS
    address: str = ""             # the VIP, "" when the driver cannot tell
    port: int = -1
    persistence: str = UNKNOWN    # none | source-ip | http (cookie, SSL session, KEMP Super HTTP)
    scheduling: str = UNKNOWN     # round-robin | least-connection | the product's own word
    health_check: str = UNKNOWN   # "GET /owa" (the service), tcp (only the port), none
    slow_ramp: int = -1           # seconds a returning server is ramped up over; 0 none
    servers: tuple[RealServer, ...] = ()

    @property
    def endpoint(self) -> str:
        return f"{self.address or '?'}:{self.port if self.port >= 0 else '?'}"

    def server(self, name: str) -> RealServer | None:
        return next((s for s in self.servers if s.name.casefold() == name.casefold()), None)


@dataclass(frozen=True)
class Balancer:
    name: str                     # from the configuration: vlm1, edge
    kind: str                     # haproxy | kemp | f5
    admin_address: str = ""       # ip:port of its management interface, when it listens on one
    source_nat: bool | None = None         # one-armed: real servers see the balancer, not the client
    keeps_runtime_state: bool | None = None  # an operator's drain survives a reload or restart
    names: dict[str, tuple[str, ...]] = field(default_factory=dict)  # CAS array FQDN -> addresses ("" = did not resolve)
    services: tuple[VirtualService, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class BalancerFacts:
    balancers: tuple[Balancer, ...] = ()

    def balancer(self, name: str) -> Balancer | None:
        return next((b for b in self.balancers if b.name.casefold() == name.casefold()), None)


def merge_balancers(values: list[BalancerFacts]) -> BalancerFacts:
    """Each configured balancer is its own source; a collection holds them all."""
    return BalancerFacts(balancers=tuple(b for value in values for b in value.balancers))


register_kind(FactKind("loadbalancer", BalancerFacts, "load balancer state (configure loadbalancers:)",
                       merge=merge_balancers))
