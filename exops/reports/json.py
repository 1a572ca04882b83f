"""The JSON report: the source of truth that scripts, CI and the other formats agree with.

`schema_version` changes only when a field is renamed or removed; new fields are added freely,
so a reader checks the version and ignores what it does not know.
"""
from __future__ import annotations

import io
import json
from typing import IO, Any

import exops
from exops.facts.events import EventFacts
from exops.facts.serde import to_data
from exops.model import Report
from exops.reports.layout import check_result, ordered
from exops.terminal import json_safe

SCHEMA_VERSION = 1


def to_document(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data (datetimes as ISO 8601)."""
    worst = report.worst
    return to_data({
        "schema_version": SCHEMA_VERSION,
        "tool": "exops",
        "version": exops.__version__,
        "generated": report.generated,
        "source": report.source,
        "status": worst.value,
        "exit_code": worst.exit_code,
        "counts": report.counts(),
        "checks": [{"id": c.id, "title": c.title, "area": c.area, "status": c.status,
                    "reason": c.reason, "result": check_result(report, c)} for c in report.checks],
        "findings": [f.to_dict() for f in ordered(report.findings)],
        "notes": list(report.notes),
        **_event_sections(report.events),
    })


def _event_sections(events: EventFacts | None) -> dict[str, list]:
    if events is None:
        return {"logs": [], "events": []}
    logs = [{"path": s.path, "backend": s.backend, "records_read": s.records_read,
             "records_skipped": s.records_skipped, "skipped": s.skipped, "notes": s.notes}
            for s in events.scans]
    groups = [{"event_id": g.event_id, "provider": g.provider, "dn": g.dn, "computer": g.computer,
               "count": g.count, "first_seen": g.first_seen, "last_seen": g.last_seen,
               "error_codes": g.error_codes, "per_day": g.per_day}
              for g in events.groups]
    return {"logs": logs, "events": groups}


def render(report: Report) -> str:
    out = io.StringIO()
    write(report, out)
    return out.getvalue()


def write(report: Report, out: IO[str]) -> None:
    """The document; with `report.affected`, every affected recipient under
    `affected_recipients.recipients`, written one by one as they stream (100,000 fit in flat
    memory)."""
    doc = to_document(report)
    safe = _Safe(out)
    # Evidence data is free-form: a value JSON has no type for is written as its text.
    if report.affected is None:
        safe.write(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")
        return
    doc["affected_recipients"] = {"total": report.affected.total, "source": report.affected.origin,
                                  "prefixes": sorted(report.affected.prefixes.values()), "recipients": []}
    head, tail = json.dumps(doc, indent=2, ensure_ascii=False, default=str).rsplit('"recipients": []', 1)
    safe.write(head + '"recipients": [')
    for i, r in enumerate(report.affected):
        safe.write(("," if i else "") + "\n      " + json.dumps(
            {"dn": r.dn, "display_name": r.display_name, "mail": r.mail, "legacy_exchange_dn": r.legacy_dn,
             "home": r.home, "kind": r.kind}, ensure_ascii=False))
    safe.write("\n    ]" + tail + "\n")


class _Safe:
    """Writes through `json_safe`: control, direction and surrogate characters as escapes."""

    def __init__(self, out: IO[str]):
        self.out = out

    def write(self, text: str) -> None:
        self.out.write(json_safe(text))


def load(text: str) -> dict[str, Any]:
    """Parse a JSON report; ValueError names what is wrong (not JSON, not a report, version)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not a JSON report: {exc}") from None
    if not isinstance(doc, dict) or "schema_version" not in doc:
        raise ValueError("not an exops JSON report: it has no schema_version")
    version = doc["schema_version"]
    if version != SCHEMA_VERSION:
        raise ValueError(f"exops JSON report schema_version {version!r} is not supported: this "
                         f"exops {exops.__version__} reads schema_version {SCHEMA_VERSION} "
                         "(re-run the check with this version, or upgrade exops)")
    return doc
