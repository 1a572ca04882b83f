"""What every report format shows, in the same order and the same words: the findings worst
first, the count line, evidence values as text and the columns of an event."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from exops.model import CheckRun, Evidence, Finding, Report, Severity


def ordered(findings: tuple[Finding, ...] | list[Finding]) -> list[Finding]:
    """Worst first, then by check ID and target: the one order every format shows."""
    return sorted(findings, key=lambda f: (-f.severity.rank, f.check_id, f.target))


def check_result(report: Report, run: CheckRun) -> str:
    """What one check concluded, for the checks tables: `2 critical`, `ok`, `skipped`."""
    if run.status != "ran":
        return run.status
    counts: dict[Severity, int] = {}
    for f in report.findings:
        if f.check_id == run.id:
            counts[f.severity] = counts.get(f.severity, 0) + 1
    if not counts:
        return "nothing found"
    if set(counts) == {Severity.OK}:
        return "ok"
    return ", ".join(f"{counts[s]} {s.value}" for s in sorted(counts, key=lambda s: -s.rank)
                     if s is not Severity.OK)


def count_line(report: Report, sep: str = ", ") -> str:
    """The non-zero counts, worst severity first: `1 critical, 2 warning`."""
    counts = report.counts()
    parts = [f"{counts[s.value]} {s.value}" for s in sorted(Severity, key=lambda s: -s.rank)
             if counts[s.value]]
    return sep.join(parts) or "no findings"


def shown(value: Any) -> str:
    """A value from evidence data as one piece of text."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (list, tuple)):
        return ", ".join(shown(v) for v in value)
    return str(value)


EVENT_COLUMNS = ("Time", "Computer", "Event ID", "DN", "Excerpt")


def event_row(ev: Evidence) -> tuple:
    """An event evidence's cells under `EVENT_COLUMNS`."""
    return tuple(ev.data.get(k) for k in ("time", "computer", "event_id", "dn", "excerpt"))


def evidence_line(ev: Evidence) -> str:
    """One line of proof, for views that have no room for the evidence's full layout.

    Evidence data keys by kind: event (time, computer, event_id, dn, excerpt), directory
    (dn, attributes), text (text); other kinds show their title and keys.
    """
    d = ev.data
    if ev.kind == "event":
        time, computer, event_id, dn, excerpt = map(shown, event_row(ev))
        parts = [time, computer, f"event {event_id}", dn, excerpt]
    elif ev.kind == "directory":
        attrs = d.get("attributes") or {}
        parts = [shown(d.get("dn"))] + [f"{k}={shown(v)}" for k, v in attrs.items()]
    elif ev.kind == "text":
        lines = shown(d.get("text")).strip().splitlines()
        parts = [ev.title, lines[0] if lines else ""]
    else:
        parts = [ev.title] + [f"{k}={shown(v)}" for k, v in d.items()]
    return " · ".join(p for p in parts if p)
