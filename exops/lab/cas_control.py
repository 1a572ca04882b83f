"""The lab's emulated Exchange servers as a source of lab-only actions (`lab:<server>`).

`exops lab up` writes a `lab:` section naming the lab's home; this source then offers, for
each emulated CAS, an executor that restarts its endpoints: the `restart-backend` maintenance
action, which lets the maintenance playbook be tried (and tested under load) without Exchange.
"""
from __future__ import annotations

from pathlib import Path

from exops.config import Config
from exops.facts.store import Facts
from exops.lab.haproxy import STATE, LabState, restart_backend
from exops.plan import State, Step
from exops.sources.loadbalancers.base import BalancerError


class LabBackendExecutor:
    """`lab.restart` on one emulated CAS: read back as "restarted" once its process is a new one."""

    def __init__(self, directory: Path, server: str):
        self.directory, self.server = directory, server

    def identity(self) -> str:
        process = LabState.load(self.directory).backends[self.server]
        return f"{process.pid}:{process.started}" if process.running else "stopped"

    def read(self, step: Step) -> State:
        return {"restarted": self.identity() != step.params.get("was")}

    def apply(self, step: Step) -> None:
        if step.action != "lab.restart":
            raise BalancerError(f"unknown lab action {step.action!r}")
        restart_backend(self.directory, self.server)

    def restore(self, step: Step, before: State) -> None:
        raise BalancerError("a restart cannot be undone")

    def same(self, a: State | None, b: State | None) -> bool:
        return a == b


class LabSource:
    provides: tuple[type, ...] = ()

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.name = f"lab {self.directory}"

    def _executors(self) -> dict[str, LabBackendExecutor]:
        if not (self.directory / STATE).is_file():
            return {}
        return {f"lab:{name}": LabBackendExecutor(self.directory, name)
                for name in LabState.load(self.directory).backends}

    def backend_identity(self, server: str) -> str:
        executor = self._executors().get(f"lab:{server}")
        if executor is None:
            raise BalancerError(f"the lab at {self.directory} runs no emulated {server}")
        return executor.identity()

    def facts(self, *, cancel=None, progress=None) -> Facts:
        return Facts()

    def executors(self) -> dict[str, LabBackendExecutor]:
        return self._executors()

    def close(self) -> None:
        pass


def sources_from_config(config: Config) -> list[LabSource]:
    """The `lab` section's source (entry point `exops.sources: lab`)."""
    return [LabSource(Path(config.lab.home))]
