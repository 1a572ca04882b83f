"""The balancer in front of Exchange, against "Load balancing Exchange 2010 using a KEMP Virtual
LoadMaster": its virtual services table, service-aware health checks, the traffic storm of
least-connection without slow ramp, source-IP persistence behind SNAT, the admin GUI on the
service's IP:443, and the balancer's view against what the servers actually answer.

Pure functions of BalancerFacts (a live balancer or a bundle); every check says what it
looked at when all is well.
"""
from __future__ import annotations

from collections.abc import Iterator

from exops.facts.loadbalancer import UNKNOWN, Balancer, BalancerFacts, RealServer, VirtualService
from exops.model import Evidence, Finding, Severity
from exops.registry import check

AREA = "loadbalancer"
# The seed's suggested virtual services: port -> (name, persistence, scheduling).
SEED_TABLE = {443: ("Exchange-HTTPS", "http", "round-robin"),
              59531: ("Exchange-RPC", "source-ip", "round-robin"),
              59532: ("Exchange-AB", "source-ip", "round-robin"),
              135: ("Exchange-EPM", "source-ip", "round-robin")}
PERSISTENCE_WORDS = {"http": "Super HTTP (HTTP-level: cookie or header)", "source-ip": "source IP", "none": "none"}
SMTP_PORTS = (25, 587)
HTTP_CHECKS = ("GET", "HEAD", "OPTIONS", "POST", "http")   # "GET /owa"; "http" when the URL is not known
STUCK_DRAIN_SECONDS = 3600
SPREAD_MIN_SESSIONS = 10
FEW_ADDRESSES = 2


def _finding(check_id: str, severity: Severity, target: str, summary: str, detail: str = "",
             evidence: tuple[Evidence, ...] = (), fixes: tuple[str, ...] = ()) -> Finding:
    return Finding(check_id=check_id, severity=severity, target=target, summary=summary, detail=detail,
                   evidence=evidence, fixes=fixes)


def service_evidence(b: Balancer, vs: VirtualService) -> Evidence:
    return Evidence(kind="text", title=f"{b.name} {vs.name} {vs.endpoint}", data={"text": (
        f"persistence {vs.persistence}, scheduling {vs.scheduling}, health check {vs.health_check}, "
        f"slow ramp {vs.slow_ramp if vs.slow_ramp >= 0 else '?'} s; servers: "
        + ", ".join(f"{s.name} {s.status}/{s.admin} {s.sessions} sessions" for s in vs.servers))})


def _services(balancers: BalancerFacts) -> Iterator[tuple[Balancer, VirtualService]]:
    for b in balancers.balancers:
        for vs in b.services:
            yield b, vs


# ---------------------------------------------------------------- configuration against the seed

@check("LB-VS-SEED", title="Virtual services follow the seed's table (443, 135, 59531, 59532)",
       needs=(BalancerFacts,), area=AREA)
def seed_table(balancers: BalancerFacts) -> Iterator[Finding]:
    for b in balancers.balancers:
        by_port = {vs.port: vs for vs in b.services}
        for port, (name, persistence, scheduling) in SEED_TABLE.items():
            vs = by_port.get(port)
            target = f"{b.name} {name} :{port}"
            if vs is None:
                known = ", ".join(f"{s.name} :{s.port}" for s in b.services) or "none"
                yield _finding("LB-VS-SEED", Severity.WARNING, target,
                               f"no virtual service on port {port} ({name}) on {b.name}",
                               f"Outlook needs every one of 443, 135, 59531 and 59532 on the CAS array's "
                               f"address; {b.name} has: {known}. Without it clients fail over to a "
                               "direct server connection or do not connect at all.")
                continue
            problems = []
            if vs.persistence == UNKNOWN or vs.scheduling == UNKNOWN:
                yield _finding("LB-VS-SEED", Severity.UNKNOWN, target,
                               f"{vs.name}: persistence or scheduling not known from {b.name} "
                               "(for HAProxy, give its configuration file with config:)",
                               evidence=(service_evidence(b, vs),))
                continue
            if vs.persistence != persistence:
                problems.append(f"persistence is {PERSISTENCE_WORDS.get(vs.persistence, vs.persistence)}, "
                                f"the seed uses {PERSISTENCE_WORDS[persistence]}")
            if vs.scheduling != scheduling:
                problems.append(f"scheduling is {vs.scheduling}, the seed uses round robin")
            if problems:
                yield _finding("LB-VS-SEED", Severity.WARNING, target, f"{vs.name} on {vs.endpoint}: "
                               + "; ".join(problems), evidence=(service_evidence(b, vs),),
                               detail="RPC and address book sessions must stay on one CAS for a client "
                                      "(source IP); HTTPS keeps a session by HTTP-level persistence.")
            else:
                yield _finding("LB-VS-SEED", Severity.OK, target,
                               f"{vs.name} on {vs.endpoint}: {PERSISTENCE_WORDS[persistence]} persistence, "
                               f"{scheduling}, {len(vs.servers)} real servers, as the seed suggests",
                               evidence=(service_evidence(b, vs),))


@check("LB-HEALTH-URL", title="Health checks test the service, not only the port",
       needs=(BalancerFacts,), area=AREA)
def health_checks(balancers: BalancerFacts) -> Iterator[Finding]:
    for b, vs in _services(balancers):
        target = f"{b.name} {vs.name}"
        kind = vs.health_check
        if kind == UNKNOWN:
            yield _finding("LB-HEALTH-URL", Severity.UNKNOWN, target, f"{vs.name}: health check not known")
        elif kind == "none":
            yield _finding("LB-HEALTH-URL", Severity.WARNING, target,
                           f"{vs.name}: no health check; a dead server keeps receiving clients",
                           evidence=(service_evidence(b, vs),))
        elif vs.port == 443 and not kind.startswith(HTTP_CHECKS):
            yield _finding("LB-HEALTH-URL", Severity.WARNING, target,
                           f"{vs.name}: the health check only tests the port ({kind}), not the service",
                           "IIS can accept connections while OWA or EWS fail; check a URL such as "
                           "https://<server>/owa (the seed's advice) so a broken service is taken out.",
                           evidence=(service_evidence(b, vs),))
        else:
            yield _finding("LB-HEALTH-URL", Severity.OK, target,
                           f"{vs.name}: health check {kind}" + (" (the service's URL)" if vs.port == 443 else ""),
                           evidence=(service_evidence(b, vs),))


@check("LB-SLOWSTART", title="Least-connection scheduling without slow ramp (traffic storm)",
       needs=(BalancerFacts,), area=AREA)
def slow_start(balancers: BalancerFacts) -> Iterator[Finding]:
    for b, vs in _services(balancers):
        target = f"{b.name} {vs.name}"
        if vs.scheduling != "least-connection":
            yield _finding("LB-SLOWSTART", Severity.OK, target,
                           f"{vs.name}: {vs.scheduling} scheduling; a returning server is not flooded")
        elif vs.slow_ramp > 0:
            yield _finding("LB-SLOWSTART", Severity.OK, target,
                           f"{vs.name}: least connection with a {vs.slow_ramp} s slow ramp")
        elif vs.slow_ramp < 0:
            yield _finding("LB-SLOWSTART", Severity.UNKNOWN, target,
                           f"{vs.name}: least connection, slow ramp not known")
        else:
            yield _finding("LB-SLOWSTART", Severity.WARNING, target,
                           f"{vs.name}: least-connection scheduling without slow ramp",
                           "A server that comes back has zero connections, so every new client goes "
                           "to it at once: a traffic storm. Use round robin, or a slow ramp (F5 Slow "
                           "Ramp Time, HAProxy slowstart, KEMP slowstart), or 'exops lb enable "
                           "--slow-ramp'.", evidence=(service_evidence(b, vs),))


@check("LB-PERSIST-SNAT", title="Source-IP persistence piles clients onto one server (SNAT)",
       needs=(BalancerFacts,), area=AREA)
def persistence_spread(balancers: BalancerFacts) -> Iterator[Finding]:
    for b, vs in _services(balancers):
        if vs.persistence != "source-ip":
            continue
        target = f"{b.name} {vs.name}"
        sessions = sum(s.sessions for s in vs.servers)
        clients = {c for s in vs.servers for c in s.clients}
        spread = ", ".join(f"{s.name} {s.sessions}" for s in vs.servers)
        healthy = [s for s in vs.servers if s.healthy]
        busiest = max(vs.servers, key=lambda s: s.sessions, default=None)
        if sessions < SPREAD_MIN_SESSIONS:
            yield _finding("LB-PERSIST-SNAT", Severity.OK, target,
                           f"{vs.name}: {sessions} sessions, too few to judge the spread ({spread})")
        elif len(clients) <= FEW_ADDRESSES and len(healthy) > 1:
            yield _finding("LB-PERSIST-SNAT", Severity.WARNING, target,
                           f"{vs.name}: {sessions} sessions come from {len(clients)} address(es) "
                           f"({', '.join(sorted(clients))}); source-IP persistence sends each to one "
                           f"server ({spread})",
                           "Clients behind a NAT device or proxy share one address, so source-IP "
                           "persistence cannot spread them (the seed's SNAT warning). Use "
                           "persistence that sees the client (for HTTPS: cookies, Super HTTP) or "
                           "avoid the NAT in front of the balancer.", evidence=(service_evidence(b, vs),))
        elif busiest and len(healthy) > 1 and busiest.sessions > 0.8 * sessions:
            yield _finding("LB-PERSIST-SNAT", Severity.WARNING, target,
                           f"{vs.name}: {busiest.name} holds {busiest.sessions} of {sessions} sessions "
                           f"from {len(clients)} addresses ({spread})", evidence=(service_evidence(b, vs),))
        else:
            yield _finding("LB-PERSIST-SNAT", Severity.OK, target,
                           f"{vs.name}: {sessions} sessions from {len(clients)} addresses, spread {spread}")


@check("LB-ADMIN-ON-VIP", title="The balancer's admin interface is on a service's address and port",
       needs=(BalancerFacts,), area=AREA)
def admin_interface(balancers: BalancerFacts) -> Iterator[Finding]:
    for b in balancers.balancers:
        host, _, port = b.admin_address.rpartition(":")
        clash = [vs for vs in b.services if host and vs.address == host and str(vs.port) == port]
        on_vip_443 = host and port == "443" and any(vs.address == host for vs in b.services)
        if clash or on_vip_443:
            names = ", ".join(vs.name for vs in clash) or "the services on that address"
            yield _finding("LB-ADMIN-ON-VIP", Severity.WARNING, b.name,
                           f"{b.name}'s admin interface listens on {b.admin_address}, used by {names}",
                           "The seed: the load-balanced services use port 443 and so does the admin "
                           "web interface; put the GUI on a different IP address or port.")
        elif b.admin_address:
            yield _finding("LB-ADMIN-ON-VIP", Severity.OK, b.name,
                           f"{b.name}'s admin interface ({b.admin_address}) shares no service's address and port")
        else:
            yield _finding("LB-ADMIN-ON-VIP", Severity.OK, b.name,
                           f"{b.name}: no admin interface seen on any service address")


# ---------------------------------------------------------------- live state

@check("LB-DRAIN-STUCK", title="A real server left draining", needs=(BalancerFacts,), area=AREA)
def stuck_drain(balancers: BalancerFacts) -> Iterator[Finding]:
    draining = [(b, vs, s) for b, vs in _services(balancers) for s in vs.servers if s.admin == "drain"]
    for b, vs, s in draining:
        long = s.since >= STUCK_DRAIN_SECONDS
        if long or s.sessions == 0:
            yield _finding("LB-DRAIN-STUCK", Severity.WARNING, f"{b.name} {vs.name}/{s.name}",
                           f"{s.name} is draining on {vs.name}"
                           + (f" for {s.since // 60} min" if s.since >= 0 else "")
                           + f" with {s.sessions} sessions left",
                           "A drain is a step, not a state: finish it ('exops lb drain') or bring the "
                           "server back ('exops lb enable'); meanwhile the service runs on fewer servers.",
                           fixes=(f"exops lb enable {s.name}",))
        else:
            yield _finding("LB-DRAIN-STUCK", Severity.INFO, f"{b.name} {vs.name}/{s.name}",
                           f"{s.name} is draining on {vs.name}: {s.sessions} sessions left")
    if not draining:
        count = sum(len(vs.servers) for _, vs in _services(balancers))
        yield _finding("LB-DRAIN-STUCK", Severity.OK, "all real servers",
                       f"no real server is draining ({count} looked at)")


@check("LB-HEALTH-MISMATCH", title="The balancer's health differs from what the server answers",
       needs=(BalancerFacts,), area=AREA)
def health_mismatch(balancers: BalancerFacts) -> Iterator[Finding]:
    looked = 0
    for b, vs in _services(balancers):
        for s in vs.servers:
            if s.answers is None or s.admin == "maint":
                continue
            looked += 1
            yield from _mismatch(b, vs, s)
    if looked:
        yield _finding("LB-HEALTH-MISMATCH", Severity.OK, "all real servers",
                       f"{looked} real servers: the balancer's health matches what each answers here")


def _mismatch(b: Balancer, vs: VirtualService, s: RealServer) -> Iterator[Finding]:
    target = f"{b.name} {vs.name}/{s.name}"
    if s.status == "DOWN" and s.answers:
        yield _finding("LB-HEALTH-MISMATCH", Severity.WARNING, target,
                       f"{vs.name} marks {s.name} DOWN ({s.check or 'no check result'}) but {s.address} "
                       "answers here", "The service may be up while the balancer's check fails: a wrong "
                       "URL or certificate, a firewall between balancer and server. Clients lose a server.")
    elif s.status == "UP" and s.answers is False:
        yield _finding("LB-HEALTH-MISMATCH", Severity.WARNING, target,
                       f"{vs.name} marks {s.name} UP but {s.address} does not answer here",
                       "Either exops cannot reach the server from where it runs, or the balancer's "
                       "check passes on something that is not the service.")


@check("LB-SNAT", title="A one-armed (SNAT) balancer hides client addresses from Exchange",
       needs=(BalancerFacts,), area=AREA)
def source_nat(balancers: BalancerFacts) -> Iterator[Finding]:
    for b in balancers.balancers:
        smtp = [vs for vs in b.services if vs.port in SMTP_PORTS]
        if b.source_nat is None:
            yield _finding("LB-SNAT", Severity.UNKNOWN, b.name, f"{b.name}: not known whether it source-NATs")
        elif not b.source_nat:
            yield _finding("LB-SNAT", Severity.OK, b.name,
                           f"{b.name} is transparent (two-armed): Exchange sees the clients' addresses")
        else:
            yield _finding("LB-SNAT", Severity.WARNING if smtp else Severity.INFO, b.name,
                           f"{b.name} source-NATs: Exchange sees the balancer's address, not the clients'"
                           + (f" (also for SMTP: {', '.join(vs.name for vs in smtp)})" if smtp else ""),
                           "Receive connectors limited by RemoteIPRanges, per-client throttling and the "
                           "logs all see one address. The seed's two-armed setup, with the balancer as "
                           "the CAS servers' default gateway, keeps the client addresses.")


@check("LB-CAS-ARRAY-VIP", title="The CAS array FQDN resolves to a virtual service",
       needs=(BalancerFacts,), area=AREA)
def cas_array_address(balancers: BalancerFacts) -> Iterator[Finding]:
    for b in balancers.balancers:
        vips = {vs.address for vs in b.services}
        for name, addresses in b.names.items():
            if not addresses:
                yield _finding("LB-CAS-ARRAY-VIP", Severity.WARNING, name,
                               f"{name} does not resolve from here, so it cannot be matched to {b.name}")
            elif vips.isdisjoint(addresses):
                yield _finding("LB-CAS-ARRAY-VIP", Severity.CRITICAL, name,
                               f"{name} resolves to {', '.join(addresses)}: no virtual service of {b.name} "
                               f"listens there ({', '.join(sorted(vips)) or 'none'})",
                               "Clients (and RpcClientAccessServer) use the CAS array FQDN: it must point "
                               "at the balancer's virtual address.")
            else:
                yield _finding("LB-CAS-ARRAY-VIP", Severity.OK, name,
                               f"{name} resolves to {', '.join(addresses)}, a virtual address of {b.name}")
