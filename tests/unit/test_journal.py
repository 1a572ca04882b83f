"""The journal: migrated from older versions, checked before a write, clear about damage."""
from __future__ import annotations

import sqlite3

import pytest

from exops.journal import Journal, JournalError
from exops.plan import Plan
from tests.unit.memory_executor import setting

FIRST_RELEASE = """
CREATE TABLE changes (id INTEGER PRIMARY KEY AUTOINCREMENT, fix TEXT NOT NULL, plan TEXT NOT NULL,
    status TEXT NOT NULL, operator TEXT NOT NULL, started TEXT NOT NULL, finished TEXT, message TEXT DEFAULT '');
CREATE TABLE steps (change_id INTEGER NOT NULL REFERENCES changes(id), seq INTEGER NOT NULL, step TEXT NOT NULL,
    before TEXT NOT NULL, after TEXT, status TEXT NOT NULL, error TEXT DEFAULT '', updated TEXT NOT NULL,
    PRIMARY KEY (change_id, seq));
"""
V1_PLAN = ('{"plan_version": 1, "fix": "freebusy", "params": {"dn": "/o=A/ou=B"}, "notes": [], '
           '"created": "", "steps": []}')
V1_STEP = ('{"id": "a", "title": "Create B", "action": "ldap.add", "target": "CN=B", "before": {}, '
           '"after": {}, "preview": "", "why": "", "params": {}}')


def test_a_first_release_journal_is_migrated_and_keeps_its_history(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(FIRST_RELEASE)
    db.execute("INSERT INTO changes (fix, plan, status, operator, started) VALUES "
               "('freebusy', ?, 'applied', 'admin@ops01', '2011-08-09')", (V1_PLAN,))
    db.execute("INSERT INTO steps VALUES (1, 1, ?, '{}', '{}', 'verified', '', '2011-08-09')", (V1_STEP,))
    db.commit()
    db.close()
    journal = Journal(path)
    [change] = journal.changes()
    assert change.fix == "freebusy" and change.steps[0].step.executor == "ldap"
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 2
    journal.begin(Plan(fix="test", params={}, steps=(setting("a"),)))   # writable after migration
    journal.close()


def test_a_file_that_is_not_a_journal_is_one_clear_error(tmp_path):
    garbage = tmp_path / "journal.sqlite"
    garbage.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    with pytest.raises(JournalError, match="not a usable exops journal"):
        Journal(garbage)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).executescript("CREATE TABLE photos (id INTEGER);")
    with pytest.raises(JournalError, match="not an exops journal this version reads"):
        Journal(other)


def test_a_journal_from_a_newer_exops_is_refused(tmp_path):
    path = tmp_path / "new.sqlite"
    Journal(path).close()
    sqlite3.connect(path).execute("PRAGMA user_version = 99")
    with pytest.raises(JournalError, match="schema 99"):
        Journal(path)


def test_a_damaged_journal_refuses_to_record_a_change(tmp_path):
    path = tmp_path / "j.sqlite"
    journal = Journal(path)
    journal.begin(Plan(fix="test", params={}, steps=()))
    journal.close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA writable_schema = ON")
    db.execute("UPDATE sqlite_master SET sql = 'CREATE TABLE steps (broken' WHERE name = 'steps'")
    db.commit()
    db.close()
    with pytest.raises(JournalError):
        Journal(path).begin(Plan(fix="test", params={}, steps=()))


def test_one_unreadable_row_does_not_hide_the_others(tmp_path):
    journal = Journal(tmp_path / "j.sqlite")
    good = journal.begin(Plan(fix="test", params={}, steps=(setting("a"),)))
    bad = journal.begin(Plan(fix="test", params={}, steps=()))
    journal._db.execute("UPDATE changes SET plan = '{broken' WHERE id = ?", (bad,))
    listed = {c.id: c.status for c in journal.changes()}
    assert listed == {good: "applying", bad: "unreadable"}
    assert journal.change(2**63) is None
