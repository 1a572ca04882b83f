"""CSV: one row per finding, for spreadsheets and ticket imports."""
from __future__ import annotations

import csv
import io

from exops.model import Report
from exops.reports.layout import ordered

HEADER = ("severity", "id", "target", "summary", "detail", "fixes", "evidence_count")


def render(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for f in ordered(report.findings):
        writer.writerow((f.severity.value, f.check_id, f.target, f.summary, f.detail,
                         "; ".join(f.fixes), len(f.evidence)))
    return out.getvalue()
