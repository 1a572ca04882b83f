"""CSV: one row per finding, for spreadsheets and ticket imports; and the affected-recipients
list, one row per recipient, written as it streams.

Spreadsheets run a cell that starts with `=`, `+`, `-` or `@` (or a tab or CR before one) as a
formula, so evidence text such as a display name `=HYPERLINK(...)` is prefixed with `'`.
"""
from __future__ import annotations

import csv
import io
from typing import IO

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


AFFECTED_HEADER = ("dn", "display_name", "mail", "legacy_exchange_dn", "home", "kind")


def write_affected(affected, out: IO[str]) -> int:
    """Every affected recipient as a CSV row; returns how many were written."""
    writer = csv.writer(out)
    writer.writerow(AFFECTED_HEADER)
    count = 0
    for r in affected:
        writer.writerow((r.dn, r.display_name, r.mail, r.legacy_dn, r.home, r.kind))
        count += 1
    return count
