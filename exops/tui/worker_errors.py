"""The one place where a failed worker becomes something on screen.

Workers just raise. `WorkerOutcomes` (mixed into the app and the screens that run workers) hears
every `Worker.StateChanged` and calls `failed_<group>(error, exc)` when a worker of that group
raised, and `finished_<group>()` when one ended in any way; a group with no `failed_` handler gets
a notification. A user-facing error (`ExopsError`) is shown as its own words, anything else as an
internal error that points at the CLI's --debug; a cancelled read is not an error at all.
"""
from __future__ import annotations

from textual.worker import Worker, WorkerState

from exops.errors import Cancelled, ExopsError

DONE = (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED)


def describe(exc: BaseException, hint: str = "the CLI with --debug shows the traceback") -> str:
    if isinstance(exc, ExopsError):
        return str(exc)
    return f"internal error: {type(exc).__name__}: {exc} ({hint})"


class WorkerOutcomes:
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A plain handler name, not `@on`: Textual finds it on a mixin through the MRO."""
        group = event.worker.group.replace("-", "_")
        if event.state is WorkerState.ERROR and not event.worker.is_cancelled \
                and not isinstance(event.worker.error, Cancelled):
            handler = getattr(self, f"failed_{group}", None)
            if handler is not None:
                handler(describe(event.worker.error), event.worker.error)
            else:
                self.notify(describe(event.worker.error), severity="error", timeout=10, markup=False)
        if event.state in DONE:
            finished = getattr(self, f"finished_{group}", None)
            if finished is not None:
                finished()
