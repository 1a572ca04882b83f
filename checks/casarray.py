"""CAS array, static RPC ports and virtual directories (seed: "Load balancing Exchange 2010 using
a KEMP Virtual LoadMaster"): what clients are told to connect to must be the balanced name.

- one client access array per AD site with mailbox servers, its FQDN resolving;
- every mailbox database's RpcClientAccessServer is that array's FQDN;
- MSExchangeRPC `TCP/IP Port` (REG_DWORD) and MSExchangeAB `RpcTcpPort` (REG_SZ) fixed in
  59531-60554, the same on every CAS, and listening (the services restarted since they were set);
- OWA/EWS/ECP/OAB/ActiveSync URLs on the array's name, over https, the same on every CAS.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from urllib.parse import urlsplit

from exops.checks.exchange import readers, script_evidence
from exops.dn import fold
from exops.facts.exchange import CasArray, ExchangeFacts, ServerReport
from exops.model import Finding, Severity
from exops.registry import check

AREA = "casarray"
PORT_RANGE = range(59531, 60555)
RPC_VALUE, AB_VALUE = "TCP/IP Port", "RpcTcpPort"
EXPECTED_KIND = {RPC_VALUE: "DWord", AB_VALUE: "String"}
SERVICE_OF = {RPC_VALUE: "MSExchangeRPC", AB_VALUE: "MSExchangeAB"}


def site_key(site: str) -> str:
    """`litware.com/Configuration/Sites/Default-First-Site-Name` and the bare name compare alike."""
    return fold(site.rsplit("/", 1)[-1])


def arrays_by_site(exchange: ExchangeFacts) -> tuple[dict[str, CasArray], ServerReport | None]:
    reports = readers(exchange, "cas_arrays")
    arrays = {site_key(a.site): a for r in reports for a in r.cas_arrays}
    return arrays, (reports[0] if reports else None)


def server_sites(exchange: ExchangeFacts) -> dict[str, str]:
    """Server name → its site, from any server's Get-ExchangeServer answer."""
    return {fold(s.name): s.site for r in readers(exchange, "organization") for s in r.organization}


@check("CAS-ARRAY", title="Client access array per site", needs=(ExchangeFacts,), area=AREA)
def cas_arrays(exchange: ExchangeFacts) -> Iterator[Finding]:
    arrays, source = arrays_by_site(exchange)
    if source is None:
        return
    mailbox_sites = {site_key(s.site): s.site for r in readers(exchange, "organization") for s in r.organization
                     if "mailbox" in fold(s.roles) and s.version.startswith("Version 14")}
    for key, site in sorted(mailbox_sites.items()):
        array = arrays.get(key)
        evidence = (script_evidence(source, "cas-arrays", "lists the arrays",
                                    arrays=[f"{a.fqdn} ({a.site})" for a in arrays.values()]),)
        if array is None:
            yield Finding(check_id="CAS-ARRAY", severity=Severity.CRITICAL, target=site,
                          summary=f"site {site} has Exchange 2010 mailbox servers but no client access array",
                          detail="Without a CAS array Outlook connects to a server's own name, so a balancer "
                                 "cannot move it: New-ClientAccessArray -Fqdn <balanced name> -Site <site>.",
                          evidence=evidence)
        elif not array.addresses:
            yield Finding(check_id="CAS-ARRAY", severity=Severity.CRITICAL, target=array.fqdn,
                          summary=f"client access array {array.fqdn} does not resolve (seen from {source.server})",
                          detail="Create the DNS record for the array's FQDN pointing at the balancer's "
                                 "virtual address.", evidence=evidence)
        else:
            yield Finding(check_id="CAS-ARRAY", severity=Severity.OK, target=array.fqdn,
                          summary=f"site {site}: array {array.fqdn} resolves to {', '.join(array.addresses)} "
                                  f"(members {', '.join(array.members) or 'none'})", evidence=evidence)


@check("CAS-RPC-ACCESS", title="Mailbox databases point Outlook at the CAS array", needs=(ExchangeFacts,), area=AREA)
def rpc_client_access(exchange: ExchangeFacts) -> Iterator[Finding]:
    arrays, _ = arrays_by_site(exchange)
    sites = server_sites(exchange)
    wrong = checked = 0
    for report in readers(exchange, "mailbox_databases"):
        for db in report.mailbox_databases:
            array = arrays.get(site_key(sites.get(fold(db.server), "")))
            if array is None:
                continue
            checked += 1
            if fold(db.rpc_client_access_server) == fold(array.fqdn):
                continue
            wrong += 1
            yield Finding(
                check_id="CAS-RPC-ACCESS", severity=Severity.CRITICAL, target=db.name,
                summary=f"database {db.name} on {db.server} gives Outlook {db.rpc_client_access_server or '(nothing)'}, "
                        f"not the array {array.fqdn}",
                detail="Outlook profiles get the database's RpcClientAccessServer; when it is a server name, "
                       "the balancer is bypassed and that server's failure disconnects them: "
                       f"Set-MailboxDatabase {db.name} -RpcClientAccessServer {array.fqdn}.",
                evidence=(script_evidence(report, "mailbox-databases", f"reads {db.name}",
                                          rpc_client_access_server=db.rpc_client_access_server),))
    if checked and not wrong:
        yield Finding(check_id="CAS-RPC-ACCESS", severity=Severity.OK, target="mailbox databases",
                      summary=f"all {checked} mailbox databases point Outlook at their site's CAS array")


@check("CAS-RPC-PORTS", title="Static RPC ports set, the same everywhere, and listening",
       needs=(ExchangeFacts,), area=AREA)
def static_rpc_ports(exchange: ExchangeFacts) -> Iterator[Finding]:
    reports = [r for r in readers(exchange, "registry") if r.has("cas") or not r.roles]
    values: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    problems = 0
    for report in reports:
        for value in report.registry:
            issue = _port_problem(value, report)
            evidence = (script_evidence(report, "rpc-ports", f"reads {value.name}", path=value.path,
                                        kind=value.kind, value=value.value,
                                        listening=list(report.listening or ())),)
            if issue:
                problems += 1
                severity, summary = issue
                yield Finding(check_id="CAS-RPC-PORTS", severity=severity, target=f"{report.server} {value.name}",
                              summary=summary, evidence=evidence,
                              detail="The balancer forwards fixed ports (seed: 59531 RPC, 59532 address book); "
                                     f"set {value.path}\\{value.name} ({EXPECTED_KIND[value.name]}) and restart "
                                     f"{SERVICE_OF[value.name]}.")
            else:
                values[value.name][value.value].add(report.server)
    by_name = {r.server: r for r in reports}
    for name, seen in values.items():
        if len(seen) > 1:
            problems += 1
            listed = "; ".join(f"{v} on {', '.join(sorted(s))}" for v, s in sorted(seen.items()))
            yield Finding(check_id="CAS-RPC-PORTS", severity=Severity.WARNING, target=name,
                          summary=f"{name} differs between client access servers: {listed}",
                          detail="Every member of the array must use the same ports the balancer forwards.",
                          evidence=tuple(script_evidence(by_name[server], "rpc-ports", f"reads {name}", value=v)
                                         for v, servers in sorted(seen.items()) for server in sorted(servers)))
    if reports and not problems:
        yield Finding(check_id="CAS-RPC-PORTS", severity=Severity.OK, target="static RPC ports",
                      summary=f"{len(reports)} client access servers use "
                              + ", ".join(f"{n} {next(iter(v))}" for n, v in sorted(values.items()))
                              + " and listen on them")


def _port_problem(value, report: ServerReport) -> tuple[Severity, str] | None:
    where = f"{report.server}: {value.name}"
    if not value.present:
        return Severity.WARNING, f"{where} is not set: the service uses a dynamic port the balancer cannot follow"
    if value.kind != EXPECTED_KIND.get(value.name, value.kind):
        return Severity.CRITICAL, (f"{where} is a {value.kind}, not a {EXPECTED_KIND[value.name]}: "
                                   f"{SERVICE_OF[value.name]} ignores it")
    if not value.value.isdigit() or int(value.value) not in PORT_RANGE:
        return Severity.WARNING, f"{where} is {value.value}, outside 59531-60554"
    if report.listening is not None and int(value.value) not in report.listening:
        return Severity.CRITICAL, (f"{where} is {value.value} but nothing listens there: restart "
                                   f"{SERVICE_OF[value.name]} since it was set")
    return None


@check("CAS-VDIR", title="Virtual directory URLs on the array's name, over https", needs=(ExchangeFacts,), area=AREA)
def virtual_directories(exchange: ExchangeFacts) -> Iterator[Finding]:
    arrays, _ = arrays_by_site(exchange)
    sites = server_sites(exchange)
    urls: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    problems = checked = 0
    for report in readers(exchange, "virtual_directories"):
        array = arrays.get(site_key(sites.get(fold(report.server), "")))
        for vdir in report.virtual_directories:
            for side, url in (("InternalUrl", vdir.internal_url), ("ExternalUrl", vdir.external_url)):
                if not url:
                    continue          # not published that way (Autodiscover has none): nothing to check
                checked += 1
                urls[(vdir.kind, side)][url.casefold()].add(report.server)
                parts = urlsplit(url)
                issue = ("is not https" if parts.scheme.lower() != "https" else
                         f"names {parts.hostname}, not the array {array.fqdn}"
                         if array and fold(parts.hostname or "") != fold(array.fqdn) else "")
                if issue:
                    problems += 1
                    yield Finding(
                        check_id="CAS-VDIR", severity=Severity.WARNING, target=f"{report.server} {vdir.name} {side}",
                        summary=f"{report.server}: {vdir.name} {side} {url} {issue}",
                        detail="Clients must be sent to the balanced namespace over https, e.g. "
                               f"Set-OwaVirtualDirectory -InternalUrl https://{array.fqdn if array else '<array>'}/owa.",
                        evidence=(script_evidence(report, "virtual-directories", f"reads {vdir.name}",
                                                  internal_url=vdir.internal_url, external_url=vdir.external_url),))
    by_name = {r.server: r for r in readers(exchange, "virtual_directories")}
    for (kind, side), seen in sorted(urls.items()):
        if len(seen) > 1:
            problems += 1
            listed = "; ".join(f"{u} on {', '.join(sorted(s))}" for u, s in sorted(seen.items()))
            yield Finding(check_id="CAS-VDIR", severity=Severity.WARNING, target=f"{kind} {side}",
                          summary=f"{kind} {side} differs between client access servers: {listed}",
                          evidence=tuple(script_evidence(by_name[server], "virtual-directories", f"reads {kind}",
                                                         url=url)
                                         for url, servers in sorted(seen.items()) for server in sorted(servers)))
    if checked and not problems:
        yield Finding(check_id="CAS-VDIR", severity=Severity.OK, target="virtual directories",
                      summary=f"{checked} virtual directory URLs use https on the array's name, the same on every CAS")
