"""Quitting while a large bundle is being read stops the reading: the triage worker ends (the
cancel event reaches the scan) and, for a bundle read in a child process, the child is gone."""
from __future__ import annotations

import asyncio
import sys
import threading

import pytest

from exops.tui import session as steps
from exops.tui.app import ExopsApp
from tests.hostile.faults import running
from tests.tui.helpers import children_reading, wait_until


def _threads_reading() -> list[int]:
    """Threads whose stack is inside the evidence reading (the scans, or the child's relay)."""
    reading = []
    for ident, frame in sys._current_frames().items():
        while frame is not None:
            name = frame.f_code.co_filename.replace("\\", "/")
            if "/exops/sources/" in name or name.endswith("/exops/tui/session.py"):
                reading.append(ident)
                break
            frame = frame.f_back
    return reading


@pytest.mark.parametrize("in_child", [True, False], ids=["child process", "worker thread"])
async def test_quit_during_the_scan_stops_the_reading(large_bundle, monkeypatch, in_child):
    monkeypatch.setattr(steps, "BIG_EVIDENCE", 0 if in_child else 1 << 62)
    app = ExopsApp(bundle=str(large_bundle))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: "reading" in app.session.activity)
        if in_child:
            await wait_until(pilot, lambda: children_reading(large_bundle))
        await wait_until(pilot, lambda: _threads_reading(), timeout=10)
        cancel = app.triage_cancel
        await pilot.press("q")
    for _ in range(200):      # the scan stops at its next chunk, the child is ended at once
        if not _threads_reading() and not children_reading(large_bundle):
            break
        await asyncio.sleep(0.05)
    assert cancel.is_set()
    assert not _threads_reading()
    assert not children_reading(large_bundle)
    assert app.session.facts is None           # stopped, not finished


@pytest.mark.parametrize("in_child", [True, False], ids=["child process", "worker thread"])
def test_the_cancel_event_stops_the_scan_it_reaches(large_bundle, monkeypatch, in_child):
    """Set at the first log, `cancel` ends the reading with Cancelled, not with the facts."""
    from exops.errors import Cancelled

    monkeypatch.setattr(steps, "BIG_EVIDENCE", 0 if in_child else 1 << 62)
    cancel, seen = threading.Event(), []

    def step(text: str) -> None:
        seen.append(text)
        if text.startswith("reading"):
            cancel.set()
    with pytest.raises(Cancelled):
        steps.load_facts(steps.Session(bundle=str(large_bundle)), step, cancel)
    assert [t for t in seen if t.startswith("reading")] == [seen[-1]]   # no log after the first
    assert not children_reading(large_bundle)


def test_ending_the_reading_child_ends_the_processes_it_started(tmp_path, monkeypatch):
    """A log of 256 MiB or more is read by worker processes, which outlive a parent that is
    killed: cancelling must end them with the child. A stand-in child starts one, says its
    PID and waits."""
    from exops.errors import Cancelled

    script = tmp_path / "child.py"
    script.write_text(
        "import pickle, subprocess, sys, time\n"
        "worker = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "pickle.dump(('step', str(worker.pid)), sys.stdout.buffer); sys.stdout.buffer.flush()\n"
        "time.sleep(60)\n")
    monkeypatch.setattr(steps, "child_command", lambda bundle: [sys.executable, str(script)])
    cancel, workers = threading.Event(), []

    def step(text: str) -> None:
        workers.append(int(text))
        cancel.set()
    with pytest.raises(Cancelled):
        steps._gather_in_child("bundle", step, cancel)
    for _ in range(100):
        if not running(workers[0]):
            break
        threading.Event().wait(0.05)
    assert not running(workers[0]), f"worker {workers[0]} still running"
