"""Every screen of the litware triage, narrow (80x24) and wide (120x40), against reviewed SVGs.

Baselines live in __snapshots__/ and depend on the pinned Textual version; refresh them with
`pytest tests/tui --snapshot-update` and look at the SVGs before committing. Nothing on these
screens depends on the clock (the history's journal is written at a frozen time, by a fixed
operator: see `journaled_change`); the input cursor's blink is stopped before the picture.
"""
from __future__ import annotations

import pytest
from textual.widgets import Input

from exops.tui.app import ExopsApp
from exops.tui.screens.fix import FixScreen
from exops.tui.screens.history import HistoryScreen
from tests.tui.helpers import settle, wait_until

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
SCREENS = {
    "overview": (),
    "findings": ("f", "down"),            # the orphan, second of the critical findings
    "finding_detail": ("f", "down", "enter"),
    "timeline": ("t",),
    "export": ("e",),
    "help": ("question_mark",),
}


def after(*keys: str):
    async def run_before(pilot) -> None:
        await settle(pilot.app, pilot)
        await pilot.press(*keys)
        await pilot.pause()
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
    return run_before


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen(snap_compare, litware_bundle, screen, size):
    app = ExopsApp(bundle=str(litware_bundle))
    assert snap_compare(app, terminal_size=size, run_before=after(*SCREENS[screen]))


def test_overview_of_a_bundle_that_cannot_be_read(snap_compare, tmp_path_factory, monkeypatch):
    broken = tmp_path_factory.mktemp("broken")
    (broken / "manifest.json").write_text('{"format": "something else"}')
    monkeypatch.chdir(broken.parent)  # the path shows relative, the same on every machine
    app = ExopsApp(bundle=broken.name)
    assert snap_compare(app, terminal_size=(80, 24), run_before=after())


@pytest.mark.parametrize("size", SIZES)
def test_fix_screen_shows_the_plan(snap_compare, litware_bundle, size):
    """The orphan's freebusy plan from the bundle: a dry run, its step and LDIF, no Apply."""
    async def run_before(pilot) -> None:
        await after("f", "down", "x")(pilot)
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, FixScreen)
                         and pilot.app.screen.phase == "planned")
        await pilot.pause()

    assert snap_compare(ExopsApp(bundle=str(litware_bundle)), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_history_screen_with_one_change(snap_compare, journaled_change, size):
    async def run_before(pilot) -> None:
        app = pilot.app
        await wait_until(pilot, lambda: app.session.report is not None)  # nothing answers: all unknown
        await pilot.press("h")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.changes)
        await settle(app, pilot)

    app = ExopsApp(config_path=journaled_change.name)
    assert snap_compare(app, terminal_size=size, run_before=run_before)
