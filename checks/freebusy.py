"""Free/busy for Outlook 2003: public folder site folders named by legacyExchangeDN.

Each check is a pure function from facts to findings. Background: a user's free/busy goes to
`SCHEDULE+ FREE BUSY\\EX:/o=<Org>/ou=<AG>`, taken from the user's legacyExchangeDN; the store
creates that folder only for an administrative group that exists and has a siteFolderServer.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from exops.dn import MODERN_AG, fold, is_deleted_reference
from exops.facts.directory import AdminGroup, DirectoryFacts, PrefixGroup
from exops.facts.events import EventFacts, EventGroup
from exops.model import Evidence, Finding, Severity
from exops.registry import check

AREA = "freebusy"
FAILED, PUBLISH_ERROR, FOLDER_CREATED = 14031, 8207, 3047
PUBLISH_ERRORS = {
    "0x80004005": "the free/busy folder has no replica on a reachable public folder database",
    "0x80070005": "the public folder tree object (msExchPFTree under CN=Folder Hierarchies of the "
                  "Exchange 2007+ administrative group) is missing",
}


def fix_freebusy(prefix: str) -> str:
    return f'exops fix freebusy --dn "{prefix}"'


def fix_rewrite(prefix: str, existing: str) -> str:
    return f'exops fix freebusy-rewrite --dn "{prefix}" --to-ag "{existing}"'


# ---------------------------------------------------------------- evidence helpers

def event_evidence(group: EventGroup) -> Iterator[Evidence]:
    for event in group.examples:
        yield Evidence(kind="event", title=f"Event {event.event_id} from {event.provider} on {event.computer}",
                       data={"time": event.time.isoformat(), "computer": event.computer,
                             "event_id": event.event_id, "provider": event.provider,
                             "record_id": event.record_id, "source": event.source,
                             "dn": ", ".join(event.dns), "error_code": event.error_code,
                             "excerpt": event.message, "count": group.count,
                             "first_seen": group.first_seen.isoformat(),
                             "last_seen": group.last_seen.isoformat()})


def recipient_evidence(group: PrefixGroup, kinds: tuple[str, ...]) -> Iterator[Evidence]:
    for example in group.examples:
        if example.kind in kinds:
            yield Evidence(kind="directory", title=f"{example.kind}: {example.dn}",
                           data={"dn": example.dn,
                                 "attributes": {"legacyExchangeDN": example.legacy_dn},
                                 "kind": example.kind})


def evidence_of(groups: list[EventGroup]) -> tuple[Evidence, ...]:
    return tuple(e for g in groups for e in event_evidence(g))


def servers_of(groups: list[EventGroup]) -> str:
    return ", ".join(sorted({g.computer for g in groups}))


def groups_by_dn(events: EventFacts | None, event_id: int) -> dict[str, list[EventGroup]]:
    out: dict[str, list[EventGroup]] = defaultdict(list)
    for group in events.groups if events else ():
        if group.event_id == event_id:
            out[fold(group.dn)].append(group)
    return out


def last_seen(groups: list[EventGroup]):
    return max(g.last_seen for g in groups)


def existing_prefixes(directory: DirectoryFacts) -> dict[str, AdminGroup]:
    return {fold(ag.legacy_dn): ag for ag in directory.admin_groups if ag.legacy_dn}


def rewrite_target(directory: DirectoryFacts) -> str:
    """The AG an admin would move orphans under: the Exchange 2007+ one, else any that exists."""
    for ag in directory.admin_groups:
        if fold(ag.name) == fold(MODERN_AG):
            return ag.name
    return directory.admin_groups[0].name if directory.admin_groups else "<existing AG>"


# ---------------------------------------------------------------- directory checks

@check("FB-ORPHAN-DN", title="Mailboxes publish free/busy to a missing administrative group",
       needs=(DirectoryFacts,), uses=(EventFacts,), area=AREA)
def orphaned_prefixes(directory: DirectoryFacts, events: EventFacts | None) -> Iterator[Finding]:
    existing = existing_prefixes(directory)
    failures = groups_by_dn(events, FAILED)
    orphans = [g for g in directory.recipient_prefixes
               if fold(g.prefix) not in existing and g.publishers]
    for group in orphans:
        evidence = [*recipient_evidence(group, ("mailbox",)), *evidence_of(failures.get(fold(group.prefix), []))]
        logged = sum(g.count for g in failures.get(fold(group.prefix), ()))
        proof = f" The FreeBusy Assistant logged event 14031 for it {logged} times." if logged else ""
        yield Finding(
            check_id="FB-ORPHAN-DN", severity=Severity.CRITICAL, target=group.prefix,
            summary=f"{group.publishers} mailboxes have a legacyExchangeDN under {group.prefix}, "
                    "an administrative group that no longer exists",
            detail=("Outlook 2003 clients of these mailboxes publish free/busy to "
                    f"SCHEDULE+ FREE BUSY\\EX:{group.prefix}; the store cannot create that folder "
                    f"without the administrative group, so their free/busy is missing.{proof} "
                    "Recreate the administrative group with that legacyExchangeDN and a "
                    "siteFolderServer, or move the users' legacyExchangeDN (keeping the old one as "
                    "an X500 proxy address)."),
            evidence=tuple(evidence),
            fixes=(fix_freebusy(group.prefix), fix_rewrite(group.prefix, rewrite_target(directory))))
    if not orphans:
        yield Finding(check_id="FB-ORPHAN-DN", severity=Severity.OK, target="all mailboxes",
                      summary=f"every mailbox's legacyExchangeDN names an existing administrative group "
                              f"({directory.recipients_scanned} recipients scanned)")


@check("FB-ORPHAN-OTHER", title="Contacts, groups and mail users carry a missing administrative group",
       needs=(DirectoryFacts,), area=AREA)
def orphaned_non_mailboxes(directory: DirectoryFacts) -> Iterator[Finding]:
    existing = existing_prefixes(directory)
    kinds = ("contact", "group", "mail_user", "other")
    for group in directory.recipient_prefixes:
        others = {k: n for k, n in group.counts.items() if k in kinds}
        if fold(group.prefix) in existing or not others:
            continue
        listed = ", ".join(f"{n} {k.replace('_', ' ')}{'s' if n > 1 else ''}" for k, n in sorted(others.items()))
        yield Finding(
            check_id="FB-ORPHAN-OTHER", severity=Severity.INFO, target=group.prefix,
            summary=f"{listed} carry {group.prefix}, whose administrative group is gone",
            detail="These objects publish no free/busy, so they do not break it; they are listed "
                   "so that a legacyExchangeDN rewrite can include them (replies to old mail "
                   "resolve through an X500 proxy address).",
            evidence=tuple(recipient_evidence(group, kinds)))


@check("FB-SITEFOLDER", title="Administrative group has no valid siteFolderServer",
       needs=(DirectoryFacts,), area=AREA)
def site_folder_servers(directory: DirectoryFacts) -> Iterator[Finding]:
    databases = {fold(db.dn) for db in directory.public_folder_databases}
    used = {fold(g.prefix): g.publishers for g in directory.recipient_prefixes}
    for ag in directory.admin_groups:
        value = ag.site_folder_server
        if value and fold(value) in databases:
            continue
        if not value:
            problem = "has no siteFolderServer"
        elif is_deleted_reference(value):
            problem = "has a siteFolderServer pointing at a deleted public folder database"
        else:
            problem = "has a siteFolderServer that names no public folder database"
        mailboxes = used.get(fold(ag.legacy_dn or ""), 0)
        severity = Severity.CRITICAL if mailboxes else Severity.WARNING
        impact = (f"{mailboxes} mailboxes publish free/busy through it" if mailboxes
                  else "no mailbox publishes through it today")
        yield Finding(
            check_id="FB-SITEFOLDER", severity=severity, target=ag.dn,
            summary=f"administrative group {ag.name} {problem} ({impact})",
            detail="The store creates the SCHEDULE+ FREE BUSY site folder of an administrative "
                   "group on the public folder database its siteFolderServer names. Point it at "
                   "the distinguishedName of an existing msExchPublicMDB.",
            evidence=(Evidence(kind="directory", title=ag.dn,
                               data={"dn": ag.dn, "attributes": {"legacyExchangeDN": ag.legacy_dn,
                                                                  "siteFolderServer": value}}),),
            fixes=(fix_freebusy(ag.legacy_dn),) if ag.legacy_dn else ())


@check("FB-PF-TREE", title="Public folder tree object is missing",
       needs=(DirectoryFacts,), area=AREA)
def public_folder_tree(directory: DirectoryFacts) -> Iterator[Finding]:
    if not directory.public_folder_databases or directory.public_folder_trees:
        return
    modern = next((ag for ag in directory.admin_groups if fold(ag.name) == fold(MODERN_AG)), None)
    yield Finding(
        check_id="FB-PF-TREE", severity=Severity.CRITICAL,
        target=f"CN=Folder Hierarchies,{modern.dn}" if modern else "CN=Folder Hierarchies",
        summary="public folder databases exist but no msExchPFTree object does",
        detail="Without the public folder tree object under CN=Folder Hierarchies of the Exchange "
               "2007+ administrative group, free/busy publishing fails with MSExchangeFBPublish "
               "event 8207, error 0x80070005 (Microsoft KB 945602).")


@check("FB-EMPTY-SERVERS", title="Empty legacy Servers container",
       needs=(DirectoryFacts,), area=AREA)
def empty_servers_containers(directory: DirectoryFacts) -> Iterator[Finding]:
    for container in directory.containers:
        if container.object_class == "msexchserverscontainer" and container.children == 0:
            yield Finding(
                check_id="FB-EMPTY-SERVERS", severity=Severity.WARNING, target=container.dn,
                summary="an administrative group keeps an empty Servers container",
                detail="An empty CN=Servers container under a legacy administrative group breaks "
                       "public folder replication (Exchange team blog, 2010-05-05). Delete it once "
                       "its servers are decommissioned.",
                evidence=(Evidence(kind="directory", title=container.dn,
                                   data={"dn": container.dn, "attributes": {"children": 0}}),))


# ---------------------------------------------------------------- event checks

@check("FB-EVENT-14031", title="The FreeBusy Assistant cannot publish (event 14031)",
       needs=(EventFacts,), area=AREA)
def publish_failures(events: EventFacts) -> Iterator[Finding]:
    created = groups_by_dn(events, FOLDER_CREATED)
    for key, groups in groups_by_dn(events, FAILED).items():
        dn = groups[0].dn or "(no /o=.../ou=... in the event)"
        total = sum(g.count for g in groups)
        resolved = key in created and last_seen(created[key]) > last_seen(groups)
        since = min(g.first_seen for g in groups).isoformat()
        if resolved:
            severity, summary = Severity.OK, (
                f"{total} event 14031 for {dn} until {last_seen(groups).isoformat()}; "
                "the folder was created afterwards (event 3047): resolved")
        else:
            severity, summary = Severity.CRITICAL, (
                f"{total} event 14031 for {dn} on {servers_of(groups)} since {since}, "
                f"last {last_seen(groups).isoformat()}")
        yield Finding(
            check_id="FB-EVENT-14031", severity=severity, target=dn, summary=summary,
            detail="Event 14031 means the store had no free/busy public folder to publish to for "
                   "this legacyExchangeDN prefix, usually because its administrative group is gone.",
            evidence=evidence_of(groups),
            fixes=() if resolved or not groups[0].dn else (fix_freebusy(dn),))


@check("FB-EVENT-8207", title="Free/busy publishing to public folders fails (event 8207)",
       needs=(EventFacts,), area=AREA)
def publish_errors(events: EventFacts) -> Iterator[Finding]:
    by_code: dict[str, list[EventGroup]] = defaultdict(list)
    for group in events.groups:
        if group.event_id == PUBLISH_ERROR:
            for code in group.error_codes or ("unknown",):
                by_code[code.lower()].append(group)
    for code, groups in sorted(by_code.items()):
        cause = PUBLISH_ERRORS.get(code, "see the event text for the cause")
        yield Finding(
            check_id="FB-EVENT-8207", severity=Severity.CRITICAL, target=f"error {code}",
            summary=f"{sum(g.count for g in groups)} event 8207 with error {code} on "
                    f"{servers_of(groups)}: {cause}",
            detail="MSExchangeFBPublish logs 8207 when it cannot update the free/busy public folder.",
            evidence=evidence_of(groups))


@check("FB-EVENT-3047", title="Free/busy folder created by the store (event 3047)",
       needs=(EventFacts,), area=AREA)
def folders_created(events: EventFacts) -> Iterator[Finding]:
    failures = groups_by_dn(events, FAILED)
    for key, groups in groups_by_dn(events, FOLDER_CREATED).items():
        dn = groups[0].dn or "(folder name not in the event)"
        when = last_seen(groups).isoformat()
        before = failures.get(key)
        after_failures = bool(before) and last_seen(groups) > last_seen(before)
        note = " after the 14031 errors for it: free/busy publishing is repaired" if after_failures else ""
        yield Finding(
            check_id="FB-EVENT-3047", severity=Severity.OK, target=dn,
            summary=f"the store created SCHEDULE+ FREE BUSY\\EX:{dn} on "
                    f"{servers_of(groups)} at {when}{note}",
            evidence=evidence_of(groups))
