"""`python -m exops demo` in a real terminal (tmux): the orphan shows, its fix plans as a dry run,
keys work, q quits.

Textual draws on stderr, so the command is not redirected; the pane is polled for the expected
text instead of sleeping fixed times, and the tmux session is always killed.
"""
from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.tui.conftest import DEMO_BUNDLE
from tests.tui.helpers import ORPHAN

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.skipif(not (DEMO_BUNDLE / "manifest.json").is_file(),
                       reason=f"the demo bundle {DEMO_BUNDLE} has not been generated"),
]


class Terminal:
    """A tmux server of its own (`-L`, no user config), so nobody else's options or sessions
    change the size or the keys."""

    def __init__(self, name: str):
        self.name = name

    def tmux(self, *args: str, check: bool = True) -> str:
        return subprocess.run(["tmux", "-L", self.name, "-f", "/dev/null", *args], check=check,
                              capture_output=True, text=True).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name)

    def wait_for(self, *texts: str, absent: tuple[str, ...] = (), timeout: float = 30) -> str:
        """The screen once it shows every one of `texts` and none of `absent`."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if all(t in screen for t in texts) and not any(t in screen for t in absent):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"never saw {texts!r} without {absent!r}; the terminal "
                                     f"shows:\n{screen}")
            time.sleep(0.1)

    def press(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.name, *keys)

    def exited(self) -> bool:
        return self.tmux("display-message", "-p", "-t", self.name, "#{pane_dead}",
                         check=False).strip() in ("1", "")


@pytest.fixture
def terminal():
    term = Terminal(f"exops-e2e-{uuid.uuid4().hex[:8]}")
    command = f"cd {shlex.quote(str(REPO))} && exec {shlex.quote(sys.executable)} -m exops demo"
    # remain-on-exit keeps the pane after the app quits, so the test can see that it did.
    term.tmux("new-session", "-d", "-s", term.name, "-x", "120", "-y", "40",
              "-e", "TERM=xterm-256color", "sleep 0.3; " + command)
    term.tmux("set-option", "-t", term.name, "remain-on-exit", "on")
    socket = term.tmux("display-message", "-p", "#{socket_path}").strip()
    try:
        yield term
    finally:
        term.tmux("kill-server", check=False)
        if socket:
            Path(socket).unlink(missing_ok=True)


def test_demo_shows_the_orphan_and_its_evidence_in_a_real_terminal(terminal):
    screen = terminal.wait_for("FB-ORPHAN-DN", "1 critical", "Checks finished")
    assert "bundle fixtures/scenarios/litware/bundle" in screen

    terminal.press("f")
    screen = terminal.wait_for("Severity", ORPHAN)
    assert "FB-ORPHAN-DN" in screen

    terminal.press("/")
    terminal.press("-l", "FB-ORPHAN-DN")
    screen = terminal.wait_for("Filter FB-ORPHAN-DN")
    terminal.press("Enter")  # back to the table, the orphan the only row
    terminal.wait_for("152 mailboxes have a legacyExchangeDN", absent=("FB-EVENT-14031",))
    terminal.press("Enter")  # its detail fills the screen: no table header any more
    screen = terminal.wait_for("152 mailboxes have a legacyExchangeDN", "Evidence",
                               absent=("Severity ▾",))
    assert "CRITICAL" in screen and "Directory" in screen

    terminal.press("Escape")  # alone: a key right behind it would read as alt+key
    terminal.wait_for("Severity ▾")
    terminal.press("x")  # its fixes, the first one planned from the bundle: a dry run
    screen = terminal.wait_for("Fixes that resolve it", "Dry run from the bundle",
                               "changetype: add")
    assert "Apply" not in screen.splitlines()[-1]
    terminal.press("Escape")
    terminal.wait_for("Severity ▾", absent=("Fixes that resolve it",))
    terminal.press("t")
    terminal.wait_for("14031 publish failed", "08-01")

    terminal.press("q")
    deadline = time.monotonic() + 15
    while not terminal.exited():
        assert time.monotonic() < deadline, f"q did not quit:\n{terminal.screen()}"
        time.sleep(0.1)
