"""Which findings the table shows and in what order: text, severities and sort key.

Kept apart from the screen so the rule "text matches ID, target or summary" lives in one place
and is testable without a terminal.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from textual.content import Content
from textual.widgets import Static

from exops.dn import fold
from exops.model import Finding, Severity
from exops.tui.widgets.severity import variable

SEVERITY_KEYS = {"1": Severity.CRITICAL, "2": Severity.WARNING, "3": Severity.INFO,
                 "4": Severity.OK, "5": Severity.UNKNOWN}
SORTS = ("severity", "id", "target", "summary")
SORT_KEYS = {
    "severity": lambda f: (-f.severity.rank, f.check_id, fold(f.target)),
    "id": lambda f: (f.check_id, -f.severity.rank, fold(f.target)),
    "target": lambda f: (fold(f.target), -f.severity.rank, f.check_id),
    "summary": lambda f: (fold(f.summary), -f.severity.rank, f.check_id),
}


@dataclass(frozen=True)
class FindingFilter:
    text: str = ""
    hidden: frozenset[Severity] = field(default_factory=frozenset)
    sort: str = "severity"

    @property
    def active(self) -> bool:
        return bool(self.text.strip() or self.hidden)

    def matches(self, finding: Finding) -> bool:
        """Every term in the ID, target, summary or evidence (so a user's name or DN finds the
        finding that lists them)."""
        if finding.severity in self.hidden:
            return False
        haystack = fold(" ".join([finding.check_id, finding.target, finding.summary,
                                  *(f"{e.title} {e.data.get('dn') or ''}" for e in finding.evidence)]))
        return all(term in haystack for term in fold(self.text).split())

    def apply(self, findings: tuple[Finding, ...]) -> list[Finding]:
        return sorted((f for f in findings if self.matches(f)), key=SORT_KEYS[self.sort])

    def toggled(self, severity: Severity) -> FindingFilter:
        return replace(self, hidden=self.hidden ^ {severity})

    def next_sort(self) -> FindingFilter:
        return replace(self, sort=SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)])


class SeverityChips(Static):
    """`[1] critical: 2  [2] warning: 0 ...`: the key that toggles each severity as a key cap,
    apart from its count, so neither is read as the other."""

    def show(self, counts: dict[str, int], hidden: frozenset[Severity]) -> None:
        parts = []
        for key, severity in SEVERITY_KEYS.items():
            count = counts.get(severity.value, 0)
            if severity is Severity.UNKNOWN and not count:
                continue
            style = ("$text-muted strike" if severity in hidden
                     else f"${variable(severity)}" + (" bold" if count else ""))
            parts.append(Content.assemble((f"[{key}]", "$text-muted"), " ", (f"{severity.value}: {count}", style)))
        self.update(Content("  ").join(parts))
