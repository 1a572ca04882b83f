"""Fixes as a service for the front ends: suggest, plan, apply, verify, history, undo.

The CLI and the TUI both go through `Workbench`, so a fix behaves the same whoever runs it; the
front ends only decide how to show the plan and how to ask for confirmation. Nothing here
prompts or prints.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from exops.config import Config
from exops.facts import Facts
from exops.journal import Change, Journal
from exops.model import Finding, Severity
from exops.plan import Plan
from exops.registry import FixSpec, load_fixes
from exops.remediate import ApplyResult, StepEvent, apply_plan, undo_change


@dataclass(frozen=True)
class Suggestion:
    """A fix that fits a finding, with the parameters it would be run with."""

    fix: FixSpec
    params: dict

    @property
    def command(self) -> str:
        flags = " ".join(f'--{k.replace("_", "-")} "{v}"' for k, v in self.params.items() if v)
        return f"exops fix {self.fix.name} {flags}"


def suggestions(finding: Finding, facts: Facts) -> list[Suggestion]:
    """The registered fixes that resolve this finding's check and can say how to run for it."""
    out = []
    for spec in load_fixes().values():
        if finding.check_id in spec.resolves and spec.suggest is not None:
            params = spec.suggest(finding, facts)
            if params is not None:
                out.append(Suggestion(spec, params))
    return out


@dataclass(frozen=True)
class Verification:
    resolved: bool
    remaining: tuple[Finding, ...]


class Workbench:
    """One live environment: its directory source (bound on first use) and its journal."""

    def __init__(self, config: Config):
        from exops.collect import open_directory
        self.config = config
        self.source = open_directory(config)
        self.journal = Journal(config.journal)

    def close(self) -> None:
        self.source.close()
        self.journal.close()

    def __enter__(self) -> Workbench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def facts(self, *, cancel=None, progress=None) -> Facts:
        """Collect the directory anew; `cancel()` and `progress(...)` are checked per page."""
        return Facts(directory=self.source.collect(cancel=cancel, progress=progress))

    def plan(self, fix_name: str, params: dict, facts: Facts | None = None) -> Plan:
        spec = load_fixes()[fix_name]
        return spec.func(facts or self.facts(), self.source, **params)

    def executors(self) -> dict:
        from exops.sources.directory_writer import LdapExecutor
        return {"ldap": LdapExecutor(self.source.connection)}

    def apply(self, plan: Plan, progress: Callable[[StepEvent], None] | None = None) -> ApplyResult:
        return apply_plan(plan, self.executors(), self.journal, progress=progress)

    def undo(self, change_id: int, progress: Callable[[StepEvent], None] | None = None) -> Change:
        return undo_change(change_id, self.executors(), self.journal, progress=progress)

    def history(self, limit: int = 50) -> list[Change]:
        return self.journal.changes(limit)

    def verify(self, plan: Plan) -> Verification:
        """Collect again and re-run the checks the fix resolves: proof, not hope."""
        from exops.engine import run_checks, select_checks
        facts = self.facts()
        resolves = load_fixes()[plan.fix].resolves
        specs = [s for s in select_checks() if s.id in resolves and all(facts.get(t) for t in s.needs)]
        report = run_checks(facts, self.config.directory.url, specs)
        target = (plan.params.get("dn") or "").casefold()
        remaining = tuple(f for f in report.findings if f.severity.rank >= Severity.WARNING.rank
                          and (not target or f.target.casefold() == target))
        return Verification(resolved=not remaining, remaining=remaining)
