"""The `lb:<name>` executor: plan steps on one balancer, whatever its product.

A step's target is `<virtual service>/<real server>`. Each verb reads the member in its own
terms, so several steps on one member (drain, then maintenance, then ready) each verify and
undo on their own:

| action       | mode | state read                                | apply                         |
|--------------|------|-------------------------------------------|-------------------------------|
| lb.drain     | act  | new_clients: admin is ready               | drain (compensate: lb.ready)  |
| lb.maint     | act  | any_clients: admin is not maint           | maint (compensate: lb.ready)  |
| lb.ready     | act  | in_rotation: admin is ready               | ready                         |
| lb.admin     | set  | admin: ready / drain / maint              | that admin state              |
| lb.weight    | set  | weight                                    | that weight                   |
| lb.ramp      | act  | weight                                    | weight raised step by step    |
| lb.sessions  | wait | settled: no sessions, or the drain's time limit passed | -                |
| lb.health    | wait | status (UP, DOWN...)                      | -                             |
| lb.probe     | wait | answers: the real server accepts TCP from here | -                        |

Whatever sits under "observed" in a state is shown and journaled but never compared: the
clients still connected and those persistence keeps sending are evidence, not conditions.
"""
from __future__ import annotations

import threading
import time
from typing import Any

from exops.facts.loadbalancer import RealServer
from exops.plan import State, Step
from exops.sources.loadbalancers.base import BalancerDriver, BalancerError, answers

RAMP_STEPS = 10


def member_target(service: str, server: str) -> str:
    return f"{service}/{server}"


def split_target(target: str) -> tuple[str, str]:
    service, _, server = target.rpartition("/")
    if not service or not server:
        raise BalancerError(f"balancer step target {target!r} is not <virtual service>/<real server>")
    return service, server


class BalancerExecutor:
    def __init__(self, driver: BalancerDriver):
        self.driver = driver
        self._lock = threading.Lock()
        self._waits: dict[tuple[str, str], tuple[float, int]] = {}   # wait step -> (start, total then)

    def same(self, a: State | None, b: State | None) -> bool:
        if a is None or b is None:
            return a is b
        return _compared(a) == _compared(b)

    def read(self, step: Step) -> State:
        service, server = split_target(step.target)
        member = self.driver.member(service, server)
        verb = step.action.split(".", 1)[1]
        if verb == "drain":
            return {"new_clients": member.admin == "ready"}
        if verb == "maint":
            return {"any_clients": member.admin != "maint"}
        if verb == "ready":
            return {"in_rotation": member.admin == "ready"}
        if verb == "admin":
            return {"admin": member.admin}
        if verb in ("weight", "ramp"):
            return {"weight": member.weight}
        if verb == "sessions":
            return self._sessions(step, member)
        if verb == "health":
            return {"status": member.status, "observed": {"check": member.check}}
        if verb == "probe":
            return {"answers": bool(answers(member.address)), "observed": {"address": member.address}}
        raise BalancerError(f"unknown balancer action {step.action!r}")

    def _sessions(self, step: Step, member: RealServer) -> State:
        """Settled when no session is left, or, for a drain with a time limit, when the limit has
        passed: the drain then goes on to maintenance and reports who persistence kept there."""
        key = (step.id, step.target)
        with self._lock:
            start, total_then = self._waits.setdefault(key, (time.monotonic(), member.total))
        limit = float(step.params.get("limit", 0) or 0)
        settled = member.sessions == 0 or bool(limit) and time.monotonic() - start >= limit
        if settled:
            with self._lock:
                self._waits.pop(key, None)
        arrived = member.total - total_then if member.total >= 0 and total_then >= 0 else -1
        return {"settled": settled, "observed": {
            "sessions": member.sessions, "new_sessions_while_waiting": arrived,
            "clients": list(member.clients), "persistent_clients": list(member.sticky_clients)}}

    def apply(self, step: Step) -> None:
        service, server = split_target(step.target)
        verb = step.action.split(".", 1)[1]
        if verb in ("drain", "maint", "ready"):
            self.driver.set_admin(service, server, verb)
        elif verb == "admin":
            self.driver.set_admin(service, server, step.after["admin"])
        elif verb == "weight":
            self.driver.set_weight(service, server, int(step.after["weight"]))
        elif verb == "ramp":
            self._ramp(service, server, int(step.before["weight"]), int(step.after["weight"]),
                       float(step.params.get("seconds", 0)))
        else:
            raise BalancerError(f"{step.action} is not an action that changes anything")

    def restore(self, step: Step, before: State) -> None:
        service, server = split_target(step.target)
        if "admin" in before:
            self.driver.set_admin(service, server, before["admin"])
        elif "weight" in before:
            self.driver.set_weight(service, server, int(before["weight"]))
        else:
            raise BalancerError(f"{step.action}: nothing to restore from {before}")

    def _ramp(self, service: str, server: str, start: int, end: int, seconds: float) -> None:
        """Raise the weight in even steps so a returning server is not flooded (the seed's storm)."""
        for n in range(1, RAMP_STEPS + 1):
            time.sleep(seconds / RAMP_STEPS)
            self.driver.set_weight(service, server, start + (end - start) * n // RAMP_STEPS)


def _compared(state: State) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k != "observed"}
