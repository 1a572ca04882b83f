"""Runs fix steps on one Exchange server (the `winrm:<server>` executor) through exops's scripts.

- `winrm.restart-service` (act): restarts MSExchangeIS, MSExchangeRPC or MSExchangeAB; its state
  is whether the service started after the plan was made, so a restart someone else did since
  counts as done and a plan is never stale because of one. It cannot be undone.
- `winrm.free-busy-folder` (wait): the store's proof that free/busy works again for a
  legacyExchangeDN prefix: `SCHEDULE+ FREE BUSY\\EX:<prefix>` exists and event 3047 naming it
  was logged since the plan was made.
States are read from the server each time, never assumed.
"""
from __future__ import annotations

from datetime import datetime

from exops.dn import fold, prefixes_named
from exops.errors import ExopsError
from exops.plan import State, Step
from exops.sources.powershell import RemoteShell, parse_time


class ExchangeStepError(ExopsError):
    """A step this executor does not know, or one it cannot undo."""


class ExchangeExecutor:
    def __init__(self, shell: RemoteShell):
        self.shell = shell

    def read(self, step: Step) -> State:
        since = datetime.fromisoformat(step.params["since"])
        if step.action == "winrm.restart-service":
            services = self.shell.run("services")["services"]
            started = next((parse_time(s.get("started")) for s in services if s["name"] == step.params["service"]), None)
            return {"restarted": bool(started and started > since)}
        if step.action == "winrm.free-busy-folder":
            prefix = fold(step.params["dn"])
            folders = self.shell.run("public-folders")["folders"]
            events = self.shell.run("events", {"since": since.isoformat(), "max_events": 1000})["events"]
            return {"folder": any(fold(f["name"]) == fold(f"EX:{step.params['dn']}") for f in folders),
                    "event_3047": any(int(e["id"]) == 3047 and prefix in map(fold, prefixes_named(
                        [*map(str, e.get("data", ())), str(e.get("message") or "")])) for e in events)}
        raise ExchangeStepError(f"unknown Exchange action {step.action!r}")

    def apply(self, step: Step) -> None:
        if step.action == "winrm.restart-service":
            self.shell.run("restart-service", {"service": step.params["service"]})
            return
        raise ExchangeStepError(f"{step.action} changes nothing that can be applied")

    def restore(self, step: Step, before: State) -> None:
        raise ExchangeStepError(f"{step.action} has no before-state to restore")

    def same(self, a: State | None, b: State | None) -> bool:
        return a == b
