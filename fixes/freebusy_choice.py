"""Which public folder database a recreated administrative group's siteFolderServer names.

The store creates the AG's free/busy site folder on that database, so it must be one that stays:
on the newest Exchange present (msExchVersion, else serialNumber), not on a server being
retired, and holding a replica of the free/busy folders. AD records the first two; replicas
live in the public folder hierarchy, so only the Exchange servers' own answer (public-folders.ps1,
the facts FB-REPLICA reads) shows them. Without it the plan says plainly that replicas were not
checked, and how to check them.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from exops.dn import fold, server_of
from exops.facts.directory import DirectoryFacts, ExchangeServer, PublicFolderDatabase
from exops.facts.exchange import FREE_BUSY_ROOT, ExchangeFacts, PublicFolderStore, database_server
from exops.facts.store import Facts
from exops.plan import PlanError

REPLICAS_COMMAND = (f"Get-PublicFolder -Identity '{FREE_BUSY_ROOT}' -Recurse | "
                    "Format-List Name,Replicas")


class FixRefused(PlanError):
    """The fix will not plan this change; the message says why and what to do instead."""


@dataclass(frozen=True)
class FreeBusyReplicas:
    """The public folder databases holding a replica of a free/busy site folder (EX:/o=.../ou=...),
    as one Exchange server's public-folders.ps1 listed them."""

    holders: frozenset[str]      # folded DNs of the directory's databases that hold one
    read_by: str                 # the server that answered, and its session
    folders: int                 # site folders listed

    def holds(self, database: PublicFolderDatabase) -> bool:
        return fold(database.dn) in self.holders


def free_busy_replicas(facts: Facts, directory: DirectoryFacts) -> FreeBusyReplicas | None:
    """What the Exchange facts say about free/busy replicas; None when no server answered
    public-folders.ps1 (no Exchange facts, or every server failed it)."""
    exchange = facts.get(ExchangeFacts)
    report = next((r for r in exchange.servers if r.folders is not None), None) if exchange else None
    if report is None:
        return None
    stores = next((r.public_folder_stores for r in exchange.servers if r.public_folder_stores), ())
    site_folders = [f for f in report.folders if f.name.upper().startswith("EX:")]
    holders = {fold(db.dn) for folder in site_folders for replica in folder.replicas
               for db in _databases_named(replica, stores, directory)}
    return FreeBusyReplicas(frozenset(holders), f"{report.server} ({report.session})", len(site_folders))


def _databases_named(replica: str, stores: tuple[PublicFolderStore, ...],
                     directory: DirectoryFacts) -> list[PublicFolderDatabase]:
    """The directory's databases a replica names: `PF01` (Exchange 2010) or `SERVER\\Storage
    Group\\Public Folder Store (SERVER)` (2007, 2003), matched through Get-PublicFolderDatabase's
    list when there is one (it gives the server, and often the DN)."""
    parts = replica.split("\\")
    name, server = parts[-1], parts[0] if len(parts) > 1 else ""
    named = [s for s in stores if fold(s.name) == fold(name) and (not server or fold(s.server) == fold(server))]
    dns = {fold(s.dn) for s in named if s.dn}
    servers = {fold(s.server) for s in named} or ({fold(server)} if server else set())
    return [db for db in directory.public_folder_databases
            if fold(db.dn) in dns
            or (fold(db.name) == fold(name) and (not servers or fold(database_server(db.dn)) in servers))]


@dataclass(frozen=True)
class Candidate:
    """A public folder database siteFolderServer could name, and what speaks for or against it."""

    database: PublicFolderDatabase
    server: ExchangeServer | None
    used_by: int                  # administrative groups whose siteFolderServer names it already
    excluded: str = ""            # why it is never chosen ("" when it may be)

    @property
    def rank(self) -> tuple:
        release = self.server.rank if self.server else ()
        return (bool(self.excluded), tuple(-n for n in release) or (1,),
                self.database.owning_tree is None, -self.used_by, fold(self.database.name))

    def describe(self) -> str:
        where = (f"Exchange {self.server.describe_version()} on {self.server.name}" if self.server
                 else "on a server the directory does not hold")
        conflict = f"; {self.server.version_conflict()}" if self.server and self.server.version_conflict() else ""
        used = f", siteFolderServer of {self.used_by} administrative group(s)" if self.used_by else ""
        tree = "" if self.database.owning_tree else ", holds no public folder tree (msExchOwningPFTree)"
        return (f"{self.database.name} ({where}{conflict}{used}{tree}"
                f"{'; ' + self.excluded if self.excluded else ''})")


def candidates(directory: DirectoryFacts, avoid: str | None = None,
               replicas: FreeBusyReplicas | None = None, restartable: set[str] | None = None) -> list[Candidate]:
    """Every public folder database, best first: on the newest Exchange version present, holding a
    public folder tree, already used by other groups; never one on a server being retired, one
    the directory holds no server for, one holding no free/busy replica when the servers' answer
    shows which do, or (with --restart-store) one on a server exops cannot restart."""
    retiring = {fold(name) for name in (avoid or "").split(",") if name.strip()}
    servers = {fold(s.dn): s for s in directory.servers}
    used = Counter(fold(ag.site_folder_server) for ag in directory.admin_groups if ag.site_folder_server)
    out = []
    for db in directory.public_folder_databases:
        server = servers.get(fold(server_of(db.dn) or ""))
        out.append(Candidate(db, server, used[fold(db.dn)], _excluded(db, server, retiring, replicas, restartable)))
    return sorted(out, key=lambda c: c.rank)


def _excluded(db: PublicFolderDatabase, server: ExchangeServer | None, retiring: set[str],
              replicas: FreeBusyReplicas | None, restartable: set[str] | None) -> str:
    if server is None:
        return "no server object holds it"
    if fold(server.name) in retiring:
        return "its server is being retired (--avoid-server)"
    if replicas is not None and replicas.folders and not replicas.holds(db):
        return (f"holds no replica of any free/busy site folder (Get-PublicFolder as read by "
                f"{replicas.read_by})")
    if restartable is not None and fold(server.name) not in restartable:
        return f"exops cannot restart its store: {server.name} is not a configured Exchange server (--restart-store)"
    return ""


def choose_database(directory: DirectoryFacts, wanted: str | None, avoid: str | None = None,
                    replicas: FreeBusyReplicas | None = None,
                    restartable: set[str] | None = None) -> tuple[PublicFolderDatabase, str]:
    """The public folder database for siteFolderServer, with the reason it was chosen."""
    ranked = candidates(directory, avoid, replicas, restartable)
    if wanted:
        match = next((c for c in ranked if fold(c.database.dn) == fold(wanted)), None) or next(
            (c for c in ranked if fold(c.database.name) == fold(wanted)), None)
        if match is None:
            known = "; ".join(c.database.dn for c in ranked) or "none"
            raise FixRefused(f"--pf-db {wanted!r} is not a public folder database (msExchPublicMDB) "
                             f"in the directory; known: {known}")
        return match.database, f"given with --pf-db: {match.describe()}"
    if not ranked:
        raise FixRefused("the directory has no public folder database (msExchPublicMDB): Outlook 2003 "
                         "free/busy needs one; create it first, then re-run")
    best = ranked[0]
    if best.excluded:
        advice = ("; every free/busy site folder's replicas are gone (FB-REPLICA): add one first "
                  "(exops fix free-busy-replica), or name a database with --pf-db"
                  if replicas is not None and replicas.folders and not replicas.holders
                  else "; name one with --pf-db")
        raise FixRefused("no public folder database can be chosen: "
                         + "; ".join(c.describe() for c in ranked) + advice)
    others = [c.describe() for c in ranked[1:]]
    reason = (f"chosen: {best.describe()}, the best of {len(ranked)}: newest Exchange version first "
              "(msExchVersion, else serialNumber), then a database that holds the public folder tree, "
              "then one other groups already use"
              + (f"; not chosen: {'; '.join(others)}" if others else ""))
    return best.database, reason


def replica_note(replicas: FreeBusyReplicas | None, database: PublicFolderDatabase) -> str:
    """What the plan says about free/busy replicas: checked, or not and how to check them."""
    if replicas is not None and not replicas.folders:
        return (f"free/busy replicas checked on the Exchange servers (public-folders.ps1 read by "
                f"{replicas.read_by}): they list no free/busy site folder yet, so no database holds "
                f"a replica to prefer; the store creates the new folder on {database.name}")
    if replicas is not None:
        state = ("holds a replica; databases without one are never chosen" if replicas.holds(database) else
                 "does NOT hold a replica (named with --pf-db); exops chooses only databases that do")
        return (f"free/busy replicas checked on the Exchange servers (public-folders.ps1 read by "
                f"{replicas.read_by}, {replicas.folders} site folder(s)): {database.name} {state}")
    return ("free/busy replicas could not be checked (evidence: AD only; AD does not record public "
            f"folder replicas): before applying, check that {database.name} holds a replica of the "
            f"free/busy site folders, in the Exchange Management Shell: {REPLICAS_COMMAND} "
            "(Exchange 2003: System Manager, Public Folders, View System Folders). exops checks this "
            "itself (FB-REPLICA) when the Exchange servers are in its configuration (exchange: servers)")


def database_choices(facts: Facts) -> list[tuple[str, str]]:
    """(DN, description) of every database `--pf-db` may name, best first, for front ends' pickers."""
    directory = facts.get(DirectoryFacts)
    if directory is None:
        return []
    return [(c.database.dn, c.describe()) for c in candidates(directory, replicas=free_busy_replicas(facts, directory))]
