"""Free/busy for Outlook 2003: public folder site folders named by legacyExchangeDN.

Each check is a pure function from facts to findings. Background: a user's free/busy goes to
`SCHEDULE+ FREE BUSY\\EX:/o=<Org>/ou=<AG>`, taken from the user's legacyExchangeDN; the store
creates that folder only for an administrative group that exists and has a siteFolderServer.

A check whose facts cannot answer it (an export without the configuration partition, one
filtered so that it lacks the containers) says UNKNOWN with the export that would, never a
false CRITICAL. Findings about one administrative group share its `/o=.../ou=...` as target, and
every check that passes says what it looked at.
"""
from __future__ import annotations

import shlex
from collections import defaultdict
from collections.abc import Iterator

from exops.dn import MODERN_AG, fold, is_deleted_reference
from exops.facts.directory import AdminGroup, DirectoryFacts, PrefixGroup
from exops.facts.events import EventFacts, EventGroup
from exops.model import Evidence, Finding, Severity
from exops.registry import check

AREA = "freebusy"
FAILED, PUBLISH_ERROR, FOLDER_CREATED = 14031, 8207, 3047
ORPHAN_FINDINGS = 20   # beyond this many orphaned prefixes, the rest are one finding
PUBLISH_ERRORS = {
    "0x80004005": "the free/busy folder has no replica on a reachable public folder database",
    "0x80070005": "the public folder tree object (msExchPFTree under CN=Folder Hierarchies of the "
                  "Exchange 2007+ administrative group) is missing",
}
TREE_FIRST = ("Fix the public folder tree first (FB-PF-TREE): without it the store creates no "
              "free/busy folder, so a recreated or repaired administrative group stays without one.")


def command(*words: str) -> str:
    """A command line safe to paste: DNs come from customer evidence and may hold `$(...)`."""
    return " ".join(shlex.quote(w) for w in words)


def fix_freebusy(prefix: str, *extra: str) -> str:
    return command("exops", "fix", "freebusy", "--dn", prefix, *extra)


def fix_rewrite(prefix: str, existing: str) -> str:
    return command("exops", "fix", "freebusy-rewrite", "--dn", prefix, "--to-ag", existing)


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 mailbox`, `2 mailboxes`, `119 events`."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"


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
    total = sum(n for k, n in group.counts.items() if k in kinds)
    examples = [e for e in group.examples if e.kind in kinds]
    for i, example in enumerate(examples, start=1):
        yield Evidence(kind="directory", title=f"{example.kind} {i} of {total}: {example.dn}",
                       data={"dn": example.dn,
                             "attributes": {"legacyExchangeDN": example.legacy_dn},
                             "kind": example.kind})


def admin_groups_evidence(directory: DirectoryFacts) -> Evidence:
    """What was searched and what exists: the containers read and every AG found in them."""
    containers = [c.dn for c in directory.containers_of("msexchadmingroupcontainer")]
    return Evidence(kind="directory",
                    title=f"{plural(len(directory.admin_groups), 'administrative group')} found in "
                          f"{plural(len(containers), 'Administrative Groups container')}",
                    data={"dn": "; ".join(containers),
                          "attributes": {ag.name: ag.legacy_dn or "(no legacyExchangeDN)"
                                         for ag in directory.admin_groups}})


def unknown(check_id: str, reason: str) -> Finding:
    """UNKNOWN for what the facts lack; the detail carries the export command that supplies it."""
    return Finding(check_id=check_id, severity=Severity.UNKNOWN, target="directory facts",
                   summary="could not be checked: " + reason.split("; export")[0].split(", so ")[0],
                   detail=reason[0].upper() + reason[1:] + ".")


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


def orphaned(directory: DirectoryFacts) -> list[PrefixGroup]:
    """Prefixes whose administrative group does not exist, most recipients first."""
    existing = existing_prefixes(directory)
    return sorted((g for g in directory.recipient_prefixes if fold(g.prefix) not in existing),
                  key=lambda g: (-sum(g.counts.values()), fold(g.prefix)))


def nothing_read(events: EventFacts) -> bool:
    return sum(s.records_read for s in events.scans) == 0


def logs_read(events: EventFacts) -> str:
    return (f"{plural(sum(s.records_read for s in events.scans), 'record')} read from "
            f"{plural(len(events.scans), 'log')}")


# ---------------------------------------------------------------- directory checks

@check("FB-ORPHAN-DN", title="Mailboxes publish free/busy to a missing administrative group",
       needs=(DirectoryFacts,), uses=(EventFacts,), area=AREA)
def orphaned_prefixes(directory: DirectoryFacts, events: EventFacts | None) -> Iterator[Finding]:
    gap = directory.gap("configuration", "admin_groups", "recipients")
    if gap:
        yield unknown("FB-ORPHAN-DN", gap)
        return
    failures = groups_by_dn(events, FAILED)
    searched = admin_groups_evidence(directory)
    orphans = [g for g in orphaned(directory) if g.publishers]
    for group in orphans[:ORPHAN_FINDINGS]:
        logged = sum(g.count for g in failures.get(fold(group.prefix), ()))
        proof = (f" The FreeBusy Assistant logged event 14031 for it {plural(logged, 'time')}."
                 if logged else "")
        shown = min(group.publishers, sum(e.kind == "mailbox" for e in group.examples))
        yield Finding(
            check_id="FB-ORPHAN-DN", severity=Severity.CRITICAL, target=group.prefix,
            summary=f"{plural(group.publishers, 'mailbox', 'mailboxes')} have a legacyExchangeDN under "
                    f"{group.prefix}, an administrative group that no longer exists "
                    f"({shown} of {group.publishers} shown; the affected-recipients list has all)",
            detail=("Outlook 2003 clients of these mailboxes publish free/busy to "
                    f"SCHEDULE+ FREE BUSY\\EX:{group.prefix}; no administrative group in the "
                    "directory has that legacyExchangeDN (the groups found are listed in the "
                    "evidence), so the store cannot create that folder and their free/busy is "
                    f"missing. Outlook 2007 and later use the Availability service and are not "
                    f"affected.{proof} Recreate the administrative group with that legacyExchangeDN "
                    "and a siteFolderServer, or move the users' legacyExchangeDN (keeping the old one "
                    "as an X500 proxy address)."),
            evidence=(searched, *recipient_evidence(group, ("mailbox",)),
                      *evidence_of(failures.get(fold(group.prefix), []))),
            fixes=(fix_freebusy(group.prefix), fix_rewrite(group.prefix, rewrite_target(directory))))
    rest = orphans[ORPHAN_FINDINGS:]
    if rest:
        mailboxes = sum(g.publishers for g in rest)
        yield Finding(
            check_id="FB-ORPHAN-DN", severity=Severity.CRITICAL,
            target=f"{plural(len(rest), 'more orphaned prefix', 'more orphaned prefixes')}",
            summary=f"{plural(mailboxes, 'mailbox', 'mailboxes')} under "
                    f"{plural(len(rest), 'more administrative group')} that no longer exist "
                    f"(the {ORPHAN_FINDINGS} largest have their own findings; every prefix and "
                    "recipient is in the affected-recipients list)",
            detail="So many distinct orphaned prefixes usually mean imported or synchronised "
                   "objects from another organisation; list them with `exops check --affected "
                   "FILE` and decide per prefix.",
            evidence=(Evidence(kind="directory", title="orphaned prefixes (mailboxes)",
                               data={"dn": "", "attributes": {g.prefix: g.publishers for g in rest[:50]}}),))
    if not orphans:
        yield Finding(check_id="FB-ORPHAN-DN", severity=Severity.OK, target="all mailboxes",
                      summary=f"every mailbox's legacyExchangeDN names an existing administrative group "
                              f"({plural(directory.recipients_scanned, 'recipient')} scanned, "
                              f"{plural(len(directory.admin_groups), 'administrative group')} found)",
                      evidence=(searched,))


@check("FB-ORPHAN-OTHER", title="Contacts, groups and mail users carry a missing administrative group",
       needs=(DirectoryFacts,), area=AREA)
def orphaned_non_mailboxes(directory: DirectoryFacts) -> Iterator[Finding]:
    gap = directory.gap("configuration", "admin_groups", "recipients")
    if gap:
        yield unknown("FB-ORPHAN-OTHER", gap)
        return
    kinds = ("contact", "group", "mail_user", "other")
    found = False
    for group in orphaned(directory)[:ORPHAN_FINDINGS]:
        others = {k: n for k, n in group.counts.items() if k in kinds}
        if not others:
            continue
        found = True
        listed = ", ".join(plural(n, k.replace("_", " ")) for k, n in sorted(others.items()))
        carry = "carries" if sum(others.values()) == 1 else "carry"
        yield Finding(
            check_id="FB-ORPHAN-OTHER", severity=Severity.INFO, target=group.prefix,
            summary=f"{listed} {carry} {group.prefix}, whose administrative group is gone",
            detail="These objects publish no free/busy, so they do not break it; they are listed "
                   "so that a legacyExchangeDN rewrite can include them (replies to old mail "
                   "resolve through an X500 proxy address).",
            evidence=tuple(recipient_evidence(group, kinds)))
    if not found:
        yield Finding(check_id="FB-ORPHAN-OTHER", severity=Severity.OK, target="contacts, groups, mail users",
                      summary="no contact, group or mail user carries a missing administrative group",
                      evidence=(admin_groups_evidence(directory),))


@check("FB-SITEFOLDER", title="Administrative group has no valid siteFolderServer",
       needs=(DirectoryFacts,), area=AREA)
def site_folder_servers(directory: DirectoryFacts) -> Iterator[Finding]:
    gap = directory.gap("configuration", "admin_groups", "servers")
    if gap:
        yield unknown("FB-SITEFOLDER", gap)
        return
    databases = {fold(db.dn) for db in directory.public_folder_databases}
    used = {fold(g.prefix): g.publishers for g in directory.recipient_prefixes}
    valid = []
    for ag in directory.admin_groups:
        value = ag.site_folder_server
        if value and fold(value) in databases:
            valid.append(ag)
            continue
        if not value:
            problem = "has no siteFolderServer"
        elif is_deleted_reference(value):
            problem = "has a siteFolderServer pointing at a deleted public folder database"
        else:
            problem = "has a siteFolderServer that names no public folder database"
        mailboxes = used.get(fold(ag.legacy_dn or ""), 0)
        severity = Severity.CRITICAL if mailboxes else Severity.WARNING
        impact = (f"{plural(mailboxes, 'mailbox', 'mailboxes')} publish free/busy through it" if mailboxes
                  else "no mailbox publishes through it today")
        extra = ("--replace-site-folder",) if value else ()
        yield Finding(
            check_id="FB-SITEFOLDER", severity=severity, target=ag.legacy_dn or ag.dn,
            summary=f"administrative group {ag.name} {problem} ({impact})",
            detail="The store creates the SCHEDULE+ FREE BUSY site folder of an administrative "
                   "group on the public folder database its siteFolderServer names. Point it at "
                   "the distinguishedName of an existing msExchPublicMDB (the databases found are "
                   "in the evidence).",
            evidence=(Evidence(kind="directory", title=ag.dn,
                               data={"dn": ag.dn, "attributes": {"legacyExchangeDN": ag.legacy_dn,
                                                                  "siteFolderServer": value}}),
                      databases_evidence(directory)),
            fixes=(fix_freebusy(ag.legacy_dn, *extra),) if ag.legacy_dn else ())
    if len(valid) == len(directory.admin_groups):
        yield Finding(
            check_id="FB-SITEFOLDER", severity=Severity.OK, target="all administrative groups",
            summary=f"{plural(len(valid), 'administrative group')}: each siteFolderServer names an "
                    "existing public folder database",
            evidence=(Evidence(kind="directory", title="siteFolderServer of each administrative group",
                               data={"dn": "", "attributes": {ag.name: ag.site_folder_server
                                                              for ag in valid}}),))


def databases_evidence(directory: DirectoryFacts) -> Evidence:
    dbs = directory.public_folder_databases
    return Evidence(kind="directory", title=f"{plural(len(dbs), 'public folder database')} "
                                            "(msExchPublicMDB) and the tree each holds (msExchOwningPFTree)",
                    data={"dn": "", "attributes": {db.dn: db.owning_tree or "(none)" for db in dbs}})


@check("FB-PF-TREE", title="Public folder tree object is missing",
       needs=(DirectoryFacts,), area=AREA)
def public_folder_tree(directory: DirectoryFacts) -> Iterator[Finding]:
    gap = directory.gap("configuration", "admin_groups", "servers")
    if gap:
        yield unknown("FB-PF-TREE", gap)
        return
    hierarchies = [c.dn for c in directory.containers_of("msexchpublicfoldertreecontainer")]
    if directory.public_folder_trees:
        yield Finding(
            check_id="FB-PF-TREE", severity=Severity.OK, target="; ".join(hierarchies) or "Folder Hierarchies",
            summary="msExchPFTree " + "; ".join(directory.public_folder_trees) + " found",
            evidence=(databases_evidence(directory),))
        return
    if not directory.public_folder_databases:
        yield Finding(check_id="FB-PF-TREE", severity=Severity.OK, target="public folder databases",
                      summary="no public folder database and no public folder tree: nothing to hold "
                              "Outlook 2003 free/busy (FB-SITEFOLDER says which groups need one)")
        return
    modern = next((ag for ag in directory.admin_groups if fold(ag.name) == fold(MODERN_AG)), None)
    read = ("; ".join(hierarchies) + " read and empty") if hierarchies else "no CN=Folder Hierarchies container"
    yield Finding(
        check_id="FB-PF-TREE", severity=Severity.CRITICAL,
        target=modern.legacy_dn if modern and modern.legacy_dn else "CN=Folder Hierarchies",
        summary=f"{plural(len(directory.public_folder_databases), 'public folder database')} "
                f"{'exists' if len(directory.public_folder_databases) == 1 else 'exist'} but no "
                f"msExchPFTree object does ({read}); fix this first",
        detail="Without the public folder tree object under CN=Folder Hierarchies of the Exchange "
               "2007+ administrative group, free/busy publishing fails with MSExchangeFBPublish "
               "event 8207, error 0x80070005 (Microsoft KB 945602). " + TREE_FIRST + " Manual step "
               "(no exops fix yet): with ADSI Edit, create an msExchPFTree object \"Public Folders\" "
               f"with msExchPFTreeType = 1 under CN=Folder Hierarchies,{modern.dn if modern else '<AG>'}"
               " (create the msExchPublicFolderTreeContainer first if it is gone), then set "
               "msExchOwningPFTree of each public folder database listed in the evidence to its DN.",
        evidence=(databases_evidence(directory),))


@check("FB-EMPTY-SERVERS", title="Empty legacy Servers container",
       needs=(DirectoryFacts,), area=AREA)
def empty_servers_containers(directory: DirectoryFacts) -> Iterator[Finding]:
    gap = directory.gap("configuration", "admin_groups")
    if gap:
        yield unknown("FB-EMPTY-SERVERS", gap)
        return
    servers = directory.containers_of("msexchserverscontainer")
    empty = [c for c in servers if c.children == 0]
    for container in empty:
        yield Finding(
            check_id="FB-EMPTY-SERVERS", severity=Severity.WARNING, target=container.dn,
            summary="an administrative group keeps an empty Servers container",
            detail="An empty CN=Servers container under a legacy administrative group breaks "
                   "public folder replication (Exchange team blog, 2010-05-05). Delete it once "
                   "its servers are decommissioned.",
            evidence=(Evidence(kind="directory", title=container.dn,
                               data={"dn": container.dn, "attributes": {"children": 0}}),))
    if not empty:
        yield Finding(check_id="FB-EMPTY-SERVERS", severity=Severity.OK, target="Servers containers",
                      summary=f"{plural(len(servers), 'Servers container')} read, none empty",
                      evidence=(Evidence(kind="directory", title="Servers containers and their children",
                                         data={"dn": "", "attributes": {c.dn: c.children for c in servers}}),))


# ---------------------------------------------------------------- event checks

def quiet_logs(check_id: str, events: EventFacts, event_id: int) -> Finding:
    """OK when logs were read and hold no such event; UNKNOWN when nothing was read at all."""
    if nothing_read(events):
        return Finding(check_id=check_id, severity=Severity.UNKNOWN, target="event logs",
                       summary=f"could not be checked: no event record could be read ({logs_read(events)})")
    return Finding(check_id=check_id, severity=Severity.OK, target="event logs",
                   summary=f"no event {event_id} in {logs_read(events)}")


@check("FB-EVENT-14031", title="The FreeBusy Assistant cannot publish (event 14031)",
       needs=(EventFacts,), area=AREA)
def publish_failures(events: EventFacts) -> Iterator[Finding]:
    created = groups_by_dn(events, FOLDER_CREATED)
    failures = groups_by_dn(events, FAILED)
    for key, groups in failures.items():
        dn = groups[0].dn or "(no /o=.../ou=... in the event)"
        total = sum(g.count for g in groups)
        resolved = key in created and last_seen(created[key]) > last_seen(groups)
        since = min(g.first_seen for g in groups).isoformat()
        if resolved:
            severity, summary = Severity.OK, (
                f"event 14031 logged {plural(total, 'time')} for {dn} until {last_seen(groups).isoformat()}; "
                "the folder was created afterwards (event 3047): resolved")
        else:
            severity, summary = Severity.CRITICAL, (
                f"event 14031 logged {plural(total, 'time')} for {dn} on {servers_of(groups)} since {since}, "
                f"last {last_seen(groups).isoformat()}")
        yield Finding(
            check_id="FB-EVENT-14031", severity=severity, target=dn, summary=summary,
            detail="The FreeBusy Assistant logs event 14031 when there is no free/busy public folder "
                   "to publish to for this legacyExchangeDN prefix, usually because its "
                   "administrative group is gone (FB-ORPHAN-DN for the same prefix says so).",
            evidence=evidence_of(groups),
            fixes=() if resolved or not groups[0].dn else (fix_freebusy(dn),))
    if not failures:
        yield quiet_logs("FB-EVENT-14031", events, FAILED)


@check("FB-EVENT-8207", title="Free/busy publishing to public folders fails (event 8207)",
       needs=(EventFacts,), uses=(DirectoryFacts,), area=AREA)
def publish_errors(events: EventFacts, directory: DirectoryFacts | None) -> Iterator[Finding]:
    """One finding per administrative group (or server, when the event names none) and error."""
    by_target: dict[tuple[str, str], list[EventGroup]] = defaultdict(list)
    for group in events.groups:
        if group.event_id == PUBLISH_ERROR:
            for code in group.error_codes or ("unknown",):
                by_target[(group.dn or group.computer, code.lower())].append(group)
    for (target, code), groups in sorted(by_target.items(), key=lambda kv: (fold(kv[0][0]), kv[0][1])):
        cause = PUBLISH_ERRORS.get(code, "see the event text for the cause")
        yield Finding(
            check_id="FB-EVENT-8207", severity=Severity.CRITICAL, target=target,
            summary=f"event 8207 with error {code} logged {plural(sum(g.count for g in groups), 'time')} on "
                    f"{servers_of(groups)}: {cause}",
            detail="MSExchangeFBPublish logs 8207 when it cannot update the free/busy public folder."
                   + cause_of(target, code, directory),
            evidence=evidence_of(groups))
    if not by_target:
        yield quiet_logs("FB-EVENT-8207", events, PUBLISH_ERROR)


def cause_of(target: str, code: str, directory: DirectoryFacts | None) -> str:
    """The directory finding an 8207 follows from, when the directory facts show it."""
    if directory is None:
        return ""
    if code == "0x80070005" and not directory.public_folder_trees and directory.public_folder_databases:
        return " Caused by the missing public folder tree: see FB-PF-TREE. " + TREE_FIRST
    ag = existing_prefixes(directory).get(fold(target))
    databases = {fold(db.dn) for db in directory.public_folder_databases}
    if ag and (not ag.site_folder_server or fold(ag.site_folder_server) not in databases):
        return (f" Caused by the siteFolderServer of {ag.name}: see FB-SITEFOLDER {ag.legacy_dn}; "
                "repairing it repairs this.")
    return ""


@check("FB-EVENT-3047", title="Free/busy folder created by the store (event 3047)",
       needs=(EventFacts,), area=AREA)
def folders_created(events: EventFacts) -> Iterator[Finding]:
    failures = groups_by_dn(events, FAILED)
    created = groups_by_dn(events, FOLDER_CREATED)
    for key, groups in created.items():
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
    if not created:
        finding = quiet_logs("FB-EVENT-3047", events, FOLDER_CREATED)
        yield finding if finding.severity is Severity.UNKNOWN else Finding(
            check_id="FB-EVENT-3047", severity=Severity.OK, target="event logs",
            summary=f"no event 3047 in {logs_read(events)}: the store created no free/busy folder "
                    "in that time")
