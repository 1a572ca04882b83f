"""Suggested fix commands that work where the report is read, and are safe to paste.

A check names its fixes without knowing where its facts came from; the report does know: a
bundle's report suggests `exops fix ... --bundle B --dry-run` (a bundle plans, never applies),
a live run's `exops --config C fix ... --dry-run`. Every word is quoted for a POSIX shell: the
values are DNs from customer evidence, which may hold `$(...)`.
"""
from __future__ import annotations

import shlex
from dataclasses import replace

from typing import TYPE_CHECKING

from exops.facts.store import Facts
from exops.model import Report

if TYPE_CHECKING:
    from exops.workbench import Suggestion


def context_words(*, bundle: str | None = None, config_path: str | None = None,
                  dry_run: bool = True) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(words after `exops`, words after the fix's options) for the report's own context. A
    bundle's plan is always a dry run; a live one is when `dry_run` (a report suggests looking
    first; the TUI's fix screen, which has shown the plan, gives the command itself)."""
    if bundle:
        return (), ("--bundle", bundle, "--dry-run")
    before = ("--config", config_path) if config_path else ()
    return before, ("--dry-run",) if dry_run else ()


def in_words(suggestion: Suggestion, before: tuple[str, ...], after: tuple[str, ...]) -> str:
    """The suggestion's command line with the context's words, every one quoted."""
    return " ".join(filter(None, (suggestion.command(shlex.join(before)), shlex.join(after))))


def in_context(report: Report, facts: Facts, before: tuple[str, ...], after: tuple[str, ...]) -> Report:
    """The report with each finding's fixes made from the registered fixes' suggestions."""
    from exops.workbench import suggestions
    findings = []
    for finding in report.findings:
        commands = tuple(in_words(s, before, after) for s in suggestions(finding, facts))
        findings.append(replace(finding, fixes=commands) if commands else finding)
    return replace(report, findings=tuple(findings))
