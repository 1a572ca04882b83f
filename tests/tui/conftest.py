"""Fixtures for the TUI tests: the litware bundle, built-in checks only, and screen text.

Installed check plugins would change what the screens show, so every TUI test runs the built-in
checks only; the working directory is the repository so paths display the same everywhere.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from exops.lab.evtx_writer import EventSpec, write_evtx
from exops.sources.bundle_writer import write_bundle
from exops.tui import session as steps
from tests.conftest import REPO, SCENARIOS

DEMO_BUNDLE = SCENARIOS / "litware" / "bundle"


@pytest.fixture(scope="session")
def litware_bundle(tmp_path_factory) -> Path:
    """The committed demo bundle, or one built from the scenario when it is not there yet."""
    if (DEMO_BUNDLE / "manifest.json").is_file():
        return DEMO_BUNDLE
    from exops.lab.fixtures import build_bundle
    return build_bundle("litware", tmp_path_factory.mktemp("litware") / "bundle")


LOGS = 10


@pytest.fixture(scope="session")
def large_bundle(tmp_path_factory) -> Path:
    """Distinct 6 MB Application logs (one per server: copies would be read once, as the same
    evidence): seconds of scanning on any machine."""
    folder = tmp_path_factory.mktemp("large")
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    copies = []
    for server in range(LOGS):
        log = folder / f"EX{server:02}-Application.evtx"
        write_evtx(log, (EventSpec(event_id=1000 + n % 50, provider=f"Provider {n % 20}",
                                   time=start + timedelta(seconds=n), computer=f"EX{server:02}.contoso.com",
                                   data=(f"item {n}", "some text of an ordinary event"))
                         for n in range(25_000)))
        copies.append(log)
    return write_bundle(folder / "bundle", files={"events": copies}, source="test: large")


@pytest.fixture(autouse=True)
def builtin_checks_only(monkeypatch):
    real = steps.plan_checks
    monkeypatch.setattr(steps, "plan_checks",
                        lambda: [s for s in real() if s.origin.startswith("exops.")])


@pytest.fixture(autouse=True)
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)


FROZEN = "2011-08-10T09:14:03+00:00"


@pytest.fixture
def journaled_change(litware_bundle, tmp_path, monkeypatch) -> Path:
    """A live configuration whose journal holds one applied change: the freebusy plan for the
    orphan, made from the litware bundle, written through the real Journal API at a frozen time
    by a fixed operator. The directory URL answers nothing: only the journal is read.

    Returns the exops.yaml; the working directory is its folder, so paths show short."""
    from exops.fixes.freebusy import plan_freebusy

    from exops import journal as journal_module
    from exops.journal import Journal
    from exops.sources.bundle import open_bundle
    from tests.tui.helpers import ORPHAN

    monkeypatch.setattr(journal_module, "now", lambda: FROZEN)
    monkeypatch.setattr(journal_module.getpass, "getuser", lambda: "admin")
    monkeypatch.setattr(journal_module.socket, "gethostname", lambda: "ops01")
    plan = plan_freebusy(open_bundle(litware_bundle), (), dn=ORPHAN)
    journal = Journal(tmp_path / "journal.sqlite")
    change_id = journal.begin(plan)
    for seq, step in enumerate(plan.steps, 1):
        journal.record_before(change_id, seq, step, step.before)
        journal.record_step(change_id, seq, "verified", after=step.after)
    journal.finish(change_id, "applied")
    journal.close()
    config = tmp_path / "exops.yaml"
    config.write_text("directory:\n  url: ldaps://127.0.0.1:9\n  timeout: 2\njournal: journal.sqlite\n")
    monkeypatch.chdir(tmp_path)
    return config
