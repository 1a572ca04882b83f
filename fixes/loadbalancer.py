"""Taking an Exchange server out of the balancer and back, as plans the engine runs and undoes.

`lb-drain`: drain every virtual service the server is in, wait until its sessions end (or
the time limit passes: persistence may keep clients coming), then maintenance. `lb-enable`:
ready, wait for health UP, optionally ramp the weight up slowly. `maintenance`: drain → wait
for the last session → ACTION → verify the server answers on every service port → enable →
wait for UP, as one journaled change; a failure undoes the drain.

The last healthy server of a service is never drained without `--force`. Planners read facts
only (`maintenance` also asks its action for what it needs from the live sources).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

from exops.facts.loadbalancer import Balancer, BalancerFacts, RealServer, VirtualService
from exops.facts.store import Facts
from exops.plan import Plan, PlanError, Step
from exops.registry import Param, fix
from exops.sources.loadbalancers.executor import member_target

DRAIN_LIMIT = 120         # seconds a drain waits for sessions before going to maintenance
SETTLE_TIMEOUT = 60       # seconds for in-flight sessions to end once in maintenance
HEALTH_TIMEOUT = 120      # seconds for a server to come back UP
POLL = 0.5


class FixRefused(PlanError):
    """The fix will not plan this change; the message says why and what to do instead."""


# ---------------------------------------------------------------- what the balancer call looks like

def preview(balancer: Balancer, vs: VirtualService, server: RealServer, verb: str, value: object = None) -> str:
    """The call a person would make by hand, per product."""
    if balancer.kind == "haproxy":
        command = (f"set server {vs.name}/{server.name} weight {value}" if verb == "weight"
                   else f"set server {vs.name}/{server.name} state {verb}")
        return f'echo "{command}" | socat stdio <admin socket of {balancer.name}>'
    if balancer.kind == "kemp":
        rs_host, _, rs_port = server.address.rpartition(":")
        base = f"vs={vs.address}&port={vs.port}&prot=tcp&rs={rs_host}&rsport={rs_port}"
        change = {"drain": "enable=n", "maint": "enable=n", "ready": "enable=y"}.get(verb, f"weight={value}")
        return f"GET /access/modrs?{base}&{change}"
    body = {"drain": '{"session":"user-disabled"}', "maint": '{"state":"user-down","session":"user-disabled"}',
            "ready": '{"state":"user-up","session":"user-enabled"}'}.get(verb, f'{{"ratio":{value}}}')
    return f"PATCH /mgmt/tm/ltm/pool/~Common~{vs.name}/members/~Common~{server.address} {body}"


# ---------------------------------------------------------------- steps

def _step(balancer: Balancer, vs: VirtualService, server: RealServer, verb: str, title: str,
          before: dict, after: dict, *, mode: str = "act", why: str = "", compensate: Step | None = None,
          preview_text: str | None = None, stage: str = "", **extra) -> Step:
    return Step(id=f"{stage or verb}-{balancer.name}-{vs.name}-{server.name}", title=title, action=f"lb.{verb}",
                target=member_target(vs.name, server.name), before=before, after=after,
                preview=preview_text if preview_text is not None else preview(balancer, vs, server, verb),
                why=why, endpoint=balancer.name, mode=mode,
                compensate=asdict(compensate) if compensate else None, **extra)


def ready_step(b: Balancer, vs: VirtualService, s: RealServer) -> Step:
    return _step(b, vs, s, "ready", f"put {s.name} back in rotation on {vs.name}",
                 {"in_rotation": False}, {"in_rotation": True})


def drain_step(b: Balancer, vs: VirtualService, s: RealServer) -> Step:
    return _step(b, vs, s, "drain", f"drain {s.name} on {vs.name} ({vs.endpoint})",
                 {"new_clients": True}, {"new_clients": False}, compensate=ready_step(b, vs, s),
                 why="no new clients; existing sessions finish (persistent clients may still arrive)")


def sessions_step(b: Balancer, vs: VirtualService, s: RealServer, limit: int, timeout: int) -> Step:
    """With a limit: the drain's wait, which goes on when the limit passes. Without: the wait in
    maintenance for the sessions still in flight, which must end before the action runs."""
    bound = f"at most {limit} s, then go on" if limit else "in-flight sessions must end"
    return _step(b, vs, s, "sessions", f"wait until {s.name} has no sessions on {vs.name} ({bound})",
                 {}, {"settled": True}, mode="wait", params={"limit": limit}, stage="" if limit else "settle",
                 preview_text=f"poll current sessions of {vs.name}/{s.name} every {POLL:g} s",
                 interval=POLL, timeout=float(timeout))


def maint_step(b: Balancer, vs: VirtualService, s: RealServer) -> Step:
    return _step(b, vs, s, "maint", f"put {s.name} in maintenance on {vs.name}",
                 {"any_clients": True}, {"any_clients": False}, compensate=ready_step(b, vs, s),
                 why="no client at all, persistent ones included")


def health_step(b: Balancer, vs: VirtualService, s: RealServer, timeout: int) -> Step:
    return _step(b, vs, s, "health", f"wait until {vs.name} reports {s.name} UP", {}, {"status": "UP"},
                 mode="wait", preview_text=f"poll the health of {vs.name}/{s.name}", interval=POLL,
                 timeout=float(timeout))


def probe_step(b: Balancer, vs: VirtualService, s: RealServer, timeout: int) -> Step:
    return _step(b, vs, s, "probe", f"verify {s.name} answers on {s.address} ({vs.name})", {},
                 {"answers": True}, mode="wait", interval=POLL, timeout=float(timeout),
                 preview_text=f"connect to {s.address} from here, past the balancer")


# ---------------------------------------------------------------- choosing the members

def _balancers(facts: Facts) -> BalancerFacts:
    balancers = facts.get(BalancerFacts)
    if balancers is None:
        raise FixRefused(f"this fix needs load balancer facts: {facts.why_missing(BalancerFacts)}")
    return balancers


def members(facts: Facts, server: str, services: str | None = None,
            balancer: str | None = None) -> list[tuple[Balancer, VirtualService, RealServer]]:
    """Every (balancer, service, member) that sends to this server, narrowed by --service/--balancer."""
    wanted = {w.strip().casefold() for w in (services or "").split(",") if w.strip()}
    found = [(b, vs, vs.server(server)) for b in _balancers(facts).balancers
             if not balancer or b.name.casefold() == balancer.casefold()
             for vs in b.services if (not wanted or vs.name.casefold() in wanted) and vs.server(server)]
    if not found:
        raise FixRefused(f"no virtual service{' named ' + services if services else ''} sends to a real "
                         f"server named {server!r}" + (f" on {balancer}" if balancer else ""))
    return found


def refuse_last_healthy(chosen: list[tuple[Balancer, VirtualService, RealServer]], force: bool) -> list[str]:
    """The services the server is the last healthy member of: refused, or with --force a note."""
    last = [f"{vs.name} on {b.name}" for b, vs, s in chosen
            if s.healthy and not any(o.healthy for o in vs.servers if o is not s)]
    if last and not force:
        raise FixRefused(f"{chosen[0][2].name} is the last healthy server of {', '.join(last)}: draining it "
                         "would leave those clients with nothing; bring another server UP first, or "
                         "add --force")
    return [f"--force: {chosen[0][2].name} is the last healthy server of {', '.join(last)}"] if last else []


def drain_steps(chosen, limit: int) -> Iterator[Step]:
    """Drain all first (so they empty at once), then wait for each, then maintenance."""
    todo = [(b, vs, s) for b, vs, s in chosen if s.admin != "maint"]
    yield from (drain_step(b, vs, s) for b, vs, s in todo if s.admin == "ready")
    yield from (sessions_step(b, vs, s, limit, limit + SETTLE_TIMEOUT) for b, vs, s in todo)
    yield from (maint_step(b, vs, s) for b, vs, s in todo)


def runtime_notes(chosen) -> list[str]:
    return sorted({f"{b.name}: {note}" for b, _, _ in chosen for note in b.notes})


# ---------------------------------------------------------------- the fixes

SERVER = Param("server", "The real server (Exchange server) as the balancer names it, e.g. L12EX1.", required=True)
SERVICE = Param("service", "Only these virtual services (comma-separated names); default: all that use it.")
BALANCER = Param("balancer", "Only this configured balancer; default: every one that uses the server.")
FORCE = Param("force", "Drain even the last healthy server of a service.", type=bool)


@fix("lb-drain", title="Drain a real server, wait for its sessions, then maintenance",
     needs=(BalancerFacts,), params=(SERVER, SERVICE, BALANCER, FORCE,
                                     Param("timeout", f"Seconds to wait for sessions (default {DRAIN_LIMIT}).", type=int)))
def plan_drain(facts: Facts, live, server: str, service: str | None, balancer: str | None, force: bool,
               timeout: int | None) -> Plan:
    """Drain SERVER on every virtual service that uses it, wait until its sessions reach zero
    (or --timeout seconds pass: source-IP persistence keeps sending known clients to a draining
    server, and those are reported), then put it in maintenance. Undo puts it back in rotation."""
    chosen = members(facts, server, service, balancer)
    notes = refuse_last_healthy(chosen, force) + runtime_notes(chosen)
    return Plan(fix="lb-drain", params={"server": server, "service": service, "balancer": balancer,
                                        "force": force, "timeout": timeout},
                steps=tuple(drain_steps(chosen, timeout or DRAIN_LIMIT)), notes=tuple(notes))


def _suggest_enable(finding, facts: Facts) -> dict | None:
    server = finding.target.rpartition("/")[2]
    return {"server": server} if server else None


@fix("lb-enable", title="Put a real server back in rotation and wait for it to be healthy",
     resolves=("LB-DRAIN-STUCK",), suggest=_suggest_enable, needs=(BalancerFacts,),
     params=(SERVER, SERVICE, BALANCER,
             Param("slow_ramp", "Seconds over which to raise its weight from a tenth to full.", type=int),
             Param("timeout", f"Seconds to wait for health UP (default {HEALTH_TIMEOUT}).", type=int)))
def plan_enable(facts: Facts, live, server: str, service: str | None, balancer: str | None,
                slow_ramp: int | None, timeout: int | None) -> Plan:
    """Set SERVER ready on every virtual service that uses it and wait until the balancer's health
    check reports it UP; with --slow-ramp N, start it at a tenth of its weight and raise it over
    N seconds so it is not flooded (the traffic storm the seed warns about)."""
    steps: list[Step] = []
    for b, vs, s in members(facts, server, service, balancer):
        if s.admin == "ready":
            continue
        low = max(1, s.weight // 10)
        ramp = bool(slow_ramp) and s.weight > low
        if ramp:
            steps.append(_step(b, vs, s, "weight", f"start {s.name} at weight {low} on {vs.name}",
                               {"weight": s.weight}, {"weight": low}, mode="set",
                               preview_text=preview(b, vs, s, "weight", low)))
        steps.append(_step(b, vs, s, "admin", f"set {s.name} ready on {vs.name}", {"admin": s.admin},
                           {"admin": "ready"}, mode="set", preview_text=preview(b, vs, s, "ready")))
        steps.append(health_step(b, vs, s, timeout or HEALTH_TIMEOUT))
        if ramp:
            steps.append(_step(b, vs, s, "ramp", f"raise {s.name}'s weight to {s.weight} over {slow_ramp} s",
                               {"weight": low}, {"weight": s.weight}, params={"seconds": slow_ramp},
                               preview_text=preview(b, vs, s, "weight", f"{low}..{s.weight}")))
    return Plan(fix="lb-enable", params={"server": server, "service": service, "balancer": balancer,
                                         "slow_ramp": slow_ramp, "timeout": timeout}, steps=tuple(steps))


# ---------------------------------------------------------------- maintenance

@dataclass(frozen=True)
class MaintenanceAction:
    """What is done to a server while the balancer keeps clients away from it."""

    name: str
    title: str
    steps: Callable[[str, Facts, list], list[Step]]    # (server, facts, live sources) -> steps


_actions: dict[str, MaintenanceAction] = {}


def maintenance_action(name: str, *, title: str) -> Callable:
    """Register an action for `exops maintenance SERVER -- NAME` (e.g. restart-store, from the
    Exchange servers' module): a function from the server, the facts and the live sources to
    the steps that do it, on whichever executor they need."""
    def register(func: Callable[[str, Facts, list], list[Step]]) -> Callable:
        _actions[name] = MaintenanceAction(name, title, func)
        return func
    return register


def maintenance_actions() -> dict[str, MaintenanceAction]:
    return dict(_actions)


@maintenance_action("restart-backend", title="restart the lab's emulated CAS endpoints (lab only)")
def restart_backend(server: str, facts: Facts, live: list) -> list[Step]:
    lab = next((s for s in live if hasattr(s, "backend_identity")), None)
    if lab is None:
        raise FixRefused("restart-backend is the lab's own action: it needs the lab: section that "
                         "'exops lab up' writes into exops.lab.yaml")
    was = lab.backend_identity(server)
    return [Step(id=f"restart-{server}", title=f"restart the emulated {server} (its service endpoints)",
                 action="lab.restart", target=f"{server} emulated CAS", before={"restarted": False},
                 after={"restarted": True}, params={"was": was}, endpoint=server, mode="act",
                 preview=f"stop process {was.split(':')[0]} and start the emulated {server} again",
                 why="what a service restart is to its clients: every open connection is cut")]


@fix("maintenance", title="Drain a server, run an action on it, verify it, put it back",
     needs=(BalancerFacts,), live=True,
     params=(SERVER, Param("action", "What to do while it is drained (see 'exops maintenance --help').",
                           required=True), BALANCER, FORCE,
             Param("timeout", f"Seconds the drain waits for sessions (default {DRAIN_LIMIT}).", type=int)))
def plan_maintenance(facts: Facts, live, server: str, action: str, balancer: str | None, force: bool,
                     timeout: int | None) -> Plan:
    """Drain SERVER everywhere, wait for its last session, put it in maintenance, run ACTION,
    verify it answers on every port the balancer sends to, put it back in rotation and wait for
    health UP. A failure undoes the drain; undoing a finished run leaves the server in rotation."""
    if action not in _actions:
        raise FixRefused(f"no maintenance action {action!r}; known: {', '.join(sorted(_actions)) or 'none'}")
    chosen = members(facts, server, None, balancer)
    notes = refuse_last_healthy(chosen, force) + runtime_notes(chosen)
    steps = [*drain_steps(chosen, timeout or DRAIN_LIMIT)]
    steps += [sessions_step(b, vs, s, 0, SETTLE_TIMEOUT) for b, vs, s in chosen]
    steps += _actions[action].steps(server, facts, list(live))
    steps += [probe_step(b, vs, s, HEALTH_TIMEOUT) for b, vs, s in chosen]
    steps += [ready_step(b, vs, s) for b, vs, s in chosen]
    steps += [health_step(b, vs, s, HEALTH_TIMEOUT) for b, vs, s in chosen]
    return Plan(fix="maintenance", params={"server": server, "action": action, "balancer": balancer,
                                           "force": force, "timeout": timeout},
                steps=tuple(steps), notes=tuple(notes))

