"""Mode screens that need no second pass over the whole stylesheet on their first visit.

Textual builds a mode's screen when it is first visited (`App.switch_mode`) and then, because a
new screen's CSS generation is -1, restyles the app with `refresh_css` twice: once while the old
screen is still current (which marks only the old one as up to date), once more for the new
one. Each pass re-parses every stylesheet and restyles every widget: 45-55 ms on the demo bundle
with nothing else running, so the first visit to the timeline took 93-116 ms instead of ~45.

A screen made on its first visit has missed no stylesheet change: its widgets' CSS is parsed as
they mount, and a later change (a theme) bumps the app's generation again. `made_current(cls)`
gives MODES a factory that marks the new screen with the app's generation, so neither pass
runs. Not the first screen: it is made while the app starts, before the theme's variables are
in the stylesheet, and the first switch's pass is what styled it; the app therefore makes that
one pass itself once the first screen is up (ExopsApp.on_mount). The generation is Textual's
private state (`_css_update_count`, Textual 8): a test checks that a first visit calls
`refresh_css` no more, and the snapshot tests that every screen looks the same.
"""
from __future__ import annotations

from collections.abc import Callable

from textual.screen import Screen


def made_current(screen_class: type[Screen]) -> Callable[[], Screen]:
    """A factory for App.MODES: `screen_class()`, marked as styled with the app's current CSS."""
    def make() -> Screen:
        screen = screen_class()
        screen._css_update_count = screen.app._css_update_count
        return screen
    return make
