"""The state of one triage session, and the blocking steps that fill it.

The app keeps one immutable `Session` and replaces it as messages arrive from its worker, so every
screen renders from the same snapshot and none of them needs to know about threads. The functions
here run in that worker thread: they may block, and they never touch widgets.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from exops.model import Finding, Report, Severity

if TYPE_CHECKING:
    from exops.diagnose import CheckProgress
    from exops.facts.store import Facts
    from exops.registry import CheckSpec
    from exops.tui.live import LiveEnvironment

PENDING, RUNNING, DONE, SKIPPED, ERROR = "pending", "running", "done", "skipped", "error"
NOT_RUN = "not run"  # the evidence could not be read, so no check got to run


@dataclass(frozen=True)
class CheckState:
    """One check as the overview shows it: planned, running, then its result."""

    id: str
    title: str
    area: str
    state: str = PENDING
    reason: str = ""
    findings: tuple[Finding, ...] = ()

    def counts(self) -> dict[Severity, int]:
        out: dict[Severity, int] = {}
        for finding in self.findings:
            out[finding.severity] = out.get(finding.severity, 0) + 1
        return out


@dataclass(frozen=True)
class Session:
    """What the triage knows so far; `phase` moves starting → loading → checking → done | failed."""

    bundle: str | None = None
    config_path: str | None = None
    phase: str = "starting"
    activity: str = ""
    error: str = ""
    origin: str = ""
    facts: Facts | None = None
    checks: tuple[CheckState, ...] = ()
    report: Report | None = None

    @property
    def source(self) -> str:
        """What is being triaged, as the user named it (paths shown relative to the cwd)."""
        if self.bundle:
            return f"bundle {display_path(self.bundle)}"
        if self.config_path:
            return f"config {display_path(self.config_path)}"
        return "live environment (exops.yaml)"

    @property
    def live(self) -> bool:
        """A live environment (a configuration), where fixes can be applied; a bundle is evidence."""
        return not self.bundle

    @property
    def busy(self) -> bool:
        return self.phase in ("starting", "loading", "checking")

    def planned(self, specs: list[CheckSpec]) -> Session:
        return replace(self, checks=tuple(CheckState(s.id, s.title, s.area) for s in specs))

    def progressed(self, event: CheckProgress) -> Session:
        """Apply one engine progress event to the check it names."""
        state = {"running": RUNNING, "done": DONE, "skipped": SKIPPED, "error": ERROR}[event.state]
        checks = tuple(
            replace(c, state=state, findings=event.findings or c.findings) if c.id == event.check.id
            else c for c in self.checks)
        return replace(self, checks=checks, activity=f"{event.done}/{event.total} checks done")

    def finished(self, report: Report) -> Session:
        """The report is the record: statuses, skip reasons and findings are taken from it."""
        runs = {run.id: run for run in report.checks}
        checks = tuple(
            replace(c, state=_state_of(runs[c.id].status), reason=runs[c.id].reason,
                    findings=tuple(f for f in report.findings if f.check_id == c.id))
            if c.id in runs else c for c in self.checks)
        return replace(self, phase="done", activity="", report=report, checks=checks)

    def failed(self, error: str) -> Session:
        """Checks that never got to run say so, instead of waiting forever."""
        checks = tuple(replace(c, state=NOT_RUN, reason="the evidence could not be read")
                       if c.state in (PENDING, RUNNING) else c for c in self.checks)
        return replace(self, phase="failed", error=error, activity="", checks=checks)


def _state_of(status: str) -> str:
    return {"ran": DONE, "skipped": SKIPPED, "error": ERROR}.get(status, ERROR)


def display_path(path: str | os.PathLike) -> str:
    """A path relative to the working directory when it is inside it, else as given."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------- worker steps (blocking)

def plan_checks() -> list[CheckSpec]:
    from exops.diagnose import select_checks
    return select_checks()


def bundle_origin(path: str) -> str:
    """Where a bundle's evidence came from, from its manifest ("scenario litware", a host...).

    Only a hint for the overview: a bundle that cannot be read says so through `open_bundle`.
    """
    from exops.sources.bundle import BundleError, read_manifest
    try:
        return str(read_manifest(path).get("source") or "")
    except (BundleError, OSError):
        return ""


def load_facts(session: Session, step: Callable[[str], None], cancel: threading.Event,
               live: LiveEnvironment | None = None) -> tuple[Facts, str]:
    """The session's facts and their source line, reporting each log or page as it is read;
    `cancel` stops the reading between chunks or pages (raising `Cancelled`).

    Live, the sources are read through the session's one Workbench (`live`), so the triage,
    the fixes and the history share their connections and never talk to a server at once.
    """
    from exops.collect import gather_facts

    if not session.bundle:
        if live is None:
            raise ValueError("a live session needs its LiveEnvironment")
        step("reading the configuration and connecting")
        return live.facts(cancel, step)
    step("opening the bundle")
    if evidence_size(session.bundle) < BIG_EVIDENCE:
        return gather_facts(bundle=session.bundle, cancel=cancel, progress=step)
    return _gather_in_child(session.bundle, step, cancel)


# A scan is pure Python: in a thread of the app's own process it holds the GIL most of the time,
# and the event loop, which gives up the GIL at every select(), waits up to a switch interval to
# get it back each time: measured, a key took 2 s to answer while two 100 MB logs were read
# (bench/tui_latency.py). Bigger bundles are therefore read in a child process; small ones in
# the worker thread, where the child's start-up (an interpreter importing exops) would dominate.
BIG_EVIDENCE = 32 * 1024 * 1024
POLL = 0.05   # seconds between looks at `cancel` while the child reads


def evidence_size(path: str) -> int:
    """Bytes of evidence in a bundle folder (or its zip); 0 when it cannot be sized."""
    try:
        root = Path(path)
        return root.stat().st_size if root.is_file() else \
            sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
    except OSError:
        return 0


def _gather_in_child(bundle: str, step: Callable[[str], None],
                     cancel: threading.Event) -> tuple[Facts, str]:
    """`gather_facts` in a child interpreter (`_child_main`); its progress lines are relayed to
    `step`, and once `cancel` is set the child is ended (it only reads)."""
    import pickle
    import selectors
    import subprocess

    from exops.errors import Cancelled, ExopsError

    # a session of its own, so that ending it ends the worker processes its scan started too:
    # a pool's workers outlive a parent that is killed
    child = subprocess.Popen(child_command(bundle), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        with selectors.DefaultSelector() as ready:
            ready.register(child.stdout, selectors.EVENT_READ)
            while True:
                if cancel.is_set():
                    raise Cancelled(f"reading {bundle}: cancelled")
                if not ready.select(timeout=POLL):
                    continue
                try:
                    kind, value = pickle.load(child.stdout)
                except (EOFError, pickle.UnpicklingError):
                    raise ExopsError(f"reading {bundle}: the reading process ended unexpectedly "
                                     f"(exit code {child.wait()})") from None
                if kind == "step":
                    step(value)
                elif kind == "facts":
                    return value
                else:
                    raise ExopsError(value)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)     # the child and any workers it started
        child.wait()
        child.stdout.close()


def child_command(bundle: str) -> list[str]:
    """The command of the child that reads `bundle` (`_child_main`)."""
    return [sys.executable, "-c", "from exops.tui.session import _child_main; _child_main()",
            bundle]


def _child_main() -> None:
    """The child's side: progress lines, then the facts or the one line that says why not, each
    pickled to stdout."""
    import pickle

    from exops.collect import gather_facts
    from exops.errors import ExopsError

    out = sys.stdout.buffer
    run_on_spare_time()

    def say(kind: str, value: object) -> None:
        pickle.dump((kind, value), out)
        out.flush()

    try:
        say("facts", gather_facts(bundle=sys.argv[1], progress=lambda text: say("step", text)))
    except ExopsError as exc:
        say("error", str(exc))
    except Exception as exc:    # shown as the TUI shows internal errors
        from exops.tui.messages import internal_error
        say("error", internal_error(exc, "run `exops --debug check` on the same input"))


def run_on_spare_time() -> None:
    """This process (and the workers it starts, which inherit it) runs only when a core has
    nothing else to do: Linux's SCHED_IDLE. At a mere lower priority (nice 5) the scan's three
    processes on two cores still held the screen off for 100-430 ms now and then (measured,
    bench/tui_latency.py); idle, they take every cycle the screen leaves and none it wants.
    Where there is no such class, the lowest priority."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        with contextlib.suppress(AttributeError, OSError):
            os.nice(19)


def run(facts: Facts, source: str, specs: list[CheckSpec],
        progress: Callable[[CheckProgress], None]) -> Report:
    from exops.diagnose import run_checks
    return run_checks(facts, source, specs, progress=progress)
