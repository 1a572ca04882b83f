"""The change journal: every change is written here, with its before-state, before it happens.

SQLite in WAL mode, committed before each write to a directory or server, so that after a crash
(even SIGKILL between the journal write and the change) `exops history` shows what was under
way and `exops undo` can bring the target back. Passwords never reach it: it stores plans and
target states only.
"""
from __future__ import annotations

import getpass
import json
import os
import socket
import sqlite3
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from exops.errors import ExopsError
from exops.plan import Plan, PlanError, State, Step, step_from_data

SCHEMA_VERSION = 2   # 1: the first release (no user_version set); 2: steps.endpoint
SCHEMA = """
CREATE TABLE IF NOT EXISTS changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fix TEXT NOT NULL,
    plan TEXT NOT NULL,
    status TEXT NOT NULL,          -- applying | applied | failed | rolled-back | undone | undoing
    operator TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT,
    message TEXT DEFAULT ''
);
CREATE TABLE IF NOT EXISTS steps (
    change_id INTEGER NOT NULL REFERENCES changes(id),
    seq INTEGER NOT NULL,
    step TEXT NOT NULL,
    before TEXT NOT NULL,
    after TEXT,
    status TEXT NOT NULL,          -- journaled | applied | found | verified | failed | undone
    error TEXT DEFAULT '',
    updated TEXT NOT NULL,
    endpoint TEXT NOT NULL DEFAULT '',   -- the executor it went to: ldap, winrm:L12EX1, lb:vlm1
    PRIMARY KEY (change_id, seq)
);
"""
MIGRATIONS = {
    # from version: statements that bring a journal to the next version
    1: "ALTER TABLE steps ADD COLUMN endpoint TEXT NOT NULL DEFAULT '';",
}


class JournalError(ExopsError):
    """The journal cannot be used: not a journal, damaged, newer than this exops, or unwritable."""


def default_path() -> Path:
    if os.environ.get("EXOPS_JOURNAL"):
        return Path(os.environ["EXOPS_JOURNAL"])
    base = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state"))
    return base / "exops" / "journal.sqlite"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class JournaledStep:
    seq: int
    step: Step
    before: State
    after: State | None
    status: str
    error: str


@dataclass(frozen=True)
class Change:
    id: int
    fix: str
    plan: Plan
    status: str
    operator: str
    started: str
    finished: str | None
    message: str
    steps: tuple[JournaledStep, ...]


class Journal:
    """The change journal of one machine (or of one configuration's `journal:` path)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else default_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._upgrade()
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: not a usable exops journal ({exc}); move it aside and "
                               "exops starts a new one") from None
        except OSError as exc:
            raise JournalError(f"{self.path}: cannot open the journal: {exc.strerror}") from None
        self._checked = False

    def _upgrade(self) -> None:
        """Create a new journal, or migrate an older one in place, one version at a time."""
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version == 0 and not tables:
            self._db.executescript(SCHEMA)
        elif version == 0 and {"changes", "steps"} <= tables:
            version = 1
        elif version == 0 or version > SCHEMA_VERSION:
            raise JournalError(f"{self.path}: not an exops journal this version reads (schema "
                               f"{version or 'unknown'}; this exops reads 1 to {SCHEMA_VERSION})")
        while 0 < version < SCHEMA_VERSION:
            self._db.executescript(f"BEGIN; {MIGRATIONS[version]} PRAGMA user_version = {version + 1}; COMMIT;")
            version += 1
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _check_integrity(self) -> None:
        """Refuse to journal into a damaged file: a change whose record is lost cannot be undone."""
        if self._checked:
            return
        try:
            result = self._db.execute("PRAGMA integrity_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            result = str(exc)
        if result != "ok":
            raise JournalError(f"{self.path}: the journal is damaged ({result}); nothing was changed. "
                               "Keep it for the record, move it aside, and run again")
        self._checked = True

    def close(self) -> None:
        self._db.close()

    def begin(self, plan: Plan) -> int:
        self._check_integrity()
        operator = f"{getpass.getuser()}@{socket.gethostname()}"
        cur = self._db.execute(
            "INSERT INTO changes (fix, plan, status, operator, started) VALUES (?, ?, 'applying', ?, ?)",
            (plan.fix, plan.to_json(), operator, now()))
        return int(cur.lastrowid)

    def record_before(self, change_id: int, seq: int, step: Step, before: State) -> None:
        """Durably note what a target looked like; called before the target is touched."""
        self._db.execute(
            "INSERT OR REPLACE INTO steps (change_id, seq, step, before, status, updated, endpoint) "
            "VALUES (?, ?, ?, ?, 'journaled', ?, ?)",
            (change_id, seq, json.dumps(asdict(step)), json.dumps(before), now(), step.executor))

    def record_step(self, change_id: int, seq: int, status: str, after: State | None = None,
                    error: str = "") -> None:
        self._db.execute(
            "UPDATE steps SET status = ?, after = COALESCE(?, after), error = ?, updated = ? "
            "WHERE change_id = ? AND seq = ?",
            (status, json.dumps(after) if after is not None else None, error, now(), change_id, seq))

    def finish(self, change_id: int, status: str, message: str = "") -> None:
        self._db.execute("UPDATE changes SET status = ?, finished = ?, message = ? WHERE id = ?",
                         (status, now(), message, change_id))

    def later_changes_touching(self, change_id: int, target: str) -> list[int]:
        """Changes after `change_id` whose steps touched `target` and still stand (not undone)."""
        rows = self._db.execute(
            "SELECT DISTINCT s.change_id, s.step FROM steps s JOIN changes c ON c.id = s.change_id "
            "WHERE s.change_id > ? AND s.status NOT IN ('undone', 'failed', 'found') AND c.status != 'undone'",
            (change_id,)).fetchall()
        return sorted({cid for cid, step in rows
                       if json.loads(step)["target"].casefold() == target.casefold()})

    def changes(self, limit: int = 50) -> list[Change]:
        """Newest first; a row that cannot be read is listed as unreadable, never hides the rest."""
        rows = self._db.execute("SELECT id FROM changes ORDER BY id DESC LIMIT ?",
                                (max(0, min(limit, 2**31)),)).fetchall()
        return [self.change(r[0]) or self._unreadable(r[0], "missing") for r in rows]

    def change(self, change_id: int) -> Change | None:
        if not -2**63 <= change_id < 2**63:
            return None
        row = self._db.execute(
            "SELECT id, fix, plan, status, operator, started, finished, message FROM changes WHERE id = ?",
            (change_id,)).fetchone()
        if row is None:
            return None
        try:
            steps = tuple(
                JournaledStep(seq=s[0], step=step_from_data(json.loads(s[1]), f"change {change_id}"),
                              before=json.loads(s[2]), after=json.loads(s[3]) if s[3] else None,
                              status=s[4], error=s[5])
                for s in self._db.execute(
                    "SELECT seq, step, before, after, status, error FROM steps WHERE change_id = ? "
                    "ORDER BY seq", (change_id,)))
            plan = Plan.from_json(row[2], f"change {change_id}")
        except (PlanError, ValueError, TypeError) as exc:
            return self._unreadable(change_id, str(exc))
        return Change(id=row[0], fix=row[1], plan=plan, status=row[3], operator=row[4],
                      started=row[5], finished=row[6], message=row[7], steps=steps)

    @staticmethod
    def _unreadable(change_id: int, why: str) -> Change:
        return Change(id=change_id, fix="?", plan=Plan(fix="?", params={}, steps=()), status="unreadable",
                      operator="", started="", finished=None, message=why[:200], steps=())
