"""Shared test fixtures: where the real third-party samples and the scenarios live."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("EXOPS_SAMPLES", REPO.parent / "shared" / "samples" / "evtx"))
SCENARIOS = REPO / "fixtures" / "scenarios"


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    if not SAMPLES.is_dir():
        raise RuntimeError(f"the third-party EVTX samples are missing: {SAMPLES} "
                           "(set EXOPS_SAMPLES to their folder)")
    return SAMPLES
