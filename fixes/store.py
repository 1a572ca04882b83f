"""Restart the Information Store and wait for the proof: the seed's last step, made safe.

The store creates a missing free/busy site folder at its maintenance cycle (up to 24 h, no
interruption) or when MSExchangeIS restarts (interrupts mailbox and public folder access on that
server for a minute or so). `restart-store` restarts it on the server holding the public folder
database, then *waits* until `SCHEDULE+ FREE BUSY\\EX:<prefix>` exists and event 3047 is logged:
the fix is done when the store says so, not when the command returned. `exops fix freebusy
--restart-store` appends the same steps to the administrative-group repair.

The restart is an `act` step that cannot be undone (there is no "unrestart"); its state is
whether MSExchangeIS started after the start time the facts saw, so a plan made before someone
else restarted the store is refused as stale and one whose restart already happened finds it done.

`exops maintenance SERVER -- restart-store` (registered here as a maintenance action) runs the
same restart between the balancer's drain and enable, and waits until the store reports Running.
"""
from __future__ import annotations

import json

from exops import powershell
from exops.dn import BadLegacyDN, fold, parse_admin_group_dn
from exops.facts.directory import DirectoryFacts
from exops.facts.exchange import ExchangeFacts, FREE_BUSY_ROOT, ServerReport, database_server
from exops.facts.store import Facts
from exops.fixes.loadbalancer import maintenance_action
from exops.plan import Plan, PlanError, Step
from exops.registry import Param, fix

STORE = "MSExchangeIS"
WAIT_TIMEOUT = 600.0
WAIT_INTERVAL = 5.0
SERVICE_TIMEOUT = 300.0     # seconds for the store to report Running after a restart
SERVICE_INTERVAL = 2.0
MAINTENANCE_NOTE = ("the alternative is to wait for the store's maintenance cycle (up to 24 h, no "
                    "interruption): run the fix without --restart-store and check again tomorrow")


class StoreFixRefused(PlanError):
    """The store steps cannot be planned; the message says what is missing."""


def script_preview(name: str, parameters: dict, session: str) -> str:
    """The preview: exactly the script that will run, with its argument, as the server gets it."""
    body = powershell.minified(powershell.text(name)).rstrip()
    return f"# {name}.ps1 ({session}), argument {json.dumps(parameters)}\n{body}"


def store_report(facts: Facts, server: str) -> ServerReport:
    """The server's report, or why its store cannot be restarted by exops."""
    exchange = facts.get(ExchangeFacts)
    if exchange is None:
        raise StoreFixRefused(f"restarting the store needs the Exchange servers: {facts.why_missing(ExchangeFacts)}")
    report = exchange.report(server)
    if report is None:
        known = ", ".join(r.server for r in exchange.servers) or "none"
        raise StoreFixRefused(f"{server} is not a configured Exchange server (configured: {known}); add it "
                              "under exchange.servers to restart its store")
    return report


def restart_step(report: ServerReport, why: str) -> Step:
    """Restart MSExchangeIS on the report's server, read back as "started after the start time
    the facts saw"."""
    server = report.server
    started = next((s.started for s in report.services or () if s.name == STORE), None)
    if started is None:
        why_not = report.failures.get("services", "services.ps1 gave no start time for MSExchangeIS")
        raise StoreFixRefused(f"cannot tell when {STORE} on {server} last started: {why_not}")
    return Step(
        id=f"restart-store-{server}", title=f"Restart the Information Store on {server}",
        action="winrm.restart-service", target=f"{server}/{STORE}", endpoint=server, mode="act",
        before={"restarted": False}, after={"restarted": True},
        params={"service": STORE, "since": started.isoformat()},
        preview=script_preview("restart-service", {"service": STORE}, report.session), why=why)


def store_restart_steps(facts: Facts, server: str, prefix: str) -> tuple[list[Step], list[str]]:
    """Restart MSExchangeIS on `server`, then wait for the folder of `prefix` and event 3047."""
    report = store_report(facts, server)
    restart = restart_step(report, f"the store creates SCHEDULE+ FREE BUSY\\EX:{prefix} when it starts; "
                                          f"this interrupts mailbox and public folder access on {server} for "
                                          "about a minute")
    since, session = restart.params["since"], report.session
    proof = Step(
        id=f"await-folder-{server}", title=f"Wait for SCHEDULE+ FREE BUSY\\EX:{prefix} and event 3047",
        action="winrm.free-busy-folder", target=f"{FREE_BUSY_ROOT}\\EX:{prefix}", endpoint=server, mode="wait",
        before={}, after={"folder": True, "event_3047": True},
        params={"dn": prefix, "since": since},
        preview=script_preview("public-folders", {}, session) + "\n"
                + script_preview("events", {"since": since, "max_events": 1000}, session),
        why="proof, not hope: the store logs 3047 once the folder exists",
        interval=WAIT_INTERVAL, timeout=WAIT_TIMEOUT)
    return [restart, proof], [f"{STORE} on {server} will restart (interrupts service); {MAINTENANCE_NOTE}"]


@maintenance_action("restart-store", title="restart the Information Store over WinRM and wait until it runs")
def maintenance_restart_store(server: str, facts: Facts, live: list) -> list[Step]:
    """`exops maintenance SERVER -- restart-store`: the restart while the balancer keeps clients
    away, then a wait until MSExchangeIS reports Running (Restart-Service may return while the
    service is still starting); the balancer steps after it verify the server answers."""
    report = store_report(facts, server)
    restart = restart_step(report, "the balancer sends this server no clients while its store restarts")
    running = Step(
        id=f"store-running-{server}", title=f"Wait until {STORE} on {server} is running again",
        action="winrm.service-state", target=f"{server}/{STORE}", endpoint=server, mode="wait",
        before={}, after={"state": "Running"}, params={"service": STORE},
        preview=script_preview("services", {}, report.session),
        why="a restart that leaves the store stopped must not put the server back in rotation",
        interval=SERVICE_INTERVAL, timeout=SERVICE_TIMEOUT)
    return [restart, running]


def site_folder_server(directory: DirectoryFacts, prefix: str, pf_db: str | None = None) -> str:
    """The server whose store creates the folder: the one holding the AG's siteFolderServer
    database (or the database the plan chose)."""
    wanted = pf_db or next((ag.site_folder_server for ag in directory.admin_groups
                            if fold(ag.legacy_dn or "") == fold(prefix)), None)
    server = database_server(wanted or "")
    if not server:
        raise StoreFixRefused(f"no public folder database is the siteFolderServer of {prefix}: repair the "
                              f'administrative group first (exops fix freebusy --dn "{prefix}")')
    return server


def with_store_restart(plan: Plan, facts: Facts) -> Plan:
    """A freebusy plan followed by the restart and the wait (`--restart-store`)."""
    directory = facts.get(DirectoryFacts)
    prefix = plan.params["dn"]
    server = site_folder_server(directory, prefix, plan.params.get("pf_db"))
    steps, notes = store_restart_steps(facts, server, prefix)
    return Plan(fix=plan.fix, params={**plan.params, "restart_store": True}, steps=(*plan.steps, *steps),
                notes=(*plan.notes, *notes), resolves=plan.resolves)


def _suggest(finding, facts: Facts) -> dict | None:
    directory = facts.get(DirectoryFacts)
    if finding.check_id != "FB-FOLDER" or directory is None:
        return None
    if not any(fold(ag.legacy_dn or "") == fold(finding.target) for ag in directory.admin_groups):
        return None     # no AG yet: exops fix freebusy --restart-store recreates it first
    return {"dn": finding.target}


@fix("restart-store", title="Restart the Information Store and wait for the free/busy folder",
     resolves=("FB-FOLDER",), suggest=_suggest, needs=(DirectoryFacts, ExchangeFacts), params=(
         Param("dn", 'The /o=<Org>/ou=<AG> whose free/busy folder the store must create.', required=True),))
def plan_restart_store(facts: Facts, live=(), *, dn: str) -> Plan:
    """Restart MSExchangeIS on the server of the AG's siteFolderServer and wait for event 3047.

    For an administrative group that exists with a valid siteFolderServer but whose free/busy
    folder the store has not created yet.

    \b
    Example:
      exops fix restart-store --dn "/o=EUROPE/ou=First Administrative Group" --dry-run
    """
    try:
        org, ag = parse_admin_group_dn(dn)
    except BadLegacyDN as exc:
        raise StoreFixRefused(str(exc)) from None
    prefix = f"/o={org}/ou={ag}"
    server = site_folder_server(facts.get(DirectoryFacts), prefix)
    steps, notes = store_restart_steps(facts, server, prefix)
    return Plan(fix="restart-store", params={"dn": prefix}, steps=tuple(steps), notes=tuple(notes))


def _suggest_replica(finding, facts: Facts) -> dict | None:
    return {"folder": finding.target} if finding.check_id == "FB-REPLICA" and finding.target.upper().startswith("EX:") else None


@fix("free-busy-replica", title="Add a replica of a free/busy folder on a live public folder database",
     resolves=("FB-REPLICA",), suggest=_suggest_replica, needs=(ExchangeFacts,), params=(
         Param("folder", "The site folder, e.g. 'EX:/o=EUROPE/ou=Amsterdam'.", required=True),
         Param("database", "Public folder database to add (default: the first on a configured server).")))
def plan_free_busy_replica(facts: Facts, live=(), *, folder: str, database: str | None = None) -> Plan:
    """Add a replica of a free/busy site folder on a public folder database of a live server
    (KB 945602: replicas left only on decommissioned servers). Undone by restoring the old list."""
    exchange = facts.get(ExchangeFacts)
    reports = [r for r in exchange.servers if r.folders is not None and r.public_folder_stores is not None]
    found = next(((f, r) for r in reports for f in r.folders if fold(f.name) == fold(folder)), None)
    if found is None:
        raise StoreFixRefused(f"no server listed a free/busy folder {folder!r}")
    current, report = found
    configured = {fold(r.server) for r in exchange.servers}
    stores = [s for s in report.public_folder_stores if fold(s.server) in configured]
    store = next((s for s in stores if fold(s.name) == fold(database)), None) if database else (stores or [None])[0]
    if store is None:
        raise StoreFixRefused(f"{database or 'no public folder database'} is not a public folder database on a "
                              "configured Exchange server")
    if any(fold(r.split("\\")[-1]) == fold(store.name) for r in current.replicas):
        return Plan(fix="free-busy-replica", params={"folder": current.name, "database": store.name}, steps=(),
                    notes=(f"{current.name} already has a replica on {store.name}",))
    replicas = sorted([*(r for r in current.replicas if r), store.name])
    step = Step(id=f"replica-{store.name}", title=f"Add a replica of {current.name} on {store.name}",
                action="winrm.set-replicas", target=f"{FREE_BUSY_ROOT}\\{current.name}", endpoint=store.server,
                before={"replicas": sorted(current.replicas)}, after={"replicas": replicas},
                params={"folder": current.name},
                preview=script_preview("set-replicas", {"folder": current.name, "replicas": replicas}, report.session),
                why="free/busy is published to and read from a replica on a reachable database")
    return Plan(fix="free-busy-replica", params={"folder": current.name, "database": store.name}, steps=(step,),
                notes=("replication fills the new replica within the public folder replication schedule",))
