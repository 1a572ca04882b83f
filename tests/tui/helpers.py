"""Reading what the TUI shows, for assertions."""
from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from textual.worker import WorkerFailed

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
    """Every worker ended, and what it posted handled. A worker that raised has ended too: the
    app's one outcome handler shows its error, and the tests read that from the screen."""
    try:
        await app.workers.wait_for_complete()
    except WorkerFailed:
        pass
    await pilot.pause()


async def wait_until(pilot, condition, timeout: float = 20) -> None:
    """Pause until `condition()` holds: for results that arrive as messages after a worker ends
    (a re-run started by a handler is not among the workers `wait_for_complete` awaits)."""
    import time
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {condition}; the screen "
                                 f"shows:\n{screen_text(pilot.app)}")
        await pilot.pause(0.05)


def children_reading(bundle: Path) -> list[str]:
    """Processes whose command line names `_child_main` and this bundle."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"_child_main" in a for a in args) and str(bundle).encode() in args:
            found.append(cmdline.parent.name)
    return found
