"""Checks that need the Exchange servers themselves: what they read, and free/busy as the store
sees it (the site folders and their replicas).

Every finding's evidence names the server, the script and the session type that produced it.
Live events 14031/8207/3047 need no check here: the servers' sources deliver them as EventFacts,
merged with the log files', and the FB-EVENT-* checks read both.
"""
from __future__ import annotations

from collections.abc import Iterator

from exops.dn import fold
from exops.facts.directory import DirectoryFacts
from exops.facts.exchange import ExchangeFacts, FreeBusyFolder, ServerReport
from exops.model import Evidence, Finding, Severity
from exops.registry import check

AREA = "exchange"


def script_evidence(report: ServerReport, script: str, title: str, **data) -> Evidence:
    """Where a fact came from: server, script, session; plus what the check looked at."""
    return Evidence(kind="powershell", title=f"{report.server}: {script}.ps1 ({report.session}) {title}".strip(),
                    data={"server": report.server, "script": f"{script}.ps1", "session": report.session,
                          "read_at": report.read_at.isoformat(), **data})


def readers(exchange: ExchangeFacts, part: str) -> list[ServerReport]:
    """The servers that answered the script giving `part` (e.g. `folders`)."""
    return [r for r in exchange.servers if getattr(r, part) is not None]


@check("EX-SERVER", title="Exchange server answered exops's scripts", needs=(ExchangeFacts,), area=AREA)
def servers_read(exchange: ExchangeFacts) -> Iterator[Finding]:
    for report in exchange.servers:
        me = report.myself()
        what = f"Exchange {me.version}, roles {me.roles}, site {me.site}" if me else "not in its own Get-ExchangeServer"
        evidence = tuple(script_evidence(report, script, "answered") for script in report.scripts)
        if report.failures:
            yield Finding(
                check_id="EX-SERVER", severity=Severity.UNKNOWN, target=report.server,
                summary=f"{len(report.failures)} of {len(report.failures) + len(report.scripts)} scripts gave "
                        f"nothing on {report.server}: {', '.join(sorted(report.failures))}",
                detail="; ".join(report.failures.values()),
                evidence=evidence + tuple(script_evidence(report, s, "failed", error=why)
                                          for s, why in sorted(report.failures.items())))
        else:
            yield Finding(check_id="EX-SERVER", severity=Severity.OK, target=report.server,
                          summary=f"{report.server} answered {len(report.scripts)} scripts over {report.session}: {what}",
                          evidence=evidence)


def _folders(exchange: ExchangeFacts) -> tuple[dict[str, tuple[FreeBusyFolder, ServerReport]], list[ServerReport]]:
    """Every free/busy folder any server listed (the hierarchy is organisation-wide)."""
    found: dict[str, tuple[FreeBusyFolder, ServerReport]] = {}
    reports = readers(exchange, "folders")
    for report in reports:
        for folder in report.folders:
            found.setdefault(fold(folder.name), (folder, report))
    return found, reports


@check("FB-FOLDER", title="Free/busy site folder missing", needs=(ExchangeFacts, DirectoryFacts), area="freebusy")
def site_folders(exchange: ExchangeFacts, directory: DirectoryFacts) -> Iterator[Finding]:
    """Every AG and every prefix mailboxes carry needs SCHEDULE+ FREE BUSY\\EX:<prefix>."""
    found, reports = _folders(exchange)
    if not reports:
        yield Finding(check_id="FB-FOLDER", severity=Severity.UNKNOWN, target="SCHEDULE+ FREE BUSY",
                      summary="no Exchange server answered public-folders.ps1: the folders could not be checked")
        return
    wanted: dict[str, tuple[str, int]] = {}
    for ag in directory.admin_groups:
        if ag.legacy_dn:
            wanted[fold(ag.legacy_dn)] = (ag.legacy_dn, 0)
    for group in directory.recipient_prefixes:
        if group.publishers:
            wanted[fold(group.prefix)] = (wanted.get(fold(group.prefix), (group.prefix, 0))[0], group.publishers)
    source = reports[0]
    missing = 0
    for key, (prefix, mailboxes) in sorted(wanted.items()):
        if f"ex:{key}" in found:
            continue
        missing += 1
        yield Finding(
            check_id="FB-FOLDER", severity=Severity.CRITICAL if mailboxes else Severity.WARNING, target=prefix,
            summary=f"no free/busy folder SCHEDULE+ FREE BUSY\\EX:{prefix}"
                    + (f": {mailboxes} mailboxes publish to it" if mailboxes else ""),
            detail="The store creates the folder for an administrative group with this legacyExchangeDN "
                   "and a siteFolderServer, at its maintenance cycle or when the Information Store "
                   "restarts (event 3047). Until then Outlook 2003 free/busy for these users is lost.",
            evidence=(script_evidence(source, "public-folders", "lists the free/busy folders",
                                      folders=sorted(f.name for f, _ in found.values())),),
            fixes=(f'exops fix freebusy --dn "{prefix}" --restart-store',))
    if not missing:
        yield Finding(check_id="FB-FOLDER", severity=Severity.OK, target="SCHEDULE+ FREE BUSY",
                      summary=f"a free/busy folder exists for each of the {len(wanted)} administrative groups "
                              f"and prefixes mailboxes carry (as read by {source.server})",
                      evidence=(script_evidence(source, "public-folders", "lists the free/busy folders",
                                                folders=sorted(f.name for f, _ in found.values())),))


@check("FB-REPLICA", title="Free/busy folder has no replica on a live server", needs=(ExchangeFacts,), area="freebusy")
def folder_replicas(exchange: ExchangeFacts) -> Iterator[Finding]:
    """KB 945602's case: the folder's replicas sit only on decommissioned servers."""
    found, reports = _folders(exchange)
    stores = {fold(s.name): s for r in readers(exchange, "public_folder_stores") for s in r.public_folder_stores}
    live = {fold(s.name) for r in readers(exchange, "organization") for s in r.organization}
    dead_folders = 0
    for folder, report in found.values():
        if not folder.name.upper().startswith("EX:"):
            continue
        placed = {replica: stores.get(fold(replica.split("\\")[-1])) for replica in folder.replicas}
        alive = [r for r, store in placed.items() if store is not None and fold(store.server) in live]
        if alive:
            continue
        dead_folders += 1
        where = "; ".join(f"{r} ({'database gone' if s is None else 'server ' + s.server + ' gone'})"
                          for r, s in placed.items()) or "no replicas at all"
        yield Finding(
            check_id="FB-REPLICA", severity=Severity.CRITICAL, target=folder.name,
            summary=f"{folder.name} has no replica on a live public folder database: {where}",
            detail="Free/busy publishing fails (MSExchangeFBPublish 8207, 0x80004005) when the folder has "
                   "no replica on a reachable database (Microsoft KB 945602). Add a replica on a public "
                   "folder database of a live server.",
            evidence=(script_evidence(report, "public-folders", "lists the folder", replicas=list(folder.replicas)),))
    if reports and not dead_folders:
        yield Finding(check_id="FB-REPLICA", severity=Severity.OK, target="SCHEDULE+ FREE BUSY",
                      summary=f"every free/busy folder ({len(found)}) has a replica on a live server",
                      evidence=(script_evidence(reports[0], "public-folders", "lists the folders and databases"),))
