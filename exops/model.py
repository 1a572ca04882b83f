"""The results every part of exops speaks: severities, evidence and findings.

Findings are plain data so that reports, the TUI and scripts (through the JSON report) all see
the same thing; nothing here does I/O.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from datetime import datetime
from typing import Any


class Severity(str, Enum):
    """Ordered from harmless to broken; `rank` drives sorting and the Nagios exit code."""

    OK = "ok"
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def exit_code(self) -> int:
        """Nagios plugin convention: 0 OK, 1 warning, 2 critical, 3 unknown."""
        return {Severity.WARNING: 1, Severity.CRITICAL: 2, Severity.UNKNOWN: 3}.get(self, 0)


_RANK = {Severity.OK: 0, Severity.INFO: 1, Severity.WARNING: 2, Severity.UNKNOWN: 3,
         Severity.CRITICAL: 4}


@dataclass(frozen=True)
class Evidence:
    """One piece of proof: an event excerpt, a directory entry, a command's output.

    `kind` is `event`, `directory` or `text` today (`powershell`, `loadbalancer` later);
    `data` holds the kind's fields so the TUI and the reports can lay them out:
    event: time, computer, event_id, provider, dn, excerpt (+ record_id, source, error_code,
    count, first_seen, last_seen); directory: dn, attributes {name: value or list}; text: text.
    """

    kind: str
    title: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """What one check concluded about one target."""

    check_id: str
    severity: Severity
    target: str
    summary: str
    detail: str = ""
    evidence: tuple[Evidence, ...] = ()
    fixes: tuple[str, ...] = ()
    title: str = ""
    area: str = ""
    docs: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON findings contract: `id`, `severity`, `target`, `summary`, `evidence`, `fixes`."""
        return {
            "id": self.check_id,
            "severity": self.severity.value,
            "target": self.target,
            "summary": self.summary,
            "detail": self.detail,
            "title": self.title,
            "area": self.area,
            "docs": self.docs,
            "evidence": [asdict(e) for e in self.evidence],
            "fixes": list(self.fixes),
        }


def worst(findings: list[Finding]) -> Severity:
    """The severity that decides the exit code of a run."""
    return max((f.severity for f in findings), key=lambda s: s.rank, default=Severity.OK)


@dataclass(frozen=True)
class CheckRun:
    """Whether a check ran: `ran`, `skipped` (its facts were not collected) or `error`."""

    id: str
    title: str
    area: str
    status: str
    reason: str = ""


@dataclass(frozen=True)
class Report:
    """One run of the checks: what every report format and the TUI render."""

    source: str
    generated: datetime
    findings: tuple[Finding, ...]
    checks: tuple[CheckRun, ...] = ()
    events: Any = None  # EventFacts when logs were read: per-day counts feed the timelines
    affected: Any = None  # AffectedRecipients: every affected recipient, streamed when written
    notes: tuple[str, ...] = ()   # what reading the evidence noticed (entries listed twice, ...)

    @property
    def worst(self) -> Severity:
        if not any(c.status == "ran" for c in self.checks) and self.checks:
            return Severity.UNKNOWN
        return worst(list(self.findings))

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Severity}
        for f in self.findings:
            out[f.severity.value] += 1
        return out
