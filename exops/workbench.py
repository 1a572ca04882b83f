"""Fixes as a service for the front ends: suggest, plan, apply, verify, history, undo.

The CLI and the TUI both go through here, so a fix behaves the same whoever runs it; the front
ends only decide how to show the plan and how to ask for confirmation. Nothing here prompts or
prints, and nothing here knows a protocol: the Workbench iterates its sources for facts and
executors, whatever they are.
"""
from __future__ import annotations

import shlex
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from exops.config import Config
from exops.facts.store import Facts
from exops.journal import Change, Journal
from exops.model import Finding, Severity
from exops.plan import Plan, PlanError
from exops.registry import FixSpec, RegistryError, load_fixes
from exops.remediation import (ApplyResult, Executor, StepListener, apply_plan, check_runnable,
                               undo_change)
from exops.sources.source import Source, collect_from


@dataclass(frozen=True)
class Suggestion:
    """A fix that fits a finding, with the parameters it would be run with."""

    fix: FixSpec
    params: dict

    def command(self, context: str = "") -> str:
        """The command line, safe to paste: every value quoted for a POSIX shell."""
        options = {p.name: p for p in self.fix.params}
        words = ["exops", *shlex.split(context), "fix", self.fix.name]
        for name, value in self.params.items():
            if value is True:
                words.append(options[name].option)
            elif value not in (None, False, ""):
                words += [options[name].option, str(value)]
        return " ".join(shlex.quote(w) for w in words)


def fix_spec(name: str) -> FixSpec:
    fixes = load_fixes()
    if name not in fixes:
        raise RegistryError(f"no fix named {name!r}; known: {', '.join(sorted(fixes)) or 'none'}")
    return fixes[name]


def suggestions(finding: Finding, facts: Facts) -> list[Suggestion]:
    """The registered fixes that resolve this finding's check and can say how to run for it."""
    out = []
    for spec in load_fixes().values():
        if finding.check_id in spec.resolves and spec.suggest is not None:
            params = spec.suggest(finding, facts)
            if params is not None:
                out.append(Suggestion(spec, params))
    return out


def plan_fix(name: str, params: dict, facts: Facts, live: Sequence[Source] = ()) -> Plan:
    """The one way any front end plans a fix: parameters validated against its declaration,
    its facts present, and the findings it answers recorded in the plan."""
    spec = fix_spec(name)
    values = spec.validate(params)
    for fact_type in spec.needs:
        if fact_type not in facts:
            raise PlanError(f"fix {name} cannot be planned: {facts.why_missing(fact_type)}")
    if spec.live and not live:
        raise PlanError(f"fix {name} searches the live environment while it plans: run it with a "
                        "configuration (--config), not on evidence")
    plan = spec.func(facts, list(live), **values)
    return replace(plan, resolves=_resolved_findings(spec, values, facts))


def _resolved_findings(spec: FixSpec, params: dict, facts: Facts) -> tuple[str, ...]:
    """The findings of the checks it resolves for which the fix would suggest these parameters."""
    from exops.diagnose import run_checks, select_checks
    if spec.suggest is None:
        return ()
    checks = [c for c in select_checks() if c.id in spec.resolves]
    report = run_checks(facts, "plan", checks, workers=1)
    out = []
    for finding in report.findings:
        if finding.severity.rank < Severity.WARNING.rank or finding.severity is Severity.UNKNOWN:
            continue
        suggested = spec.suggest(finding, facts) or {}
        if suggested and all(_same_value(params.get(k), v) for k, v in suggested.items() if v is not None):
            out.append(f"{finding.check_id} {finding.target}")
    return tuple(out)


def _same_value(a: object, b: object) -> bool:
    return str(a).casefold() == str(b).casefold()


@dataclass(frozen=True)
class Verification:
    resolved: bool
    remaining: tuple[Finding, ...]


class Workbench:
    """One live environment: its configured sources (connected on first use) and its journal."""

    def __init__(self, sources: list[Source], journal: Journal, where: str = ""):
        self.sources = sources
        self.journal = journal
        self.where = where or ", ".join(s.name for s in sources)

    @classmethod
    def from_config(cls, config: Config) -> Workbench:
        from exops.collect import live_sources
        sources = live_sources(config)
        return cls(sources, Journal(config.journal))

    def close(self) -> None:
        for source in self.sources:
            source.close()
        self.journal.close()

    def __enter__(self) -> Workbench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def facts(self, *, cancel: threading.Event | None = None,
              progress: Callable[[str], None] | None = None) -> Facts:
        """Collect anew from every source; one that fails leaves its facts unavailable."""
        return collect_from(self.sources, cancel=cancel, progress=progress)

    def plan(self, fix_name: str, params: dict, facts: Facts | None = None) -> Plan:
        return plan_fix(fix_name, params, facts or self.facts(), self.sources)

    def executors(self) -> dict[str, Executor]:
        executors: dict[str, Executor] = {}
        for source in self.sources:
            for key, executor in source.executors().items():
                if key in executors:
                    raise PlanError(f"two configured sources both run {key!r} steps; give them "
                                    "distinct names in the configuration")
                executors[key] = executor
        return executors

    def apply(self, plan: Plan, progress: StepListener | None = None) -> ApplyResult:
        return apply_plan(plan, self.executors(), self.journal, progress=progress)

    def replan(self, saved: Plan) -> Plan:
        """A saved plan, made again from the live environment and compared step for step.

        What is shown and applied is then always what the fix produces for these parameters,
        never a plan file's own words: an edited file is refused, a stale one is refused as
        stale, and neither touches the journal.
        """
        fix_spec(saved.fix).validate(saved.params)
        check_runnable(saved, self.executors())   # raises PlanStale when a target moved on
        fresh = self.plan(saved.fix, saved.params)
        if _steps(fresh) == _steps(saved):
            return fresh
        if fresh.noop:
            return fresh                          # every target already reads as planned
        raise PlanError(f"this plan is not what fix {saved.fix} plans for its parameters "
                        f"{saved.params} (the file was edited, or made by another exops version, or "
                        "the environment changed): nothing was changed; make a new plan")

    def undo(self, change_id: int, progress: StepListener | None = None) -> Change:
        return undo_change(change_id, self.executors(), self.journal, progress=progress)

    def history(self, limit: int = 50) -> list[Change]:
        return self.journal.changes(limit)

    def verify(self, plan: Plan) -> Verification:
        """Collect again and re-run the checks the fix resolves: proof, not hope."""
        from exops.diagnose import run_checks, select_checks
        facts = self.facts()
        resolves = fix_spec(plan.fix).resolves
        report = run_checks(facts, self.where, [s for s in select_checks() if s.id in resolves])
        answered = {r.casefold() for r in plan.resolves}
        target = (plan.params.get("dn") or "").casefold()
        remaining = tuple(
            f for f in report.findings if f.severity.rank >= Severity.WARNING.rank and (
                f"{f.check_id} {f.target}".casefold() in answered
                or not answered and (not target or f.target.casefold() == target)))
        return Verification(resolved=not remaining, remaining=remaining)


def _steps(plan: Plan) -> list:
    """What a step does and says, in order: everything but the time it was planned."""
    return [(s.action, s.endpoint, s.mode, s.target.casefold(), s.before, s.after, s.params,
             s.compensate, s.title, s.preview, s.interval, s.timeout) for s in plan.steps]

