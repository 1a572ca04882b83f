"""Free/busy repairs, the two options of "The case of the missing Free/Busy public folder".

`freebusy`: recreate the missing administrative group with the orphaned legacyExchangeDN and a
siteFolderServer, so the store recreates `EX:/o=.../ou=...` (event 3047).
`freebusy-rewrite`: move users' legacyExchangeDN under an existing AG, keeping the old value
as an X500 proxy address so replies to old mail still resolve.
Planners only read facts (and, for the rewrite, search the live directory); the engine applies.
"""
from __future__ import annotations

from ldap3.core.exceptions import LDAPInvalidFilterError
from ldap3.operation.search import parse_filter

from exops.checks.freebusy import rewrite_target
from exops.dn import (BadLegacyDN, admin_group_prefix, admin_groups_dn, escape_rdn, fold,
                      is_deleted_reference, organization_dn, parse_admin_group_dn)
from exops.facts.directory import AdminGroup, DirectoryFacts, PublicFolderDatabase
from exops.facts.exchange import ExchangeFacts
from exops.facts.store import Facts
from exops.fixes.freebusy_choice import (FixRefused, choose_database, database_choices, free_busy_replicas,
                                         replica_note)
from exops.ldiftext import add_record, modify_record
from exops.plan import Plan, Step
from exops.registry import Param, fix

ABSENT = {"exists": False, "attributes": {}}
MAX_FILTER, MAX_FILTER_DEPTH = 4096, 32


def _directory(facts: Facts) -> DirectoryFacts:
    directory = facts.get(DirectoryFacts)
    if directory is None:
        raise FixRefused(f"this fix needs directory facts: {facts.why_missing(DirectoryFacts)}")
    return directory


def _create(step_id: str, title: str, dn: str, object_class: list[str], attrs: dict[str, list[str]],
            why: str) -> Step:
    return Step(id=step_id, title=title, action="ldap.add", target=dn, before=ABSENT,
                after={"exists": True, "attributes": attrs},
                preview="\n".join(add_record(dn, {"objectClass": object_class, **attrs})),
                why=why, params={"objectClass": object_class})


def _set(step_id: str, title: str, dn: str, before: dict[str, list[str]], after: dict[str, list[str]],
         why: str, operations: dict[str, str] | None = None) -> Step:
    ops = operations or {}
    changes = {name: (ops.get(name, "replace"), values) for name, values in after.items()}
    return Step(id=step_id, title=title, action="ldap.modify", target=dn,
                before={"exists": True, "attributes": before}, after={"exists": True, "attributes": after},
                preview="\n".join(modify_record(dn, changes)), why=why)


def _suggest_freebusy(finding, facts: Facts) -> dict | None:
    if admin_group_prefix(finding.target) != finding.target.strip():
        return None
    if finding.check_id == "FB-SITEFOLDER":
        current = next((e.data.get("attributes", {}).get("siteFolderServer") for e in finding.evidence
                        if e.kind == "directory"), None)
        return {"dn": finding.target, "replace_site_folder": True} if current else {"dn": finding.target}
    return {"dn": finding.target}


def _suggest_rewrite(finding, facts: Facts) -> dict | None:
    directory = facts.get(DirectoryFacts)
    if directory is None or admin_group_prefix(finding.target) is None:
        return None
    return {"dn": finding.target, "to_ag": rewrite_target(directory)}


DN = Param("dn", 'The orphaned /o=<Org>/ou=<AG>, e.g. "/o=EUROPE/ou=First Administrative Group".',
           required=True)


@fix("freebusy", title="Recreate the missing administrative group",
     resolves=("FB-ORPHAN-DN", "FB-EVENT-14031", "FB-SITEFOLDER", "FB-FOLDER"), suggest=_suggest_freebusy,
     needs=(DirectoryFacts,), params=(
         DN,
         Param("pf_db", "DN (or name) of the public folder database for siteFolderServer; default: "
                        "the best existing one, explained.", choices=database_choices),
         Param("avoid_server", "Servers being retired, comma-separated: their databases are never chosen."),
         Param("ag_name", "Name of the administrative group object to create (default: the AG in --dn)."),
         Param("replace_site_folder", "Change the siteFolderServer of an existing AG that points elsewhere.",
               type=bool),
         Param("restart_store", "Then restart the Information Store on the siteFolderServer's server and wait "
                                "for the folder and event 3047 (interrupts service; needs exchange servers).",
               type=bool)))
def plan_freebusy(facts: Facts, live=(), *, dn: str, pf_db: str | None = None,
                  avoid_server: str | None = None, ag_name: str | None = None,
                  replace_site_folder: bool = False, restart_store: bool = False) -> Plan:
    """Recreate a missing administrative group so Outlook 2003 free/busy works again.

    Creates the AG with legacyExchangeDN = DN and siteFolderServer = a public folder database;
    the store then recreates SCHEDULE+ FREE BUSY\\EX:DN (event 3047) within its maintenance
    cycle or after an Information Store restart. Running it again is a no-op.

    \b
    Example:
      exops fix freebusy --dn "/o=EUROPE/ou=First Administrative Group" --dry-run
    """
    plan = _plan_admin_group(facts, dn, pf_db, avoid_server, ag_name, replace_site_folder, restart_store)
    if not restart_store:
        return plan
    from exops.fixes.store import with_store_restart
    return with_store_restart(plan, facts)


def _plan_admin_group(facts: Facts, dn: str, pf_db: str | None, avoid_server: str | None,
                      ag_name: str | None, replace_site_folder: bool, restart_store: bool) -> Plan:
    directory = _directory(facts)
    try:
        org, ag = parse_admin_group_dn(dn)
    except BadLegacyDN as exc:
        raise FixRefused(str(exc)) from None
    legacy_dn = f"/o={org}/ou={ag}"
    base = directory.base_dn or _base_of(directory)
    replicas = free_busy_replicas(facts, directory)
    exchange = facts.get(ExchangeFacts)
    restartable = {fold(r.server) for r in exchange.servers} if restart_store and exchange else None
    database, reason = choose_database(directory, pf_db, avoid_server, replicas, restartable)
    notes = [f"siteFolderServer: {database.dn} ({reason})", replica_note(replicas, database)]
    if directory.public_folder_databases and not directory.public_folder_trees:
        notes.insert(0, "FIRST: the directory has no public folder tree (FB-PF-TREE): the store creates "
                        "no free/busy folder without one; repair it before this plan (docs/fixes.md)")
    existing = next((a for a in directory.admin_groups if fold(a.legacy_dn or "") == fold(legacy_dn)), None)
    if existing:
        return _repair_existing(directory, existing, database, notes, legacy_dn, pf_db, replace_site_folder)
    org_entry = next((o for o in directory.organizations
                      if fold(o.legacy_dn or "") == fold(f"/o={org}") or fold(o.name) == fold(org)), None)
    org_dn = org_entry.dn if org_entry else organization_dn(base, org)
    name = ag_name or ag
    containers_dn = f"CN=Administrative Groups,{org_dn}" if org_entry else admin_groups_dn(base, org)
    target = f"CN={escape_rdn(name)},{containers_dn}"
    if any(fold(a.dn) == fold(target) for a in directory.admin_groups):
        raise FixRefused(f"{target} exists with another legacyExchangeDN; choose another name with --ag-name")
    steps = []
    if org_entry is None:
        notes.append(f"no organization {org!r} in the directory: it is created too. An Exchange forest "
                     "holds one organization; check this is what you want.")
        steps.append(_create("create-org", f"Create organization container {org}", org_dn,
                             ["top", "container", "msExchOrganizationContainer"],
                             {"legacyExchangeDN": [f"/o={org}"]}, "the AG needs its organization"))
    if not any(fold(c.dn) == fold(containers_dn) for c in directory.containers):
        steps.append(_create("create-ag-container", "Create the Administrative Groups container",
                             containers_dn, ["top", "container", "msExchAdminGroupContainer"], {},
                             "administrative groups live in it"))
    steps.append(_create(
        "create-ag", f"Create administrative group {name}", target, ["top", "msExchAdminGroup"],
        {"legacyExchangeDN": [legacy_dn], "siteFolderServer": [database.dn]},
        f"the store recreates SCHEDULE+ FREE BUSY\\EX:{legacy_dn} for an AG with this legacyExchangeDN "
        "and a siteFolderServer"))
    notes.append("then: wait for the store's maintenance cycle (up to 24 h) or restart MSExchangeIS "
                 f"on the server of {database.name} (interrupts service); event 3047 confirms the folder")
    return Plan(fix="freebusy", params={"dn": legacy_dn, "pf_db": database.dn, "ag_name": name},
                steps=tuple(steps), notes=tuple(notes))


def _repair_existing(directory: DirectoryFacts, existing: AdminGroup, database: PublicFolderDatabase,
                     notes: list[str], legacy_dn: str, pf_db: str | None, replace: bool) -> Plan:
    """The AG is there: a second run is a no-op; a missing siteFolderServer is set; a different
    one is changed only when the user says so."""
    params = {"dn": legacy_dn, "pf_db": database.dn, "ag_name": existing.name}
    current = existing.site_folder_server
    valid = bool(current) and any(fold(current) == fold(db.dn) for db in directory.public_folder_databases)
    if valid and (pf_db is None or fold(current) == fold(database.dn)):
        return Plan(fix="freebusy", params={**params, "pf_db": current}, steps=(), notes=(
            f"administrative group {existing.dn} already exists with legacyExchangeDN {legacy_dn} "
            f"and siteFolderServer {current}: nothing to do",))
    if current and not replace:
        state = "a deleted object" if is_deleted_reference(current) else (
            current if valid else f"{current}, which is no public folder database")
        raise FixRefused(f"{existing.dn} exists with siteFolderServer {state}; say "
                         f"--replace-site-folder to point it at {database.dn}")
    step = _set("set-site-folder", f"Set siteFolderServer of {existing.name}", existing.dn,
                {"siteFolderServer": [current] if current else []}, {"siteFolderServer": [database.dn]},
                "the store creates the site folder on the database siteFolderServer names")
    if current:   # recorded, so that the saved plan is made again the same way by `exops apply`
        params["replace_site_folder"] = True
    return Plan(fix="freebusy", params=params, steps=(step,), notes=tuple(notes))


def _base_of(directory: DirectoryFacts) -> str:
    for dn in [o.dn for o in directory.organizations] + [a.dn for a in directory.admin_groups]:
        upper = dn.upper()
        if ",CN=CONFIGURATION," in upper:
            return dn[upper.index(",CN=CONFIGURATION,") + len(",CN=CONFIGURATION,"):]
    raise FixRefused("cannot tell the domain's base DN from the directory facts")


def filter_problem(users: str) -> str | None:
    """What is wrong with the admin's --users filter: it must be one parenthesised expression
    that parses, bounded before ldap3's parser, which recurses once per parenthesis."""
    if len(users) > MAX_FILTER or _depth(users) > MAX_FILTER_DEPTH:
        return f"longer than {MAX_FILTER} characters or nested deeper than {MAX_FILTER_DEPTH} parentheses"
    if not _one_expression(users):
        return f"{users!r} must be one parenthesised LDAP filter, e.g. '(department=Sales)'"
    try:
        parse_filter(users, None, auto_escape=False, auto_encode=False, validator=None, check_names=False)
    except (LDAPInvalidFilterError, IndexError, ValueError):
        return f"{users!r} is not a valid LDAP filter, e.g. '(department=Sales)'"
    return None


def _depth(text: str) -> int:
    """How deep the parentheses nest: bounded before ldap3's parser, which recurses once per level."""
    depth = deepest = 0
    for char in text:
        depth += (char == "(") - (char == ")")
        deepest = max(deepest, depth)
    return deepest


def _one_expression(text: str) -> bool:
    """True when the text is a single balanced `( ... )`: no way to close ours and open another."""
    depth = 0
    for i, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if depth == 0 and i != len(text) - 1 or depth < 0:
            return False
    return text.startswith("(") and depth == 0


@fix("freebusy-rewrite", title="Move users' legacyExchangeDN under an existing administrative group",
     resolves=("FB-ORPHAN-DN", "FB-ORPHAN-OTHER"), suggest=_suggest_rewrite,
     needs=(DirectoryFacts,), live=True, params=(
         Param("dn", "The orphaned /o=<Org>/ou=<AG> the users carry.", required=True),
         Param("to_ag", "Name or legacyExchangeDN of the existing AG to move them under.", required=True),
         Param("users", "Narrow to recipients matching this LDAP filter, e.g. '(department=Sales)'.",
               check=filter_problem)))
def plan_rewrite(facts: Facts, live=(), *, dn: str, to_ag: str, users: str | None = None) -> Plan:
    """Move recipients' legacyExchangeDN under an existing AG.

    One step per recipient. Keeps the old value as an X500 proxy address (and every existing
    proxy address) so replies to old mail still resolve.
    """
    directory = _directory(facts)
    source = next((s for s in live if hasattr(s, "recipients_with_prefix")), None)
    if source is None:
        raise FixRefused("freebusy-rewrite reads every affected recipient from the live directory or "
                         "from a bundle's ldifde export: run it with --config, or --bundle with an LDIF")
    try:
        org, ag = parse_admin_group_dn(dn)
    except BadLegacyDN as exc:
        raise FixRefused(str(exc)) from None
    old_prefix = f"/o={org}/ou={ag}"
    target = next((a for a in directory.admin_groups
                   if fold(a.name) == fold(to_ag) or fold(a.legacy_dn or "") == fold(to_ag)), None)
    if target is None or not target.legacy_dn:
        known = ", ".join(a.name for a in directory.admin_groups) or "none"
        raise FixRefused(f"--to-ag {to_ag!r} is not an existing administrative group (known: {known})")
    if fold(target.legacy_dn) == fold(old_prefix):
        raise FixRefused("--to-ag names the same administrative group as --dn")
    steps, moved = [], {}
    for entry_dn, legacy, proxies in _recipients(source, old_prefix, users):
        new = target.legacy_dn + legacy[len(old_prefix):]
        if fold(new) in moved:
            raise FixRefused(f"{entry_dn} and {moved[fold(new)]} would both get legacyExchangeDN {new}")
        moved[fold(new)] = entry_dn
        x500 = f"X500:{legacy}"
        kept = proxies if any(fold(p) == fold(x500) for p in proxies) else [*proxies, x500]
        steps.append(_set(
            f"rewrite-{len(steps) + 1}", f"Rewrite legacyExchangeDN of {entry_dn}", entry_dn,
            {"legacyExchangeDN": [legacy], "proxyAddresses": sorted(proxies)},
            {"legacyExchangeDN": [new], "proxyAddresses": sorted(kept)},
            "free/busy goes to the AG the legacyExchangeDN names; the X500 address keeps replies "
            "to old mail working"))
    if not steps:
        raise FixRefused(f"no recipient has a legacyExchangeDN under {old_prefix}"
                         + (f" matching {users}" if users else ""))
    taken = {value: holder for value, holder in source.legacy_dns_in_use(list(moved)).items()
             if fold(holder) != fold(moved.get(value, ""))}
    if taken:
        value, holder = next(iter(taken.items()))
        raise FixRefused(f"{len(taken)} new legacyExchangeDN value(s) are already in use, e.g. {value} "
                         f"by {holder}: a legacyExchangeDN must be unique; nothing was planned")
    notes = (f"{len(steps)} recipient(s) move from {old_prefix} to {target.legacy_dn}; every existing "
             "proxy address is kept and the old legacyExchangeDN is added as X500; the new values "
             f"were checked unique in {source.name}",
             "Outlook caches the old value: users may need a new profile or an offline address book update",
             "Not fixed by this: delegate and calendar permissions and meeting items that name the old "
             "legacyExchangeDN keep it (the seed's warning: messy at scale); cached Outlook nicknames "
             "(autocomplete) still resolve only through the X500 address; recreating the administrative "
             "group (exops fix freebusy) changes no user and avoids all of this")
    return Plan(fix="freebusy-rewrite", params={"dn": old_prefix, "to_ag": target.name, "users": users},
                steps=tuple(steps), notes=notes)


def _recipients(source, prefix: str, users: str | None):
    """(dn, legacyExchangeDN, proxyAddresses) under the prefix; `users` narrows with the admin's
    own LDAP filter, which must parse: it is ANDed, never spliced into the prefix match."""
    for entry in source.recipients_with_prefix(prefix, ("legacyExchangeDN", "proxyAddresses"),
                                               narrow=users or ""):
        legacy = entry.first("legacyExchangeDN")
        if legacy and fold(legacy).startswith(fold(prefix) + "/"):
            yield entry.dn, legacy, [str(p) for p in entry.attrs.get("proxyaddresses", [])]
