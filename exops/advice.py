"""Suggested fix commands that work where the report is read, and are safe to paste.

A check names its fixes without knowing where its facts came from; the report does know: a
bundle's report suggests `exops fix ... --bundle B --dry-run` (a bundle plans, never applies),
a live run's `exops --config C fix ... --dry-run`. Every word is quoted for a POSIX shell: the
values are DNs from customer evidence, which may hold `$(...)`.
"""
from __future__ import annotations

import shlex
from dataclasses import replace

from exops.facts.store import Facts
from exops.model import Report


def context_words(*, bundle: str | None = None,
                  config_path: str | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(words after `exops`, words after the fix's options) for the report's own context."""
    if bundle:
        return (), ("--bundle", bundle, "--dry-run")
    before = ("--config", config_path) if config_path else ()
    return before, ("--dry-run",)


def in_context(report: Report, facts: Facts, before: tuple[str, ...], after: tuple[str, ...]) -> Report:
    """The report with each finding's fixes made from the registered fixes' suggestions."""
    from exops.workbench import suggestions
    findings = []
    for finding in report.findings:
        commands = tuple(s.command(shlex.join(before)) + " " + shlex.join(after)
                         for s in suggestions(finding, facts))
        findings.append(replace(finding, fixes=commands) if commands else finding)
    return replace(report, findings=tuple(findings))
