"""CSV: one row per finding, for spreadsheets and ticket imports; and the affected-recipients
list, one row per recipient, written as it streams."""
from __future__ import annotations

import csv
import io
from typing import IO

from exops.model import Report
from exops.reports import ordered

HEADER = ("severity", "id", "target", "summary", "detail", "fixes", "evidence_count")


def render(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for f in ordered(report.findings):
        writer.writerow((f.severity.value, f.check_id, f.target, f.summary, f.detail,
                         "; ".join(f.fixes), len(f.evidence)))
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
