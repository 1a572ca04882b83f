"""An executor over a JSON file of states: the engine's safety logic tested without a server.

States live in a file so a test can kill a child process mid-change (EXOPS_FAULT) and then undo
from the parent, exactly as after a real crash. `fail_on` and `lie_on` make a target's write fail
or read back wrong; `writes` records every write in order, so rollback order is observable.
"""
from __future__ import annotations

import json
from pathlib import Path

from exops.plan import State, Step

ABSENT: State = {"exists": False}


class MemoryExecutor:
    def __init__(self, path: Path, fail_on: str = "", lie_on: str = ""):
        self.path = Path(path)
        self.fail_on, self.lie_on = fail_on, lie_on
        self.writes: list[tuple[str, str]] = []
        if not self.path.exists():
            self.path.write_text("{}")

    def states(self) -> dict[str, State]:
        return json.loads(self.path.read_text())

    def put(self, target: str, state: State) -> None:
        states = self.states()
        states[target] = state
        self.path.write_text(json.dumps(states))

    def read(self, step: Step) -> State:
        return self.states().get(step.target, ABSENT)

    def apply(self, step: Step) -> None:
        if step.target == self.fail_on:
            raise RuntimeError(f"{step.target} refused the write")
        self.writes.append(("apply", step.target))
        self.put(step.target, {"exists": True, "lie": True} if step.target == self.lie_on else step.after)

    def restore(self, step: Step, before: State) -> None:
        self.writes.append(("restore", step.target))
        self.put(step.target, before)

    def same(self, a: State | None, b: State | None) -> bool:
        return a == b


def setting(target: str, before: State = ABSENT, after: State | None = None, **extra) -> Step:
    return Step(id=f"set-{target}", title=f"set {target}", action="mem.set", target=target,
                before=before, after=after or {"exists": True, "value": target}, preview=f"set {target}",
                **extra)
