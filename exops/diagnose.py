"""Runs checks over facts: concurrently, with progress events, never letting one check sink the run.

Checks are pure, so running them in threads is safe; a check that raises becomes an `unknown`
finding naming the check, so the run still reports everything else.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from exops.facts.directory import DirectoryFacts
from exops.facts.events import EventFacts
from exops.facts.store import Facts
from exops.model import CheckRun, Finding, Report, Severity
from exops.registry import CheckSpec, load_checks
from exops.errors import ExopsError


class UnknownCheck(ExopsError, ValueError):
    pass


@dataclass(frozen=True)
class CheckProgress:
    """Posted as each check starts and ends, for progress bars and the TUI's live status."""

    check: CheckSpec
    state: str          # "running" | "done" | "skipped" | "error"
    done: int
    total: int
    findings: tuple[Finding, ...] = ()


def select_checks(only: Iterable[str] = (), area: str | None = None) -> list[CheckSpec]:
    checks = load_checks()
    wanted = [c.upper() for c in only]
    unknown = [c for c in wanted if c not in checks]
    if unknown:
        raise UnknownCheck(f"unknown check ID {', '.join(unknown)}; known: {', '.join(sorted(checks))}")
    return [spec for cid, spec in sorted(checks.items())
            if (not wanted or cid in wanted) and (area is None or spec.area == area)]


def run_checks(facts: Facts, source: str, checks: list[CheckSpec] | None = None,
               progress: Callable[[CheckProgress], None] | None = None,
               workers: int = 4) -> Report:
    checks = select_checks() if checks is None else checks
    notify = progress or (lambda _event: None)
    runs: dict[str, CheckRun] = {}
    findings: dict[str, tuple[Finding, ...]] = {}
    runnable = []
    for spec in checks:
        missing = [t for t in spec.needs if facts.get(t) is None]
        if missing:
            runs[spec.id] = CheckRun(spec.id, spec.title, spec.area, "skipped",
                                     "not run: " + "; ".join(facts.why_missing(t) for t in missing))
            findings[spec.id] = _unavailable(spec, facts, missing)
            notify(CheckProgress(spec, "skipped", len(runs), len(checks), findings[spec.id]))
        else:
            runnable.append(spec)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {}
        for spec in runnable:
            notify(CheckProgress(spec, "running", len(runs), len(checks)))
            futures[pool.submit(_run_one, spec, facts)] = spec
        for future in as_completed(futures):
            spec = futures[future]
            run, found = future.result()
            runs[spec.id], findings[spec.id] = run, found + _unavailable(spec, facts, spec.needs)
            notify(CheckProgress(spec, "done" if run.status == "ran" else "error",
                                 len(runs), len(checks), found))
    ordered = [runs[spec.id] for spec in checks]
    every = tuple(f for spec in checks for f in findings.get(spec.id, ()))
    directory = facts.get(DirectoryFacts)
    return Report(source=source, generated=datetime.now(timezone.utc), findings=every,
                  checks=tuple(ordered), events=facts.get(EventFacts),
                  notes=directory.notes if directory else ())


def _unavailable(spec: CheckSpec, facts: Facts, needs) -> tuple[Finding, ...]:
    """UNKNOWN for a check whose evidence a source should have delivered and could not (a server
    down, a log unreadable): "not collected" is silent, "could not be read" never is."""
    reasons = [facts.unavailable[t] for t in needs if t in facts.unavailable]
    if not reasons:
        return ()
    partial = all(facts.get(t) is not None for t in needs)
    summary = ("checked on partial evidence: " if partial else "could not be checked: ") + "; ".join(reasons)
    return (Finding(check_id=spec.id, severity=Severity.UNKNOWN, target=spec.area, summary=summary,
                    title=spec.title, area=spec.area, docs=spec.docs),)


def _run_one(spec: CheckSpec, facts: Facts) -> tuple[CheckRun, tuple[Finding, ...]]:
    args = [facts.get(t) for t in spec.needs] + [facts.get(t) for t in spec.uses]
    try:
        found = tuple(replace(f, title=f.title or spec.title, area=f.area or spec.area,
                              docs=f.docs or spec.docs) for f in spec.func(*args))
    except Exception as exc:  # a faulty check, built-in or plugin, must not hide the others
        error = Finding(check_id=spec.id, severity=Severity.UNKNOWN, target=spec.origin,
                        summary=f"check {spec.id} failed: {type(exc).__name__}: {exc}",
                        title=spec.title, area=spec.area, docs=spec.docs)
        return CheckRun(spec.id, spec.title, spec.area, "error", str(exc)), (error,)
    return CheckRun(spec.id, spec.title, spec.area, "ran"), found
