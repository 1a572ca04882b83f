"""The remediation engine: one way to apply any plan, free/busy or load balancer.

For each step: read the target, refuse if it is neither the state the plan expects nor the
state it would leave (stale plan); journal the before-state; apply; read back and verify. A
target already in the planned state is reported as found (another run made it) and left alone.
A failed step undoes the applied ones in reverse. `undo_change` restores a journaled change,
including one a crash cut short, by comparing each target with its before and after states.
"""
from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from exops.journal import Change, Journal
from exops.plan import Plan, PlanError, PlanStale, State, Step, same_state


class Executor(Protocol):
    """Applies steps of one kind (`ldap.*`, `haproxy.*`...) through a source."""

    def read(self, step: Step) -> State: ...
    def apply(self, step: Step) -> None: ...
    def restore(self, step: Step, before: State) -> None: ...


class ChangeFailed(Exception):
    """A step failed; the applied steps were undone. The message says which and why."""


class UndoRefused(PlanError):
    """A target changed since exops changed it: undoing would overwrite someone else's work."""


@dataclass(frozen=True)
class StepEvent:
    """Posted for every step transition so the CLI and TUI can show the run live."""

    seq: int
    step: Step
    state: str      # checking | applying | applied | found | verified | failed | undoing | undone | unchanged
    message: str = ""


@dataclass(frozen=True)
class ApplyResult:
    change_id: int | None
    status: str     # applied | found | noop
    found: tuple[str, ...] = ()


Progress = Callable[[StepEvent], None]


def executor_for(executors: dict[str, Executor], step: Step) -> Executor:
    kind = step.action.split(".", 1)[0]
    if kind not in executors:
        raise PlanError(f"step {step.id}: no way to run {step.action!r} here (is the {kind} source configured?)")
    return executors[kind]


def apply_plan(plan: Plan, executors: dict[str, Executor], journal: Journal,
               progress: Progress | None = None) -> ApplyResult:
    notify = progress or (lambda _e: None)
    if plan.noop:
        return ApplyResult(change_id=None, status="noop")
    change_id = journal.begin(plan)
    applied: list[tuple[int, Step, State]] = []
    found: list[str] = []
    for seq, step in enumerate(plan.steps, 1):
        executor = executor_for(executors, step)
        notify(StepEvent(seq, step, "checking"))
        current = executor.read(step)
        if same_state(current, step.after):
            journal.record_before(change_id, seq, step, current)
            journal.record_step(change_id, seq, "found", after=current)
            found.append(step.title)
            notify(StepEvent(seq, step, "found", "already in the planned state; left as it is"))
            continue
        if not same_state(current, step.before):
            _roll_back(change_id, applied, executors, journal, notify)
            journal.finish(change_id, "failed", f"stale plan at step {seq}")
            raise PlanStale(f"step {seq} ({step.title}): {step.target} changed since the plan was made; "
                            "make a new plan")
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
            _roll_back(change_id, applied, executors, journal, notify)
            journal.finish(change_id, "rolled-back", f"step {seq} failed: {exc}")
            raise ChangeFailed(f"step {seq} ({step.title}) failed: {exc}; "
                               f"{len(applied)} applied step(s) were undone (change {change_id})") from exc
        if not same_state(after, step.after):
            journal.record_step(change_id, seq, "failed", after=after, error="verification failed")
            notify(StepEvent(seq, step, "failed", "read back differs from the plan"))
            applied.append((seq, step, current))
            _roll_back(change_id, applied, executors, journal, notify)
            journal.finish(change_id, "rolled-back", f"step {seq} did not verify")
            raise ChangeFailed(f"step {seq} ({step.title}) did not verify: expected {step.after}, "
                               f"read {after}; the change was undone (change {change_id})")
        journal.record_step(change_id, seq, "verified", after=after)
        notify(StepEvent(seq, step, "verified"))
        applied.append((seq, step, current))
    status = "applied" if applied else "found"
    journal.finish(change_id, status)
    return ApplyResult(change_id=change_id, status=status, found=tuple(found))


def _crash_point(name: str) -> None:
    """Fault injection for the crash-recovery tests: `EXOPS_FAULT=after-journal` (or
    `after-write`) kills the process there with SIGKILL, as a power cut or `kill -9` would."""
    if os.environ.get("EXOPS_FAULT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _roll_back(change_id: int, applied: list[tuple[int, Step, State]], executors: dict[str, Executor],
               journal: Journal, notify: Progress) -> None:
    for seq, step, before in reversed(applied):
        notify(StepEvent(seq, step, "undoing"))
        executor_for(executors, step).restore(step, before)
        journal.record_step(change_id, seq, "undone")
        notify(StepEvent(seq, step, "undone"))


def undo_change(change_id: int, executors: dict[str, Executor], journal: Journal,
                progress: Progress | None = None) -> Change:
    """Bring every target the change touched back to its journaled before-state."""
    notify = progress or (lambda _e: None)
    change = journal.change(change_id)
    if change is None:
        raise PlanError(f"no change {change_id} in the journal {journal.path} (see 'exops history')")
    if change.status in ("undone", "rolled-back"):
        raise UndoRefused(f"change {change_id} is already {change.status}")
    todo = []
    for s in reversed(change.steps):
        if s.status not in ("journaled", "applied", "verified"):
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
        if not (same_state(current, s.before) or same_state(current, planned)):
            raise UndoRefused(f"change {change_id}, step {s.seq} ({s.step.title}): {s.step.target} was "
                              "changed by someone else since; nothing was undone")
    journal.finish(change_id, "undoing")
    for s in todo:
        executor = executor_for(executors, s.step)
        if same_state(executor.read(s.step), s.before):
            journal.record_step(change_id, s.seq, "undone")
            notify(StepEvent(s.seq, s.step, "unchanged", "was never applied (interrupted run)"))
            continue
        notify(StepEvent(s.seq, s.step, "undoing"))
        executor.restore(s.step, s.before)
        if not same_state(executor.read(s.step), s.before):
            journal.finish(change_id, "failed", f"undo of step {s.seq} did not verify")
            raise ChangeFailed(f"undo of step {s.seq} ({s.step.title}) did not verify")
        journal.record_step(change_id, s.seq, "undone")
        notify(StepEvent(s.seq, s.step, "undone"))
    journal.finish(change_id, "undone")
    return journal.change(change_id)
