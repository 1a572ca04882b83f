"""The worst findings, one line each, on the overview: what is broken, where, and how much,
before the user opens anything (the orphaned AG and its mailbox count on the first screen)."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from exops.dn import fold
from exops.model import Finding, Report, Severity
from exops.reports.layout import ordered
from exops.tui.widgets.severity import severity_style, theme_colour

SHOWN = 3


def symptom(finding: Finding) -> bool:
    """Proven by events alone: what the logs show happening, not the state that causes it."""
    return bool(finding.evidence) and all(e.kind == "event" for e in finding.evidence)


def by_target(findings: list[Finding]) -> list[list[Finding]]:
    """Warning-or-worse findings grouped by target (case-insensitively), worst group first; in a
    group the causes (directory state) come before the symptoms (events)."""
    groups: dict[str, list[Finding]] = {}
    for finding in ordered(findings):
        if finding.severity.rank >= Severity.WARNING.rank:
            groups.setdefault(fold(finding.target), []).append(finding)
    return [sorted(g, key=lambda f: (-f.severity.rank, symptom(f))) for g in groups.values()]


class WorstFindings(Static):
    """One line per target with findings of warning or worse (up to three): the worst severity,
    the target, and what its findings say, cause first, cut to the width."""

    def show(self, report: Report | None) -> None:
        muted = theme_colour(self.app, "text-muted")
        if report is None:
            self.update(Text("–", style=muted))   # not checked (yet), as the severity tiles say
            return
        worst = by_target(list(report.findings))
        if not worst:
            ok = sum(c.status == "ran" for c in report.checks)
            self.update(Text(f"Nothing to fix: {ok} checks ran, none found a problem.", style=muted))
            return
        lines = []
        for group in worst[:SHOWN]:
            top = group[0]
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(f"{top.severity.value:<8} ", style=severity_style(self.app, top.severity))
            line.append(top.target, style="bold")
            line.append("  " + " · ".join(f.summary for f in group))
            lines.append(line)
        if len(worst) > SHOWN:
            lines.append(Text(f"… {len(worst) - SHOWN} more on the Findings screen (f)", style=muted))
        shown = Text("\n").join(lines)
        shown.no_wrap, shown.overflow = True, "ellipsis"
        self.update(shown)
