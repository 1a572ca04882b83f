"""Client access repairs from the seed: Outlook pointed at the CAS array, static RPC ports.

`rpc-client-access`: `Set-MailboxDatabase <db> -RpcClientAccessServer <array FQDN>` for each
database that hands Outlook something else (a `set` step on the database's server, undone by
setting the old value back).
`static-rpc-ports`: on each client access server, MSExchangeRPC `TCP/IP Port` (REG_DWORD) and
MSExchangeAB `RpcTcpPort` (REG_SZ) set to the ports the balancer forwards, then MSExchangeRPC and
MSExchangeAB restarted (interrupts Outlook connections to that server briefly; not undoable) so
they listen there. Each step's preview is the exact script it runs.
"""
from __future__ import annotations

from exops.checks.casarray import AB_VALUE, PORT_RANGE, RPC_VALUE, SERVICE_OF, arrays_by_site, site_key, server_sites
from exops.dn import fold
from exops.facts.exchange import ExchangeFacts, ServerReport
from exops.facts.store import Facts
from exops.fixes.store import script_preview
from exops.plan import Plan, PlanError, Step
from exops.registry import Param, fix

KINDS = {RPC_VALUE: "DWord", AB_VALUE: "String"}


class CasFixRefused(PlanError):
    """The client access fix cannot be planned; the message says why."""


def _exchange(facts: Facts) -> ExchangeFacts:
    exchange = facts.get(ExchangeFacts)
    if exchange is None:
        raise CasFixRefused(f"this fix needs the Exchange servers: {facts.why_missing(ExchangeFacts)}")
    return exchange


def _suggest_database(finding, facts: Facts) -> dict | None:
    return {"database": finding.target} if finding.check_id == "CAS-RPC-ACCESS" and finding.target != "mailbox databases" else None


@fix("rpc-client-access", title="Point mailbox databases' Outlook clients at the CAS array",
     resolves=("CAS-RPC-ACCESS",), suggest=_suggest_database, needs=(ExchangeFacts,), params=(
         Param("database", "Only this mailbox database (default: every one that is wrong)."),))
def plan_rpc_client_access(facts: Facts, live=(), *, database: str | None = None) -> Plan:
    """Set RpcClientAccessServer to the site's CAS array FQDN (seed: Get-MailboxDatabase |
    Set-MailboxDatabase -RpcClientAccessServer outlook.litware.com)."""
    exchange = _exchange(facts)
    arrays, _ = arrays_by_site(exchange)
    sites = server_sites(exchange)
    steps = []
    for report in exchange.servers:
        for db in report.mailbox_databases or ():
            if database and fold(db.name) != fold(database):
                continue
            array = arrays.get(site_key(sites.get(fold(db.server), "")))
            if array is None or fold(db.rpc_client_access_server) == fold(array.fqdn):
                continue
            steps.append(Step(
                id=f"rpc-client-access-{db.name}", title=f"Point {db.name} at {array.fqdn}",
                action="winrm.set-rpc-client-access", target=f"{report.server}/{db.name}", endpoint=report.server,
                before={"rpc_client_access_server": db.rpc_client_access_server},
                after={"rpc_client_access_server": array.fqdn}, params={"database": db.name},
                preview=script_preview("set-rpc-client-access", {"database": db.name, "fqdn": array.fqdn}, report.session),
                why="Outlook profiles created from now on connect to the balanced name; existing ones follow "
                    "at their next profile repair"))
    notes = () if steps else ("every mailbox database already points at its site's CAS array",)
    return Plan(fix="rpc-client-access", params={"database": database}, steps=tuple(steps), notes=notes)


@fix("static-rpc-ports", title="Fix the RPC and address book ports on every client access server",
     resolves=("CAS-RPC-PORTS",), suggest=lambda finding, facts: {} if finding.check_id == "CAS-RPC-PORTS" else None,
     needs=(ExchangeFacts,), params=(
         Param("rpc_port", "MSExchangeRPC port (seed: 59531).", type=int),
         Param("ab_port", "MSExchangeAB port (seed: 59532).", type=int)))
def plan_static_rpc_ports(facts: Facts, live=(), *, rpc_port: int | None = None, ab_port: int | None = None) -> Plan:
    """Set MSExchangeRPC `TCP/IP Port` and MSExchangeAB `RpcTcpPort` and restart both services."""
    wanted = {RPC_VALUE: rpc_port or 59531, AB_VALUE: ab_port or 59532}
    for name, port in wanted.items():
        if port not in PORT_RANGE:
            raise CasFixRefused(f"{name} {port} is outside 59531-60554, the range Exchange 2010 documents")
    steps = []
    for report in _exchange(facts).servers:
        if report.registry is None or (report.roles and not report.has("cas")):
            continue
        steps += _server_port_steps(report, wanted)
    notes = ("restarting MSExchangeRPC and MSExchangeAB drops Outlook connections to that server for a "
             "moment; drain it at the balancer first (exops lb drain) where clients matter",) if steps else (
             "every client access server already uses these ports and listens on them",)
    return Plan(fix="static-rpc-ports", params={"rpc_port": rpc_port, "ab_port": ab_port}, steps=tuple(steps),
                notes=notes)


def _server_port_steps(report: ServerReport, wanted: dict[str, int]) -> list[Step]:
    steps, restart = [], []
    for name, port in wanted.items():
        value = next((v for v in report.registry if v.name == name), None)
        current = ({"present": True, "kind": value.kind, "value": value.value} if value and value.present
                   else {"present": False})
        target = {"present": True, "kind": KINDS[name], "value": str(port)}
        if current != target:
            steps.append(Step(
                id=f"set-{SERVICE_OF[name]}-{report.server}", title=f"Set {name} = {port} on {report.server}",
                action="winrm.set-rpc-port", target=f"{report.server}/{name}", endpoint=report.server,
                before=current, after=target, params={"name": name},
                preview=script_preview("set-rpc-port", {"name": name, "value": str(port), "remove": False}, report.session),
                why=f"the balancer forwards {port}; {SERVICE_OF[name]} reads this {KINDS[name]} value when it starts"))
        if current != target or port not in (report.listening or ()):
            restart.append(SERVICE_OF[name])
    for service in restart:
        started = next((s.started for s in report.services or () if s.name == service), None)
        if started is None:
            raise CasFixRefused(f"cannot tell when {service} on {report.server} last started "
                                f"({report.failures.get('services', 'services.ps1 gave no start time')})")
        steps.append(Step(
            id=f"restart-{service}-{report.server}", title=f"Restart {service} on {report.server}",
            action="winrm.restart-service", target=f"{report.server}/{service}", endpoint=report.server,
            mode="act", before={"restarted": False}, after={"restarted": True},
            params={"service": service, "since": started.isoformat()},
            preview=script_preview("restart-service", {"service": service}, report.session),
            why="the service reads its port only when it starts"))
    return steps
