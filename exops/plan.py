"""Plans: what a fix will change, as data that can be shown, saved, compared and applied.

Every step records the state it expects to find (`before`, read when the plan was made) and
the state it will leave (`after`). `before` is at once the precondition (apply refuses a plan
whose targets changed since: stale), the undo data and what the journal keeps.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

PLAN_VERSION = 1

# A target's state: {"exists": bool, "attributes": {name: [values...]}}, attributes limited
# to the ones the step touches, values sorted so states compare as data.
State = dict[str, Any]


class PlanError(ValueError):
    """A plan that cannot be read or does not fit this exops."""


class PlanStale(PlanError):
    """The directory (or server) changed since the plan was made: re-plan before applying."""


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    action: str          # executor: "ldap.add", "ldap.modify", ...
    target: str          # the object changed (a DN, a balancer member)
    before: State
    after: State
    preview: str         # what a person reads: LDIF for directory steps
    why: str = ""
    params: dict[str, Any] = field(default_factory=dict)   # action details kept out of states


def same_state(a: State | None, b: State | None) -> bool:
    """States compare as AD compares these values: case-insensitively, in any order."""
    def norm(state: State | None):
        if state is None:
            return None
        attrs = {k.lower(): sorted(str(v).casefold() for v in vs)
                 for k, vs in state.get("attributes", {}).items() if vs}
        return bool(state.get("exists")), attrs
    return norm(a) == norm(b)


@dataclass(frozen=True)
class Plan:
    fix: str
    params: dict[str, Any]
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @property
    def noop(self) -> bool:
        return not self.steps

    @property
    def basis(self) -> str:
        """A digest of the states the plan was made from; shown so two plans can be compared."""
        states = [(s.target, s.before) for s in self.steps]
        return hashlib.sha256(json.dumps(states, sort_keys=True).encode()).hexdigest()[:16]

    def to_json(self) -> str:
        return json.dumps({"plan_version": PLAN_VERSION, **asdict(self)}, indent=2)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json())

    @classmethod
    def from_json(cls, text: str, where: str = "plan") -> Plan:
        try:
            raw = json.loads(text)
            if raw.pop("plan_version", None) != PLAN_VERSION:
                raise PlanError(f"{where}: not an exops plan (plan_version {PLAN_VERSION} expected)")
            raw["steps"] = tuple(Step(**s) for s in raw["steps"])
            raw["notes"] = tuple(raw.get("notes", ()))
            return cls(**raw)
        except (json.JSONDecodeError, TypeError, KeyError, AttributeError) as exc:
            raise PlanError(f"{where}: not a readable exops plan ({exc})") from None

    @classmethod
    def load(cls, path: str | Path) -> Plan:
        try:
            return cls.from_json(Path(path).read_text(), str(path))
        except OSError as exc:
            raise PlanError(f"{path}: cannot read the plan: {exc.strerror}") from None

    def describe(self) -> str:
        """The plan as a person reads it before saying yes."""
        if self.noop:
            lines = [f"fix {self.fix}: nothing to change."]
        else:
            lines = [f"fix {self.fix}: {len(self.steps)} step(s) (plan basis {self.basis})"]
        lines += [f"  note: {n}" for n in self.notes]
        for number, step in enumerate(self.steps, 1):
            lines.append(f"\n{number}. {step.title}")
            if step.why:
                lines.append(f"   why: {step.why}")
            lines += ["   " + line for line in step.preview.splitlines()]
        return "\n".join(lines)
