"""HTML: one self-contained file to mail to a customer or attach to a change record.

Nothing is fetched from the network (no external CSS, scripts or fonts), every piece of text
goes through `escape` (control characters made visible, then `html.escape`), and the charts are inline SVG so the file opens and prints anywhere.
"""
from __future__ import annotations

import html
from collections import Counter
from datetime import date, timedelta

import exops
from exops.dn import fold
from exops.facts.events import EventGroup
from exops.model import Evidence, Finding, Report, Severity
from exops.reports.layout import EVENT_COLUMNS, check_result, event_row, ordered, shown
from exops.terminal import printable

COLOURS = {"critical": "#c62828", "warning": "#d97706", "unknown": "#6b7280",
           "info": "#1d64c0", "ok": "#2e7d32"}
SERIES_COLOURS = ("#1d64c0", "#d97706", "#0f8b8d", "#7b3fa0", "#c2185b", "#5d4037")
CSS = """
:root{--ink:#1f2933;--muted:#5f6b7a;--line:#dde3ea;--bg:#f5f7fa}
*{box-sizing:border-box}body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
Helvetica,Arial,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#17202a;color:#fff;padding:20px 32px}header h1{margin:0 0 4px;font-size:22px}
header p{margin:0;color:#c9d2dc}main{max-width:1100px;margin:0 auto;padding:24px 32px}
h2{font-size:17px;margin:28px 0 10px}.cards{display:flex;flex-wrap:wrap;gap:16px}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px;flex:1 1 320px}
.card h2{margin-top:0}table{width:100%;border-collapse:collapse;background:#fff;margin:6px 0}
th,td{text-align:left;vertical-align:top;padding:6px 10px;border-bottom:1px solid var(--line);
overflow-wrap:break-word}th{background:#eef2f6;font-weight:600;white-space:nowrap}
.sev{display:inline-block;min-width:64px;text-align:center;padding:1px 8px;border-radius:10px;
color:#fff;font-size:12px;font-weight:600;text-transform:uppercase;white-space:nowrap}
.findings td:nth-child(2){white-space:nowrap}
details{background:#fff;border:1px solid var(--line);border-left:5px solid var(--c);
border-radius:6px;margin:10px 0;padding:8px 14px}summary{cursor:pointer;font-weight:600}
.detail{white-space:pre-line}code,pre{font-family:ui-monospace,Consolas,Menlo,monospace;
font-size:12.5px}code{background:#eef2f6;padding:1px 4px;border-radius:4px}
pre{background:#eef2f6;padding:10px;overflow-x:auto;white-space:pre-wrap}
.legend{list-style:none;padding:0;margin:8px 0 0;font-size:12px}.legend li{margin:2px 0}
.swatch{display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:2px}
.muted{color:var(--muted)}footer{text-align:center;color:var(--muted);padding:16px}
@media print{body{background:#fff;font-size:11px}main{max-width:none;padding:0 8px}
header{padding:8px 0;background:#fff;color:#000}header p{color:#333}
details,.card,tr{break-inside:avoid}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"""
# Closed <details> do not print; open them all when the reader prints.
PRINT_SCRIPT = ("window.addEventListener('beforeprint',function(){"
                "document.querySelectorAll('details').forEach(function(d){d.open=true})})")


def escape(value: object) -> str:
    """Evidence as HTML text: control characters shown as escapes, markup characters escaped."""
    return html.escape(printable(value))


class Html(str):
    """Markup this module built itself, so `_e` lets it through unescaped."""


def _e(value: object) -> str:
    return value if isinstance(value, Html) else escape(shown(value))


def _badge(sev: Severity) -> Html:
    return Html(f'<span class="sev" style="background:{COLOURS[sev.value]}">{sev.value}</span>')


def _table(header: tuple[str, ...], rows: list[tuple], cls: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    attr = f' class="{cls}"' if cls else ""
    return f'<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def severity_chart(counts: dict[str, int]) -> str:
    """Horizontal bars, worst severity on top."""
    order = sorted(Severity, key=lambda s: -s.rank)
    top, row, width = max(counts.values(), default=0) or 1, 26, 220
    bars = []
    for i, sev in enumerate(order):
        n, y = counts.get(sev.value, 0), i * row + 4
        bars.append(f'<text x="0" y="{y + 14}" font-size="12">{sev.value}</text>'
                    f'<rect x="70" y="{y}" width="{max(n / top * width, 2):.1f}" height="18" '
                    f'rx="3" fill="{COLOURS[sev.value]}"/>'
                    f'<text x="{76 + n / top * width:.1f}" y="{y + 14}" font-size="12">{n}</text>')
    return (f'<svg role="img" aria-label="Findings by severity" width="330" '
            f'viewBox="0 0 330 {len(order) * row + 4}">{"".join(bars)}</svg>')


def _days(keys: set[str]) -> list[str]:
    """Every day from first to last, so quiet days show as zero instead of vanishing."""
    try:
        first, last = min(map(date.fromisoformat, keys)), max(map(date.fromisoformat, keys))
    except ValueError:
        return sorted(keys)
    return [(first + timedelta(d)).isoformat() for d in range((last - first).days + 1)]


def event_series(groups: tuple[EventGroup, ...], limit: int = len(SERIES_COLOURS)) -> dict:
    """Per-day counts by DN (compared case-insensitively, as Exchange does, and labelled as most
    events spell it), or by event ID when there are more DNs than lines to draw."""
    by_dn = len({fold(g.dn) for g in groups}) <= limit
    series: dict[str, dict[str, int]] = {}
    spellings: dict[str, Counter] = {}
    for g in groups:
        key = fold(g.dn) if by_dn else f"event {g.event_id}"
        spellings.setdefault(key, Counter())[g.dn if by_dn else key] += g.count
        days = series.setdefault(key, {})
        for day, n in g.per_day.items():
            days[day] = days.get(day, 0) + n
    ranked = sorted(series.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    return {spellings[key].most_common(1)[0][0]: days for key, days in ranked[:limit]}


def events_chart(groups: tuple[EventGroup, ...]) -> str:
    series = event_series(groups)
    days = _days({d for per_day in series.values() for d in per_day})
    if not days:
        return ""
    w, h, left, bottom = 600, 200, 36, 24
    top = max(n for per_day in series.values() for n in per_day.values()) or 1
    step = (w - left - 10) / max(len(days) - 1, 1)
    x = {d: left + i * step for i, d in enumerate(days)}

    def y(n: int) -> float:
        return 8 + (h - bottom - 8) * (1 - n / top)

    parts = [f'<line x1="{left}" y1="{y(v):.1f}" x2="{w - 10}" y2="{y(v):.1f}" stroke="#dde3ea"/>'
             f'<text x="{left - 4}" y="{y(v) + 4:.1f}" font-size="10" text-anchor="end">{v}</text>'
             for v in sorted({0, top // 2, top})]
    for d, anchor in {days[len(days) // 2]: "middle", days[0]: "start", days[-1]: "end"}.items():
        parts.append(f'<text x="{x[d]:.1f}" y="{h - 6}" font-size="10" text-anchor="{anchor}">'
                     f'{escape(d)}</text>')
    legend = []
    for (label, per_day), colour in zip(series.items(), SERIES_COLOURS):
        points = " ".join(f"{x[d]:.1f},{y(per_day.get(d, 0)):.1f}" for d in days)
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" '
                     'stroke-width="2"/>')
        parts += [f'<circle cx="{x[d]:.1f}" cy="{y(n):.1f}" r="3" fill="{colour}"><title>'
                  f'{escape(d)}: {n} · {escape(label)}</title></circle>'
                  for d, n in per_day.items()]
        legend.append(f'<li><span class="swatch" style="background:{colour}"></span>'
                      f'{escape(label)} ({sum(per_day.values())})</li>')
    return (f'<svg role="img" aria-label="Free/busy events per day" width="100%" '
            f'viewBox="0 0 {w} {h}">{"".join(parts)}</svg>'
            f'<ul class="legend">{"".join(legend)}</ul>')


def _evidence(evidence: tuple[Evidence, ...]) -> str:
    """Events together in one table, then each other piece in its own layout."""
    events = [event_row(ev) for ev in evidence if ev.kind == "event"]
    html = _table(EVENT_COLUMNS, events) if events else ""
    return html + "".join(_other_evidence(ev) for ev in evidence if ev.kind != "event")


def _other_evidence(ev: Evidence) -> str:
    d, title = ev.data, f"<h4>{escape(ev.title)}</h4>" if ev.title else ""
    if ev.kind == "directory":
        return (f"{title}<p><code>{_e(d.get('dn'))}</code></p>"
                + _table(("Attribute", "Value"), list((d.get("attributes") or {}).items())))
    if ev.kind == "text":
        return f"{title}<pre>{_e(d.get('text'))}</pre>"
    return title + _table(("Field", "Value"), list(d.items()))


def _finding(f: Finding) -> str:
    opened = " open" if f.severity is Severity.CRITICAL else ""
    parts = [f'<details{opened} style="--c:{COLOURS[f.severity.value]}"><summary>'
             f"{_badge(f.severity)} {escape(f.check_id)} · {escape(f.target)}</summary>",
             f"<p>{escape(f.summary)}</p>"]
    if f.detail:
        parts.append(f'<p class="detail">{escape(f.detail)}</p>')
    if f.evidence:
        parts += ["<h3>Evidence</h3>", _evidence(f.evidence)]
    if f.fixes:
        parts.append("<h3>Suggested fixes</h3><ul>"
                     + "".join(f"<li><code>{escape(fix)}</code></li>" for fix in f.fixes) + "</ul>")
    if f.docs:
        parts.append(f'<p class="muted">Docs: {escape(f.docs)}</p>')
    return "".join(parts) + "</details>"


def render(report: Report) -> str:
    findings, worst = ordered(report.findings), report.worst
    groups = report.events.groups if report.events is not None else ()
    cards = [f'<div class="card"><h2>Findings by severity</h2>{severity_chart(report.counts())}'
             "</div>"]
    if groups:
        cards.append(f'<div class="card"><h2>Free/busy events per day</h2>{events_chart(groups)}'
                     "</div>")
    body = [f'<section class="cards">{"".join(cards)}</section>', "<h2>Findings</h2>",
            _table(("Severity", "ID", "Target", "Summary"),
                   [(_badge(f.severity), f.check_id, f.target, f.summary) for f in findings],
                   "findings")]
    if report.checks:
        body += ["<h2>Checks</h2>", _table(("ID", "Title", "Area", "Result", "Reason"),
                                          [(c.id, c.title, c.area, check_result(report, c), c.reason)
                                           for c in report.checks])]
    if report.events is not None:
        body += ["<h2>Logs read</h2>", _table(
            ("Path", "Backend", "Read", "Skipped", "Notes"),
            [(s.path, s.backend, s.records_read,
              ", ".join(f"{r}: {n}" for r, n in s.skipped.items()) or 0, "; ".join(s.notes))
             for s in report.events.scans])]
    if report.notes:
        body += ["<h2>Notes</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in report.notes) + "</ul>"]
    body += ["<h2>Details</h2>"] + [_finding(f) for f in findings]
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>exops report · {escape(report.source)}</title><style>{CSS}</style>"
            f"<script>{PRINT_SCRIPT}</script></head><body><header><h1>exops report "
            f"{_badge(worst)}</h1><p>Source: {escape(report.source)} · Generated "
            f"{escape(report.generated.isoformat(sep=' '))} · exit code {worst.exit_code}</p>"
            f'</header><main>{"".join(body)}</main><footer>exops {escape(exops.__version__)}'
            "</footer></body></html>\n")
