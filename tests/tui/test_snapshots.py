"""Every screen of the litware triage, narrow (80x24) and wide (120x40), against reviewed SVGs.

Baselines live in __snapshots__/ and depend on the pinned Textual version; refresh them with
`pytest tests/tui --snapshot-update` and look at the SVGs before committing. Nothing on these
screens depends on the clock; the input cursor's blink is stopped before the picture is taken.
"""
from __future__ import annotations

import pytest
from textual.widgets import Input

from exops.tui.app import ExopsApp

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
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
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
