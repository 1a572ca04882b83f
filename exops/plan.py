"""Plans: what a fix will change, as data that can be shown, saved, compared and applied.

A step is one of three modes:
- `set`: a target moves from the state it had when the plan was made (`before`, at once the
  precondition, the undo data and what the journal keeps) to `after`; undone by restoring `before`.
- `act`: an action whose effect is read back as `after` (drain a server, restart a service); its
  undo is another action, the `compensate` step (enable the server), or nothing (a restart).
- `wait`: poll the target until it reads as `after` (sessions reach 0, event 3047 is logged),
  every `interval` seconds up to `timeout`; it changes nothing.
A step runs on the executor named by its action's kind and its `endpoint` (`ldap`,
`winrm:L12EX1`, `lb:vlm1`), so two servers or balancers of one kind never collide.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from exops.errors import ExopsError

PLAN_VERSION = 2          # 2: steps gained mode, endpoint, compensate, wait; plans record resolves
MODES = ("set", "act", "wait")
MAX_PLAN_BYTES = 64 * 1024 * 1024

# A target's state: {"exists": bool, "attributes": {name: [values...]}} for directory objects;
# each executor defines its own shape and how two states compare (`Executor.same`).
State = dict[str, Any]


class PlanError(ExopsError, ValueError):
    """A plan that cannot be read, does not fit this exops, or cannot run here."""


class PlanStale(PlanError):
    """A target changed since the plan was made: re-plan before applying."""


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    action: str          # "<kind>.<verb>": "ldap.add", "ldap.modify", "winrm.restart", "lb.drain"
    target: str          # the object changed (a DN, a service, a balancer member)
    before: State
    after: State
    preview: str         # what a person reads: LDIF, the PowerShell, the balancer call
    why: str = ""
    params: dict[str, Any] = field(default_factory=dict)   # action details kept out of states
    endpoint: str = ""   # which directory, server or balancer: "" when the kind has one
    mode: str = "set"
    compensate: dict[str, Any] | None = None   # act mode: the step (as data) that undoes it
    interval: float = 0.0                      # wait mode: seconds between polls
    timeout: float = 0.0                       # wait mode: give up after this many seconds

    @property
    def kind(self) -> str:
        return self.action.split(".", 1)[0]

    @property
    def executor(self) -> str:
        """The key of the executor that runs this step: kind, and instance when there are many."""
        return f"{self.kind}:{self.endpoint}" if self.endpoint else self.kind

    def compensating_step(self) -> Step | None:
        return step_from_data(self.compensate, f"step {self.id}: compensate") if self.compensate else None


_STEP_TYPES = {"id": str, "title": str, "action": str, "target": str, "before": dict, "after": dict,
               "preview": str, "why": str, "params": dict, "endpoint": str, "mode": str,
               "compensate": (dict, type(None)), "interval": (int, float), "timeout": (int, float)}


def step_from_data(raw: Any, where: str) -> Step:
    """A step from plan or journal data, every field checked, so a hand-edited file cannot
    smuggle in a wrong type that surfaces as a traceback in the middle of a change."""
    if not isinstance(raw, dict):
        raise PlanError(f"{where}: a step must be an object")
    unknown = set(raw) - set(_STEP_TYPES)
    missing = {f.name for f in fields(Step) if f.default is MISSING and f.default_factory is MISSING} - set(raw)
    if unknown or missing:
        raise PlanError(f"{where}: " + "; ".join(
            ([f"unknown field(s) {', '.join(sorted(unknown))}"] if unknown else [])
            + ([f"missing field(s) {', '.join(sorted(missing))}"] if missing else [])))
    for name, value in raw.items():
        expected = _STEP_TYPES[name]
        if not isinstance(value, expected) or isinstance(value, bool) and name in ("interval", "timeout"):
            raise PlanError(f"{where}: field {name!r} has the wrong type ({type(value).__name__})")
    if "." not in raw["action"]:
        raise PlanError(f"{where}: action {raw['action']!r} is not <kind>.<verb>")
    if raw.get("mode", "set") not in MODES:
        raise PlanError(f"{where}: mode {raw['mode']!r} is not one of {', '.join(MODES)}")
    if raw.get("mode") == "wait" and not 0 < raw.get("timeout", 0) <= 86_400:
        raise PlanError(f"{where}: a wait step needs a timeout between 0 and 86400 seconds")
    return Step(**raw)



@dataclass(frozen=True)
class Plan:
    fix: str
    params: dict[str, Any]
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    resolves: tuple[str, ...] = ()   # the findings it answers, as "CHECK-ID target"

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
        """Version 1 plans (before modes and endpoints) read as version 2 with the defaults."""
        try:
            raw = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise PlanError(f"{where}: not a readable exops plan ({str(exc)[:120]})") from None
        if not isinstance(raw, dict) or raw.get("plan_version") not in (1, PLAN_VERSION) \
                or isinstance(raw.get("plan_version"), bool):
            raise PlanError(f"{where}: not an exops plan (plan_version 1 or {PLAN_VERSION} expected)")
        raw.pop("plan_version")
        expected = {"fix": str, "params": dict, "steps": list, "notes": list, "created": str, "resolves": list}
        unknown = set(raw) - set(expected)
        if unknown or not {"fix", "params", "steps"} <= set(raw):
            raise PlanError(f"{where}: not an exops plan (needs fix, params and steps"
                            + (f"; unknown {', '.join(sorted(unknown))})" if unknown else ")"))
        for name, kind in expected.items():
            if name in raw and not isinstance(raw[name], kind):
                raise PlanError(f"{where}: {name!r} must be a {kind.__name__}")
        if not all(isinstance(n, str) for n in (*raw.get("notes", ()), *raw.get("resolves", ()))):
            raise PlanError(f"{where}: notes and resolves must be lists of text")
        steps = tuple(step_from_data(s, f"{where}: step {i}") for i, s in enumerate(raw["steps"], 1))
        return cls(fix=raw["fix"], params=raw["params"], steps=steps, notes=tuple(raw.get("notes", ())),
                   created=raw.get("created", ""), resolves=tuple(raw.get("resolves", ())))

    @classmethod
    def load(cls, path: str | Path) -> Plan:
        try:
            with open(path, "rb") as file:
                data = file.read(MAX_PLAN_BYTES + 1)
        except OSError as exc:
            raise PlanError(f"{path}: cannot read the plan: {exc.strerror}") from None
        if len(data) > MAX_PLAN_BYTES:
            raise PlanError(f"{path}: larger than any plan exops writes ({MAX_PLAN_BYTES // 2**20} MiB)")
        return cls.from_json(data.decode("utf-8", "replace"), str(path))

    def describe(self) -> str:
        """The plan as a person reads it before saying yes."""
        if self.noop:
            lines = [f"fix {self.fix}: nothing to change."]
        else:
            lines = [f"fix {self.fix}: {len(self.steps)} step(s) (plan basis {self.basis})"]
        lines += [f"  resolves: {r}" for r in self.resolves]
        lines += [f"  note: {n}" for n in self.notes]
        for number, step in enumerate(self.steps, 1):
            where = f" [{step.executor}]" if step.endpoint else ""
            lines.append(f"\n{number}. {step.title}{where}")
            if step.why:
                lines.append(f"   why: {step.why}")
            lines += ["   " + line for line in step.preview.splitlines()]
            if step.mode == "wait":
                lines.append(f"   (waits up to {step.timeout:g} s, checking every {step.interval:g} s)")
            elif step.mode == "act":
                undo = step.compensating_step()
                lines.append(f"   undone by: {undo.title}" if undo else "   cannot be undone")
        return "\n".join(lines)
