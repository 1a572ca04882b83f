"""What keeps the keys answering while a big bundle is read (bench/tui_latency.py measures it):
the reading child runs only on spare CPU time, garbage collection is tuned (exops.tui.gc_tuning),
and switching screens leaves nothing behind."""
from __future__ import annotations

import gc
import os
import threading

import pytest

from exops.errors import Cancelled
from exops.tui import session as steps
from exops.tui.app import ExopsApp
from exops.tui.gc_tuning import MIDDLE, NEVER, YOUNG
from tests.tui.helpers import children_reading


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_the_reading_child_runs_on_spare_time_only(large_bundle, monkeypatch):
    monkeypatch.setattr(steps, "BIG_EVIDENCE", 0)
    cancel, policies = threading.Event(), []

    def step(text: str) -> None:
        if text.startswith("reading") and not cancel.is_set():
            policies.extend(os.sched_getscheduler(int(pid)) for pid in children_reading(large_bundle))
            cancel.set()
    with pytest.raises(Cancelled):
        steps.load_facts(steps.Session(bundle=str(large_bundle)), step, cancel)
    assert policies == [os.SCHED_IDLE]


async def test_the_collection_is_tuned_while_the_app_runs_and_put_back_after(litware_bundle):
    before = gc.get_threshold()
    app = ExopsApp(bundle=str(litware_bundle))
    async with app.run_test(size=(120, 40)) as pilot:
        assert gc.get_threshold() == (YOUNG, MIDDLE, NEVER)
        assert gc.get_freeze_count() > 10_000       # the modules, classes and widgets
        seen = app.collection.last_input
        await pilot.press("t")
        assert app.collection.last_input > seen     # a key counts as the user being busy
        await app.workers.wait_for_complete()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


async def test_switching_screens_does_not_grow_the_app(litware_bundle):
    """Textual's Footer kept every key it ever made (textual#6666): each screen switch left some
    2,000 objects behind, and full collections grew slower with every key. ExopsFooter lets
    them go."""
    from textual.widgets._footer import FooterKey

    def keys_alive() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if isinstance(o, FooterKey))
    app = ExopsApp(bundle=str(litware_bundle))
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        for key in "to" * 5:
            await pilot.press(key)
        before = keys_alive()
        for key in "to" * 25:
            await pilot.press(key)
        assert keys_alive() <= before


async def test_the_first_visit_to_a_screen_restyles_nothing_else(litware_bundle):
    """Textual ran refresh_css twice on each mode's first visit (a pass over every stylesheet
    and widget, about 50 ms each); screens made by `made_current` need neither. The snapshot
    tests check that every screen still looks the same."""
    app = ExopsApp(bundle=str(litware_bundle))
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        passes, real = [], app.refresh_css
        app.refresh_css = lambda *args, **kwargs: (passes.append(app.current_mode),
                                                   real(*args, **kwargs))
        for key, mode in zip("tfhso", ("timeline", "findings", "history", "servers", "overview")):
            await pilot.press(key)
            await pilot.pause()
            assert app.current_mode == mode
        assert passes == []
