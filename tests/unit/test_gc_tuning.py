"""The TUI's garbage collection (exops.tui.gc_tuning): full collections wait for a pause in the
typing, or a limit, and everything is put back afterwards. A clock the test moves stands in for
time; the collections are CPython's."""
from __future__ import annotations

import gc

import pytest

from exops.tui.gc_tuning import DUE_AFTER, NEVER, YOUNG, GarbageCollection


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def tuned():
    """(the tuning, its clock, the times CPython started a full collection since it started)."""
    clock, seen = Clock(), []

    def record(phase: str, info: dict) -> None:
        if phase == "start" and info["generation"] == 2:
            seen.append(clock.now)
    before = gc.get_threshold()
    tuning = GarbageCollection(idle=1.0, at_most=60.0, clock=clock)
    tuning.start()
    gc.callbacks.append(record)
    try:
        yield tuning, clock, seen
    finally:
        gc.callbacks.remove(record)
        tuning.stop()
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() == 0


def make_due() -> None:
    """As many middle collections as make a full one due (each counts towards the oldest)."""
    for _ in range(DUE_AFTER):
        gc.collect(1)


def test_young_garbage_is_collected_young_and_the_oldest_generation_never_on_its_own(tuned):
    tuning, clock, seen = tuned
    assert gc.get_threshold() == (YOUNG, gc.get_threshold()[1], NEVER)
    assert gc.get_freeze_count() > 0          # what existed at the start is never walked again
    for _ in range(3 * DUE_AFTER):
        gc.collect(1)
        [[] for _ in range(YOUNG)]
    assert seen == []


def test_a_due_collection_waits_for_a_pause_in_the_typing(tuned):
    tuning, clock, seen = tuned
    make_due()
    for _ in range(8):                 # a key every quarter second: never idle long enough
        clock.now += 0.25
        tuning.input_seen()
        assert not tuning.tick()
    assert seen == []
    clock.now += 1.0                   # a second without a key
    assert tuning.tick()
    assert len(seen) == 1 and tuning.full_collections == 1
    assert not tuning.tick()           # done: nothing is due any more


def test_nothing_runs_when_nothing_is_due(tuned):
    tuning, clock, seen = tuned
    gc.collect()                       # the count of middle collections starts at zero
    seen.clear()
    clock.now += 120
    assert not tuning.tick()
    assert seen == []


def test_a_busy_keyboard_delays_a_collection_by_at_most_the_limit(tuned):
    tuning, clock, seen = tuned
    make_due()
    for _ in range(int(59 / 0.25)):
        clock.now += 0.25
        tuning.input_seen()
        assert not tuning.tick()
    clock.now += 1.5                   # 60.5 s since the last full collection, keys still coming
    tuning.input_seen()
    assert tuning.tick()
    assert len(seen) == 1


def test_stop_puts_back_the_thresholds_and_unfreezes():
    before = gc.get_threshold()
    tuning = GarbageCollection()
    tuning.start()
    tuning.start()                     # a second start changes nothing
    tuning.stop()
    tuning.stop()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    make_due()
    assert not tuning.tick()           # stopped: never collects
