"""CSV: one row per finding, for spreadsheets and ticket imports.

Spreadsheets run a cell that starts with `=`, `+`, `-` or `@` (or a tab or CR before one) as a
formula, so evidence text such as a display name `=HYPERLINK(...)` is prefixed with `'`.
"""
from __future__ import annotations

import csv
import io

from exops.model import Report
from exops.reports.layout import ordered
from exops.terminal import printable

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """A text cell a spreadsheet shows as text: controls made visible, formulas defused."""
    raw = str(value)
    shown = printable(raw)
    return "'" + shown if raw.startswith(_FORMULA_START) else shown

HEADER = ("severity", "id", "target", "summary", "detail", "fixes", "evidence_count")


def render(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for f in ordered(report.findings):
        writer.writerow((f.severity.value, *map(cell, (f.check_id, f.target, f.summary, f.detail,
                                                        "; ".join(f.fixes))), len(f.evidence)))
    return out.getvalue()
