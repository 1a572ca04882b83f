"""Fixtures for the TUI tests: the litware bundle, built-in checks only, and screen text.

Installed check plugins would change what the screens show, so every TUI test runs the built-in
checks only; the working directory is the repository so paths display the same everywhere.
"""
from __future__ import annotations

from pathlib import Path

import pytest

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


@pytest.fixture(autouse=True)
def builtin_checks_only(monkeypatch):
    real = steps.plan_checks
    monkeypatch.setattr(steps, "plan_checks",
                        lambda: [s for s in real() if s.origin.startswith("exops.")])


@pytest.fixture(autouse=True)
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)
