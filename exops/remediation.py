"""The remediation engine: one way to apply any plan, directory, Exchange server or balancer.

Before anything is written, every executor the plan names must be there and the first step on
each target must find it as planned (`before`) or already done (`after`); otherwise the plan is
stale and refused. Then, per step: journal the before-state; apply; read back and verify. A
target already in the planned state is *found* (another run made it) and left alone. `wait`
steps poll until their condition holds or their deadline passes. A failed step undoes the
applied ones in reverse: `set` steps by restoring their before-state, `act` steps by running
their compensating step. `undo_change` does the same for a journaled change, also one a crash
cut short, and refuses when someone else has changed a target since.

The engine knows no protocol: executors read, apply, restore and compare states.
"""
from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from exops.errors import ExopsError
from exops.journal import Change, Journal
from exops.plan import Plan, PlanError, PlanStale, State, Step


class Executor(Protocol):
    """Runs the steps of one kind on one endpoint (`ldap`, `winrm:L12EX1`, `lb:vlm1`)."""

    def read(self, step: Step) -> State: ...
    def apply(self, step: Step) -> None: ...
    def restore(self, step: Step, before: State) -> None: ...
    def same(self, a: State | None, b: State | None) -> bool: ...


class ChangeFailed(ExopsError):
    """A step failed; the applied steps were undone. The message says which and why."""


class UndoRefused(PlanError):
    """A target changed since exops changed it: undoing would overwrite someone else's work."""


@dataclass(frozen=True)
class StepEvent:
    """Posted for every step transition so the CLI and TUI can show the run live."""

    seq: int
    step: Step
    state: str      # checking | applying | waiting | applied | found | verified | failed | undoing | undone | unchanged
    message: str = ""


@dataclass(frozen=True)
class ApplyResult:
    change_id: int | None
    status: str     # applied | found | noop
    found: tuple[str, ...] = ()


StepListener = Callable[[StepEvent], None]
Executors = Mapping[str, Executor]


def executor_for(executors: Executors, step: Step) -> Executor:
    if step.executor not in executors:
        configured = ", ".join(sorted(executors)) or "none"
        raise PlanError(f"step {step.id}: nothing here can run {step.action!r} on {step.executor!r} "
                        f"(configured: {configured}); is that source in the configuration?")
    return executors[step.executor]


def _listener(progress: StepListener | None) -> StepListener:
    """Progress is for display: a failing display must never stop a change half-way."""
    def notify(event: StepEvent) -> None:
        if progress is not None:
            try:
                progress(event)
            except Exception:  # the journal, not the display, is the record of the change
                pass
    return notify


def check_runnable(plan: Plan, executors: Executors) -> None:
    """Refuse before the journal is touched: an executor missing, or a target that moved on."""
    runners = [executor_for(executors, step) for step in plan.steps]
    for step in plan.steps:
        compensate = step.compensating_step()
        if compensate is not None:
            executor_for(executors, compensate)
    seen: set[tuple[str, str]] = set()
    for seq, (step, executor) in enumerate(zip(plan.steps, runners), 1):
        key = (step.executor, step.target.casefold())
        if step.mode == "wait" or key in seen:
            continue  # later steps on a target depend on the earlier ones
        seen.add(key)
        current = executor.read(step)
        if not (executor.same(current, step.before) or executor.same(current, step.after)):
            raise PlanStale(f"step {seq} ({step.title}): {step.target} changed since the plan was made; "
                            "make a new plan (nothing was changed)")


def apply_plan(plan: Plan, executors: Executors, journal: Journal,
               progress: StepListener | None = None) -> ApplyResult:
    notify = _listener(progress)
    if plan.noop:
        return ApplyResult(change_id=None, status="noop")
    check_runnable(plan, executors)
    change_id = journal.begin(plan)
    applied: list[tuple[int, Step, State]] = []
    found: list[str] = []
    for seq, step in enumerate(plan.steps, 1):
        executor = executor_for(executors, step)
        if step.mode == "wait":
            _wait(change_id, seq, step, executor, journal, notify, applied, executors)
            continue
        notify(StepEvent(seq, step, "checking"))
        try:
            current = executor.read(step)
        except Exception as exc:    # the target cannot be read: what was applied is undone
            undone = _fail(change_id, applied, executors, journal, notify, "rolled-back",
                           f"step {seq} could not be read: {exc}")
            raise ChangeFailed(f"step {seq} ({step.title}): reading {step.target} failed: {exc}; "
                               f"{undone}") from exc
        if executor.same(current, step.after):
            journal.record_before(change_id, seq, step, current)
            journal.record_step(change_id, seq, "found", after=current)
            found.append(step.title)
            notify(StepEvent(seq, step, "found", "already in the planned state; left as it is"))
            continue
        if not executor.same(current, step.before):
            _fail(change_id, applied, executors, journal, notify, "failed", f"stale plan at step {seq}")
            raise PlanStale(f"step {seq} ({step.title}): {step.target} changed while the plan ran; "
                            "the applied steps were undone; make a new plan")
        journal.record_before(change_id, seq, step, current)
        _crash_point("after-journal")
        notify(StepEvent(seq, step, "applying"))
        try:
            executor.apply(step)
            _crash_point("after-write")
            after = executor.read(step)
        except Exception as exc:
            journal.record_step(change_id, seq, "failed", error=str(exc))
            notify(StepEvent(seq, step, "failed", str(exc)))
            undone = _fail(change_id, applied, executors, journal, notify, "rolled-back",
                           f"step {seq} failed: {exc}")
            raise ChangeFailed(f"step {seq} ({step.title}) failed: {exc}; {undone}") from exc
        applied.append((seq, step, current))
        if not executor.same(after, step.after):
            journal.record_step(change_id, seq, "failed", after=after, error="verification failed")
            notify(StepEvent(seq, step, "failed", "read back differs from the plan"))
            undone = _fail(change_id, applied, executors, journal, notify, "rolled-back",
                           f"step {seq} did not verify")
            raise ChangeFailed(f"step {seq} ({step.title}) did not verify: expected {step.after}, "
                               f"read {after}; {undone}")
        journal.record_step(change_id, seq, "verified", after=after)
        notify(StepEvent(seq, step, "verified"))
    status = "applied" if applied else "found"
    journal.finish(change_id, status)
    return ApplyResult(change_id=change_id, status=status, found=tuple(found))


def _wait(change_id: int, seq: int, step: Step, executor: Executor, journal: Journal,
          notify: StepListener, applied: list, executors: Executors) -> None:
    """Poll until the target reads as `after`; past the deadline the change is rolled back."""
    journal.record_before(change_id, seq, step, {})
    deadline = time.monotonic() + step.timeout
    polls = 0
    while True:
        try:
            current = executor.read(step)
        except Exception as exc:    # an unreadable condition is not met: keep polling until the deadline
            current = {"unreadable": str(exc)}
        polls += 1
        if executor.same(current, step.after):
            journal.record_step(change_id, seq, "verified", after=current)
            notify(StepEvent(seq, step, "verified", f"condition met after {polls} check(s)"))
            return
        left = deadline - time.monotonic()
        if left <= 0:
            break
        notify(StepEvent(seq, step, "waiting", f"{left:.0f} s left; now {current}"))
        time.sleep(min(step.interval or 1.0, left))
    error = f"not met within {step.timeout:g} s (last read: {current})"
    journal.record_step(change_id, seq, "failed", after=current, error=error)
    notify(StepEvent(seq, step, "failed", error))
    undone = _fail(change_id, applied, executors, journal, notify, "rolled-back",
                   f"step {seq} timed out")
    raise ChangeFailed(f"step {seq} ({step.title}): {error}; {undone}")


def _fail(change_id: int, applied: list[tuple[int, Step, State]], executors: Executors,
          journal: Journal, notify: StepListener, status: str, message: str) -> str:
    """Undo the applied steps in reverse, carrying on past one that cannot be undone, and say so."""
    problems = []
    for seq, step, before in reversed(applied):
        notify(StepEvent(seq, step, "undoing"))
        try:
            left = _reverse(step, before, executors)
        except Exception as exc:
            journal.record_step(change_id, seq, "undo-failed", error=str(exc))
            notify(StepEvent(seq, step, "failed", f"could not be undone: {exc}"))
            problems.append(f"step {seq} could not be undone ({exc})")
            continue
        journal.record_step(change_id, seq, "undone", error=left)
        notify(StepEvent(seq, step, "undone", left))
    journal.finish(change_id, status if not problems else "failed", "; ".join([message, *problems]))
    if problems:
        return (f"undoing the applied steps failed: {'; '.join(problems)} (change {change_id}: "
                "see 'exops history')")
    return f"{len(applied)} applied step(s) were undone (change {change_id})"


def _reverse(step: Step, before: State, executors: Executors) -> str:
    """Undo one applied step; returns a note when there is nothing that can undo it."""
    if step.mode == "set":
        executor_for(executors, step).restore(step, before)
        return ""
    compensate = step.compensating_step()
    if compensate is None:
        return "cannot be undone (no inverse action); left as it is"
    executor_for(executors, compensate).apply(compensate)
    return f"compensated: {compensate.title}"


def _crash_point(name: str) -> None:
    """Fault injection for the crash-recovery tests: `EXOPS_FAULT=after-journal` (or
    `after-write`) kills the process there with SIGKILL, as a power cut or `kill -9` would."""
    if os.environ.get("EXOPS_FAULT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def undo_change(change_id: int, executors: Executors, journal: Journal,
                progress: StepListener | None = None) -> Change:
    """Bring every target the change touched back to its journaled before-state."""
    notify = _listener(progress)
    change = journal.change(change_id)
    if change is None:
        raise PlanError(f"no change {change_id} in the journal {journal.path} (see 'exops history')")
    if change.status == "unreadable":
        raise UndoRefused(f"change {change_id} cannot be read from the journal ({change.message})")
    if change.status in ("undone", "rolled-back"):
        raise UndoRefused(f"change {change_id} is already {change.status}")
    todo = []
    for s in reversed(change.steps):
        if s.status not in ("journaled", "applied", "verified") or s.step.mode == "wait":
            continue
        later = journal.later_changes_touching(change_id, s.step.target)
        if later and s.status == "journaled":
            # Interrupted before it could confirm its write, and a later change has since made the
            # target its own: nothing of this change is left to undo there.
            journal.record_step(change_id, s.seq, "undone", error=f"superseded by change {later[0]}")
            notify(StepEvent(s.seq, s.step, "unchanged", f"superseded by change {later[0]}"))
            continue
        if later:
            raise UndoRefused(f"change {later[-1]} changed {s.step.target} after change {change_id}; "
                              f"undo change {later[-1]} first")
        todo.append(s)
    for s in todo:
        executor = executor_for(executors, s.step)
        current = executor.read(s.step)
        planned = s.after if s.after is not None else s.step.after
        if not (executor.same(current, s.before) or executor.same(current, planned)):
            raise UndoRefused(f"change {change_id}, step {s.seq} ({s.step.title}): {s.step.target} was "
                              "changed by someone else since; nothing was undone")
    journal.finish(change_id, "undoing")
    for s in todo:
        executor = executor_for(executors, s.step)
        if executor.same(executor.read(s.step), s.before):
            journal.record_step(change_id, s.seq, "undone")
            notify(StepEvent(s.seq, s.step, "unchanged", "already in its before-state: nothing to undo"))
            continue
        notify(StepEvent(s.seq, s.step, "undoing"))
        note = _reverse(s.step, s.before, executors)
        if s.step.mode == "set" and not executor.same(executor.read(s.step), s.before):
            journal.finish(change_id, "failed", f"undo of step {s.seq} did not verify")
            raise ChangeFailed(f"undo of step {s.seq} ({s.step.title}) did not verify")
        journal.record_step(change_id, s.seq, "undone", error=note)
        notify(StepEvent(s.seq, s.step, "undone", note))
    journal.finish(change_id, "undone")
    return journal.change(change_id)
