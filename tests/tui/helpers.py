"""Reading what the TUI shows, for assertions."""
from __future__ import annotations

import io

from rich.console import Console

ORPHAN = "/o=EUROPE/ou=First Administrative Group"


def screen_text(app) -> str:
    """What the terminal shows, one line per row (through the compositor: Textual has no public
    call for the plain text of a screen)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def plain(renderable, width: int = 110) -> str:
    """A rich renderable (a Static's content) as the plain text it prints."""
    console = Console(width=width, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.file.getvalue()


async def settle(app, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()
