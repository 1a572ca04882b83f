"""Shared test fixtures: the real third-party samples, the scenarios, and real Samba AD DCs.

The first run builds the golden litware directory (provision, Exchange schema, seed: about 9 s)
in `$EXOPS_LAB_CACHE` or `~/.cache/exops/samba`; later runs copy it and start Samba in about a
second. Tests that change the directory take their own copy (`fresh_dc`) so that the shared
`litware_dc` stays as seeded.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from exops.config import DirectorySettings
from exops.lab.samba import RunningDC, SambaDC, fresh_copy, golden_dc
from exops.lab.scenario import Scenario, load_scenario

REPO = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("EXOPS_SAMPLES", REPO / "tests" / "data" / "evtx-samples"))
SCENARIOS = REPO / "fixtures" / "scenarios"


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    if not SAMPLES.is_dir():
        raise RuntimeError(f"the third-party EVTX samples are missing: {SAMPLES} "
                           "(set EXOPS_SAMPLES to their folder)")
    return SAMPLES


@pytest.fixture(scope="session")
def litware() -> Scenario:
    return load_scenario("litware")


@pytest.fixture(scope="session")
def litware_golden(litware: Scenario) -> Path:
    return golden_dc(litware)


@pytest.fixture(scope="module")
def litware_dc(litware_golden: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDC]:
    """A running copy of the seeded litware DC, shared by the tests of one module."""
    dc = fresh_copy(litware_golden, tmp_path_factory.mktemp("litware") / "dc")
    yield dc.start()
    dc.stop()


@pytest.fixture
def fresh_dc(litware_golden: Path, tmp_path: Path) -> Iterator[Callable[[], SambaDC]]:
    """Makes started copies of the litware golden DC for one test; all stopped afterwards."""
    made: list[SambaDC] = []

    def make() -> SambaDC:
        dc = fresh_copy(litware_golden, tmp_path / f"dc{len(made)}")
        made.append(dc)
        dc.start()
        return dc

    yield make
    for dc in made:
        dc.stop()


@pytest.fixture
def dc_settings() -> Callable[..., tuple[DirectorySettings, str]]:
    """`dc_settings(dc, **overrides)` → (DirectorySettings, password): validated LDAPS by default."""

    def make(dc: RunningDC, **overrides) -> tuple[DirectorySettings, str]:
        return dc.directory_settings(**overrides), dc.admin_password

    return make
