"""Runs fix steps on one Exchange server (the `winrm:<server>` executor) through exops's scripts.

- `winrm.restart-service` (act): restarts MSExchangeIS, MSExchangeRPC or MSExchangeAB; its state
  is whether the service started after the plan was made, so a restart someone else did since
  counts as done and a plan is never stale because of one. It cannot be undone.
- `winrm.service-state` (wait): a service's state as Windows reports it (`Running` once a
  restarted service is up again); a server that does not answer meanwhile reads as such, so
  the wait goes on (and its time limit undoes the change) instead of breaking off.
- `winrm.free-busy-folder` (wait): the store's proof that free/busy works again for a
  legacyExchangeDN prefix: `SCHEDULE+ FREE BUSY\\EX:<prefix>` exists and event 3047 naming it
  was logged since the plan was made.
- `winrm.set-rpc-client-access` (set): a mailbox database's RpcClientAccessServer; undone by
  setting the value it had.
- `winrm.set-replicas` (set): the replicas of one free/busy site folder; undone by setting the
  replicas it had.
- `winrm.set-rpc-port` (set): MSExchangeRPC `TCP/IP Port` or MSExchangeAB `RpcTcpPort`, with the
  registry type its service reads; undone by writing (or removing) the value it had.
States are read from the server each time, never assumed.
"""
from __future__ import annotations

from datetime import datetime

from exops.dn import fold, prefixes_named
from exops.errors import ExopsError
from exops.plan import State, Step
from exops.sources.powershell import RemoteShell, ServerUnreachable, parse_time


class ExchangeStepError(ExopsError):
    """A step this executor does not know, or one it cannot undo."""


class ExchangeExecutor:
    def __init__(self, shell: RemoteShell):
        self.shell = shell

    def read(self, step: Step) -> State:
        if step.action == "winrm.restart-service":
            since = datetime.fromisoformat(step.params["since"])
            services = self.shell.run("services")["services"]
            started = next((parse_time(s.get("started")) for s in services if s["name"] == step.params["service"]), None)
            return {"restarted": bool(started and started > since)}
        if step.action == "winrm.service-state":
            try:
                services = self.shell.run("services")["services"]
            except ServerUnreachable as exc:
                return {"state": "", "unanswered": str(exc)}
            return {"state": next((str(s["state"]) for s in services if s["name"] == step.params["service"]), "")}
        if step.action == "winrm.free-busy-folder":
            since = datetime.fromisoformat(step.params["since"])
            prefix = fold(step.params["dn"])
            folders = self.shell.run("public-folders")["folders"]
            events = self.shell.run("events", {"since": since.isoformat(), "max_events": 1000})["events"]
            return {"folder": any(fold(f["name"]) == fold(f"EX:{step.params['dn']}") for f in folders),
                    "event_3047": any(int(e["id"]) == 3047 and prefix in map(fold, prefixes_named(
                        [*map(str, e.get("data", ())), str(e.get("message") or "")])) for e in events)}
        if step.action == "winrm.set-rpc-client-access":
            databases = self.shell.run("mailbox-databases")["databases"]
            found = next((d for d in databases if fold(d["name"]) == fold(step.params["database"])), None)
            if found is None:
                raise ExchangeStepError(f"{self.shell.server.name} has no mailbox database {step.params['database']}")
            return {"rpc_client_access_server": str(found["rpc_client_access_server"])}
        if step.action == "winrm.set-rpc-port":
            values = self.shell.run("rpc-ports")["values"]
            found = next((v for v in values if v["name"] == step.params["name"]), {"present": False})
            return {"present": True, "kind": found["kind"], "value": str(found["value"])} if found["present"] \
                else {"present": False}
        if step.action == "winrm.set-replicas":
            folders = self.shell.run("public-folders")["folders"]
            found = next((f for f in folders if fold(f["name"]) == fold(step.params["folder"])), None)
            if found is None:
                raise ExchangeStepError(f"no free/busy folder {step.params['folder']} on {self.shell.server.name}")
            return {"replicas": sorted(str(r) for r in found["replicas"])}
        raise ExchangeStepError(f"unknown Exchange action {step.action!r}")

    def apply(self, step: Step) -> None:
        if step.action == "winrm.restart-service":
            self.shell.run("restart-service", {"service": step.params["service"]})
        elif step.mode == "set":
            self._write(step, step.after)
        else:
            raise ExchangeStepError(f"{step.action} changes nothing that can be applied")

    def restore(self, step: Step, before: State) -> None:
        if step.mode != "set":
            raise ExchangeStepError(f"{step.action} has no before-state to restore")
        self._write(step, before)

    def _write(self, step: Step, state: State) -> None:
        if step.action == "winrm.set-rpc-client-access":
            self.shell.run("set-rpc-client-access", {"database": step.params["database"],
                                                     "fqdn": state["rpc_client_access_server"]})
        elif step.action == "winrm.set-replicas":
            self.shell.run("set-replicas", {"folder": step.params["folder"], "replicas": state["replicas"]})
        elif step.action == "winrm.set-rpc-port":
            self.shell.run("set-rpc-port", {"name": step.params["name"], "value": state.get("value", ""),
                                            "remove": not state.get("present")})
        else:
            raise ExchangeStepError(f"unknown Exchange action {step.action!r}")

    def same(self, a: State | None, b: State | None) -> bool:
        """Names compare as Exchange compares them: case-insensitively."""
        return _normal(a) == _normal(b)


def _normal(state: State | None):
    if state is None:
        return None
    return {k: v.casefold() if isinstance(v, str) else sorted(x.casefold() for x in v) if isinstance(v, list) else v
            for k, v in state.items()}
