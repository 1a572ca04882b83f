"""The live environment of a session: one Workbench, and one thread that talks to it.

ldap3's synchronous connection and the journal's SQLite connection both belong to the thread that
made them, and two writers on one connection would interleave. So every call goes through a
single-thread executor: directory and journal I/O is serialized whoever asks (the triage, a plan,
an apply, the history), and the Workbench is made there on first use and closed there on exit.
Callers are thread workers that block on the result; the UI thread never calls in.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from exops.config import Config, ConfigError

if TYPE_CHECKING:
    from exops.workbench import Verification, Workbench
    from exops.facts.store import Facts
    from exops.journal import Change
    from exops.plan import Plan
    from exops.remediation import ApplyResult, StepEvent

T = TypeVar("T")


def missing_password(config: Config) -> str | None:
    """Why the directory password cannot be had without a prompt, or None.

    The CLI may ask on the terminal; the TUI owns the terminal, so it never does: every password
    comes from the environment variable the configuration names.
    """
    settings = config.directory
    if settings is None or not settings.user or settings.auth == "kerberos":
        return None
    if not settings.password_env:
        return (f"{config.path}: directory.password_env is not set: name the environment variable "
                f"that holds the password of {settings.user}")
    if not os.environ.get(settings.password_env):
        return (f"the password of the directory user {settings.user} is not set: export "
                f"{settings.password_env}=... and start exops again (the TUI never asks for it)")
    return None


class LiveEnvironment:
    """`call(job)` runs `job(workbench)` on the session's directory thread and returns its result."""

    def __init__(self, config_path: str | None):
        self.config_path = config_path
        self.where = ""          # "ldaps://dc.example.com as admin", once the configuration is read
        self.journal_path = ""
        self._bench: Workbench | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="exops-live")
        self._closed = False

    def call(self, job: Callable[[Workbench], T]) -> T:
        if self._closed:
            raise ConfigError("the session is closing")
        return self._pool.submit(lambda: job(self._workbench())).result()

    def _workbench(self) -> Workbench:
        if self._bench is None:
            from exops.workbench import Workbench
            from exops.collect import load_live_config
            config = load_live_config(self.config_path)
            problem = missing_password(config)
            if problem:
                raise ConfigError(problem)
            self._bench = Workbench.from_config(config)
            settings = config.directory
            self.where = settings.url + (f" as {settings.user}" if settings.user else "")
            self.journal_path = str(self._bench.journal.path)
        return self._bench

    def close(self) -> None:
        """Close the connection and the journal on their own thread; waits for a running job."""
        if self._closed:
            return
        self._closed = True

        def shut() -> None:
            if self._bench is not None:
                self._bench.close()
                self._bench = None
        try:
            self._pool.submit(shut).result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    # ------------------------------------------------------------ what the screens ask for

    def facts(self, cancel: threading.Event,
              progress: Callable[[str], None] | None = None) -> tuple[Facts, str]:
        """The environment as the triage reads it, through the Workbench's connections."""
        return self.call(lambda bench: (bench.facts(cancel=cancel, progress=progress), bench.where))

    def plan(self, fix: str, params: dict) -> Plan:
        """Planned from the directory as it is now, not as the triage saw it."""
        return self.call(lambda bench: bench.plan(fix, params, bench.facts()))

    def apply(self, plan: Plan, progress: Callable[[StepEvent], None]) -> ApplyResult:
        return self.call(lambda bench: bench.apply(plan, progress))

    def verify(self, plan: Plan) -> Verification:
        return self.call(lambda bench: bench.verify(plan))

    def history(self, limit: int = 200) -> list[Change]:
        return self.call(lambda bench: bench.history(limit))

    def undo(self, change_id: int, progress: Callable[[StepEvent], None]) -> Change:
        return self.call(lambda bench: bench.undo(change_id, progress))
