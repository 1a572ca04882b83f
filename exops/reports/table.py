"""The terminal view: counts, a findings table, then the proof and fixes for what is broken."""
from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

from exops.model import Report, Severity
from exops.reports.layout import count_line, evidence_line, ordered
from exops.terminal import printable, text

STYLES = {Severity.CRITICAL: "bold red", Severity.WARNING: "yellow", Severity.INFO: "blue",
          Severity.OK: "green", Severity.UNKNOWN: "dim"}
TOP_EVIDENCE = 3
UNWRAPPED = 10_000  # plain text goes to files and pipes: one finding per line greps better


def _summary(report: Report) -> Text:
    worst = report.worst
    line = Text("exops: ")
    line.append(worst.value.upper(), STYLES[worst])
    line.append(f" — {count_line(report)}")
    if report.checks:
        ran = {status: sum(c.status == status for c in report.checks)
               for status in ("ran", "skipped", "error")}
        line.append(f" · {len(report.checks)} checks ({ran['ran']} ran, {ran['skipped']} "
                    f"skipped, {ran['error']} error)")
    line.append(f" · {printable(report.source, one_line=True)}")
    return line


def _table(report: Report) -> Table:
    table = Table("Severity", "ID", "Target", "Summary", header_style="bold")
    for f in ordered(report.findings):
        style = STYLES[f.severity]
        table.add_row(Text(f.severity.value, style), text(f.check_id, style, one_line=True),
                      text(f.target, one_line=True), text(f.summary, one_line=True))
    return table


def print_table(report: Report, console: Console) -> None:
    console.print(_summary(report))
    if report.findings:
        console.print(_table(report))
    for run in report.checks:
        if run.status != "ran":
            console.print(text(f"{run.id} {run.status}: {run.reason}", "dim", one_line=True))
    for note in report.notes:
        console.print(text(f"note: {note}", "dim"))
    unknown = [f for f in ordered(report.findings) if f.severity is Severity.UNKNOWN and f.detail]
    for detail in dict.fromkeys(f.detail for f in unknown):   # checks that lack the same part share one
        ids = ", ".join(f.check_id for f in unknown if f.detail == detail)
        console.print()
        console.print(Text.assemble((f"{ids}: ", "bold"), text(detail)))
    for f in ordered(report.findings):
        if f.severity not in (Severity.CRITICAL, Severity.WARNING):
            continue
        console.print()
        console.print(Text.assemble((f"{printable(f.check_id, one_line=True)} ", STYLES[f.severity]),
                                    (printable(f.target, one_line=True), "bold")))
        for ev in f.evidence[:TOP_EVIDENCE]:
            console.print(text(f"  {evidence_line(ev)}", one_line=True))
        if len(f.evidence) > TOP_EVIDENCE:
            console.print(Text(f"  … {len(f.evidence) - TOP_EVIDENCE} more", "dim"))
        for fix in f.fixes:
            console.print(Text.assemble(("  fix: ", "bold"), printable(fix, one_line=True)))


def render(report: Report) -> str:
    out = io.StringIO()
    print_table(report, Console(file=out, width=UNWRAPPED, color_system=None, highlight=False,
                                emoji=False))
    return out.getvalue()
