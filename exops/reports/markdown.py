"""Markdown: a report to paste into a ticket, a wiki page or a pull request."""
from __future__ import annotations

import re

from exops.model import Evidence, Finding, Report
from exops.reports.layout import EVENT_COLUMNS, check_result, count_line, event_row, ordered, shown
from exops.terminal import printable

_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def text(value: object) -> str:
    """Literal text: control characters made visible, markdown punctuation (and pipes, which end
    table cells) escaped."""
    return _SPECIAL.sub(r"\\\1", printable(shown(value))).replace("\n", "<br>")


def code(value: str) -> str:
    """An inline code span that survives backticks and line breaks inside the value."""
    value = printable(value, one_line=True)
    fence = "`" * (max((len(run) for run in re.findall(r"`+", value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def table(header: tuple[str, ...], rows: list[tuple]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(text(cell) for cell in row) + " |" for row in rows]


def _evidence(evidence: tuple[Evidence, ...]) -> list[str]:
    events = [event_row(e) for e in evidence if e.kind == "event"]
    lines = ["**Evidence**", ""]
    if events:
        lines += table(EVENT_COLUMNS, events) + [""]
    for ev in evidence:
        if ev.kind == "directory":
            lines += [f"{text(ev.title)}: {text(ev.data.get('dn'))}", ""]
            lines += table(("Attribute", "Value"),
                           list((ev.data.get("attributes") or {}).items())) + [""]
        elif ev.kind == "text":
            body = printable(shown(ev.data.get("text"))).rstrip()
            fence = "~" * max(3, max((len(r) + 1 for r in re.findall(r"~+", body)), default=0))
            lines += [text(ev.title), "", fence, body, fence, ""]
        elif ev.kind != "event":
            lines += [text(ev.title), ""] + table(("Field", "Value"), list(ev.data.items())) + [""]
    return lines


def _section(f: Finding) -> list[str]:
    lines = [f"### {f.severity.value.upper()} {text(f.check_id)}: {text(f.target)}", "",
             text(f.summary), ""]
    if f.detail:
        lines += [text(f.detail), ""]
    if f.evidence:
        lines += _evidence(f.evidence)
    if f.fixes:
        lines += ["**Suggested fixes**", ""] + [f"- {code(fix)}" for fix in f.fixes] + [""]
    return lines


def render(report: Report) -> str:
    worst = report.worst
    lines = [f"# exops report: {text(report.source)}", "",
             f"Generated {report.generated.isoformat(sep=' ')} · status **{worst.value.upper()}** "
             f"(exit {worst.exit_code})", "",
             count_line(report, " · "), "", "## Findings", ""]
    findings = ordered(report.findings)
    lines += table(("Severity", "ID", "Target", "Summary"),
                   [(f.severity.value, f.check_id, f.target, f.summary) for f in findings])
    if report.checks:
        lines += ["", "## Checks", ""]
        lines += table(("ID", "Title", "Result", "Reason"),
                       [(c.id, c.title, check_result(report, c), c.reason) for c in report.checks])
    if report.notes:
        lines += ["", "## Notes", ""] + [f"- {text(note)}" for note in report.notes]
    lines += ["", "## Details", ""]
    for f in findings:
        lines += _section(f)
    return "\n".join(lines).rstrip() + "\n"
