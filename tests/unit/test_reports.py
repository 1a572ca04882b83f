"""Every report format shows the same findings, escapes what it must and parses as its format."""
from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import pytest

from exops.facts.events import EventFacts, EventGroup, LogScan
from exops.model import CheckRun, Evidence, Finding, Report, Severity
from exops.reports import FORMATS, load, print_table, render

ORPHAN = "/o=EUROPE/ou=First Administrative Group"
ORPHAN_SUMMARY = "412 mailboxes point at an administrative group that no longer exists"
WHEN = datetime(2024, 5, 2, 9, 30, tzinfo=timezone.utc)


def _orphan() -> Finding:
    return Finding(
        check_id="FB-ORPHAN-DN", severity=Severity.CRITICAL, target=ORPHAN, summary=ORPHAN_SUMMARY,
        detail="Free/busy lookups for these users go to a site folder nobody hosts.",
        title="Users point at a missing administrative group", area="freebusy",
        evidence=(
            Evidence("event", "MSExchangeFBPublish 8207", {
                "time": WHEN, "computer": "L12EX1.litware.com", "event_id": 8207,
                "dn": ORPHAN,
                "excerpt": "Error updating public folder with free/busy information"}),
            Evidence("directory", "A user still under the old group", {
                "dn": "CN=Ann Lee,OU=Users,DC=litware,DC=com",
                "attributes": {"legacyExchangeDN": f"{ORPHAN}/cn=Recipients/cn=alee",
                               "objectClass": ["top", "person", "user"]}}),
            Evidence("text", "Get-PublicFolder output", {"text": "Name : EX:/o=EUROPE\n  <none>"}),
        ),
        fixes=("exops fix freebusy-site-folder --admin-group 'First Administrative Group'",
               "Set-PublicFolderDatabase PFDB1 -Confirm:$false"),
    )


def _report(*extra: Finding) -> Report:
    findings = (
        Finding("LB-SLOWSTART", Severity.WARNING, "outlook.litware.com",
                "Slow start is off | new servers get a full share at once",
                fixes=("exops lb slowstart --seconds 60",), area="loadbalancer"),
        Finding("FB-SITE-FOLDER", Severity.OK, "/o=Litware/ou=Exchange Administrative Group",
                "Site folder server is set", area="freebusy"),
        _orphan(),
    ) + extra
    checks = (
        CheckRun("FB-ORPHAN-DN", "Users point at a missing administrative group", "freebusy",
                 "ran"),
        CheckRun("LB-SLOWSTART", "Slow start configured", "loadbalancer", "ran"),
        CheckRun("FB-SITE-FOLDER", "Site folder server set", "freebusy", "ran"),
        CheckRun("CAS-ARRAY", "CAS array resolves", "casarray", "skipped",
                 "no Exchange servers were collected"),
        CheckRun("LB-HEALTH", "Balancer health checks", "loadbalancer", "error",
                 "KEMP API returned 500"),
    )
    groups = (
        EventGroup(8207, "MSExchangeFBPublish", ORPHAN, "L12EX1", 5, WHEN, WHEN,
                   error_codes=("0x80004005",), per_day={"2024-05-01": 3, "2024-05-03": 2}),
        EventGroup(14031, "MSExchangeFBPublish", "/o=Litware/ou=Exchange Administrative Group",
                   "L12EX2", 1, WHEN, WHEN, per_day={"2024-05-02": 1}),
    )
    scan = LogScan("logs/Application.evtx", "python-evtx", 1200, {"truncated chunk": 3},
                   groups=groups, notes=("chunk 7 recovered",))
    return Report(source="bundle litware.zip", generated=WHEN, findings=findings, checks=checks,
                  events=EventFacts(scans=(scan,)))


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_shows_passing_checks_as_ok(fmt):
    out = render(_report(), fmt)
    assert "Site folder server is set" in out
    if fmt in ("md", "html"):
        assert re.search(r"FB-SITE-FOLDER.{0,80}Site folder server set.{0,40}\bok\b", out), out


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_shows_the_orphan_target_and_summary(fmt):
    out = render(_report(), fmt)
    assert ORPHAN in out
    assert "412 mailboxes point at an administrative group" in out


def test_unknown_format_is_refused_naming_the_choices():
    with pytest.raises(ValueError, match="table, json, md"):
        render(_report(), "pdf")


def test_json_carries_schema_version_exit_code_and_worst_first_findings():
    doc = json.loads(render(_report(), "json"))
    assert doc["schema_version"] == 1 and doc["tool"] == "exops"
    assert doc["status"] == "critical" and doc["exit_code"] == 2
    assert doc["generated"] == WHEN.isoformat()
    assert doc["counts"] == {"ok": 1, "info": 0, "warning": 1, "critical": 1, "unknown": 0}
    assert [f["id"] for f in doc["findings"]] == ["FB-ORPHAN-DN", "LB-SLOWSTART", "FB-SITE-FOLDER"]
    assert doc["findings"][0]["evidence"][0]["data"]["time"] == WHEN.isoformat()
    assert doc["checks"][3] == {"id": "CAS-ARRAY", "title": "CAS array resolves",
                                "area": "casarray", "status": "skipped",
                                "reason": "no Exchange servers were collected", "result": "skipped"}
    assert [c["result"] for c in doc["checks"]][:3] == ["1 critical", "1 warning", "ok"]


def test_json_lists_logs_and_event_groups_with_per_day_counts():
    doc = json.loads(render(_report(), "json"))
    assert doc["logs"] == [{"path": "logs/Application.evtx", "backend": "python-evtx",
                            "records_read": 1200, "records_skipped": 3,
                            "skipped": {"truncated chunk": 3}, "notes": ["chunk 7 recovered"]}]
    assert doc["events"][0]["per_day"] == {"2024-05-01": 3, "2024-05-03": 2}
    assert doc["events"][0]["error_codes"] == ["0x80004005"]


def test_json_without_events_has_empty_logs_and_events():
    report = Report(source="s", generated=WHEN, findings=(_orphan(),))
    doc = json.loads(render(report, "json"))
    assert doc["logs"] == [] and doc["events"] == []


def test_load_round_trips_and_refuses_an_unknown_schema_version():
    text = render(_report(), "json")
    assert load(text) == json.loads(text)
    with pytest.raises(ValueError, match="schema_version 99 is not supported"):
        load(text.replace('"schema_version": 1', '"schema_version": 99'))
    with pytest.raises(ValueError, match="no schema_version"):
        load('{"findings": []}')
    with pytest.raises(ValueError, match="not a JSON report"):
        load("<html>")


def test_table_text_has_no_colour_codes_and_shows_evidence_and_fixes_for_broken_findings():
    out = render(_report(), "table")
    assert "\x1b[" not in out
    assert out.startswith("exops: CRITICAL — 1 critical, 1 warning, 1 ok · 5 checks "
                          "(3 ran, 1 skipped, 1 error) · bundle litware.zip\n")
    assert "L12EX1.litware.com · event 8207" in out
    assert "fix: exops lb slowstart --seconds 60" in out
    assert "CAS-ARRAY skipped: no Exchange servers were collected" in out
    assert "\nFB-SITE-FOLDER " not in out  # ok findings get no evidence section


def test_print_table_colours_by_severity_on_a_terminal():
    from rich.console import Console
    out = io.StringIO()
    print_table(_report(), Console(file=out, force_terminal=True, color_system="standard",
                                   width=120))
    assert "\x1b[" in out.getvalue() and ORPHAN in out.getvalue()


def test_html_is_self_contained():
    html = render(_report(), "html")
    assert not re.search(r"https?://", html)
    assert not re.search(r"<script[^>]*\bsrc=", html)
    assert not re.search(r"<link\b", html)
    assert "<svg" in html and "<details" in html


def test_html_escapes_a_hostile_target():
    hostile = Finding("FB-ORPHAN-DN", Severity.CRITICAL, "<script>alert(1)</script>", "x & y",
                      evidence=(Evidence("text", "<b>", {"text": "</pre><img onerror=x>"}),))
    html = render(_report(hostile), "html")
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img onerror" not in html and "x &amp; y" in html


def test_html_charts_events_per_day_with_one_series_per_dn():
    html = render(_report(), "html")
    assert html.count("<polyline") == 2
    assert f"{ORPHAN} (5)" in html


def test_html_without_events_has_only_the_severity_chart():
    report = Report(source="s", generated=WHEN, findings=(_orphan(),))
    html = render(report, "html")
    assert html.count("<svg") == 1 and "<polyline" not in html


def test_csv_has_a_header_and_one_row_per_finding_worst_first():
    rows = list(csv.DictReader(io.StringIO(render(_report(), "csv"))))
    assert [r["id"] for r in rows] == ["FB-ORPHAN-DN", "LB-SLOWSTART", "FB-SITE-FOLDER"]
    orphan = rows[0]
    assert orphan["severity"] == "critical" and orphan["target"] == ORPHAN
    assert orphan["summary"] == ORPHAN_SUMMARY and orphan["evidence_count"] == "3"
    assert orphan["fixes"] == "; ".join(_orphan().fixes)


def test_junit_maps_checks_to_failures_skips_and_errors():
    suite = ET.fromstring(render(_report(), "junit"))
    assert suite.tag == "testsuite" and suite.get("name") == "exops"
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "5", "failures": "2", "errors": "1", "skipped": "1"}
    cases = {c.get("name").split(":")[0]: c for c in suite.iter("testcase")}
    orphan = cases["FB-ORPHAN-DN"]
    assert orphan.get("classname") == "freebusy"
    assert orphan.get("name") == "FB-ORPHAN-DN: Users point at a missing administrative group"
    assert orphan.find("failure").get("message") == ORPHAN_SUMMARY
    assert orphan.find("failure").get("type") == "critical"
    assert cases["LB-SLOWSTART"].find("failure").get("type") == "warning"
    [passed] = list(cases["FB-SITE-FOLDER"])    # a pass says what it looked at
    assert passed.tag == "system-out" and "Site folder server is set" in passed.text
    assert cases["CAS-ARRAY"].find("skipped").get("message") == "no Exchange servers were collected"
    assert cases["LB-HEALTH"].find("error").get("message") == "KEMP API returned 500"


def test_junit_survives_markup_and_control_characters_in_findings():
    odd = Finding("FB-ORPHAN-DN", Severity.CRITICAL, "a<b>&c", "bell\x07 <here> & \"there\"")
    suite = ET.fromstring(render(_report(odd), "junit"))
    failure = next(c for c in suite.iter("testcase")
                   if c.get("name").startswith("FB-ORPHAN-DN")).find("failure")
    assert 'bell\\x07 <here> & "there"' in failure.get("message").splitlines()   # shown, not lost
    assert "a<b>&c" in failure.text


def test_markdown_escapes_pipes_so_table_rows_keep_their_columns():
    md = render(_report(), "md")
    row = next(line for line in md.splitlines() if "LB-SLOWSTART" in line and line.startswith("|"))
    assert r"Slow start is off \| new servers" in row
    assert len(re.findall(r"(?<!\\)\|", row)) == 5


def test_markdown_lays_out_evidence_by_kind_and_fixes_as_inline_code():
    md = render(_report(), "md")
    assert "| Time | Computer | Event ID | DN | Excerpt |" in md
    assert "| legacyExchangeDN |" in md
    assert "~~~\nName : EX:/o=EUROPE\n  <none>\n~~~" in md
    assert "- `Set-PublicFolderDatabase PFDB1 -Confirm:$false`" in md


def test_html_timeline_draws_one_series_per_dn_whatever_its_letter_case():
    from exops.reports.html import event_series
    groups = (EventGroup(14031, "FreeBusy", ORPHAN, "L12EX1", 5, WHEN, WHEN, per_day={"2024-05-01": 5}),
              EventGroup(14031, "FreeBusy", ORPHAN.upper(), "L12EX2", 2, WHEN, WHEN, per_day={"2024-05-01": 2}))
    assert event_series(groups) == {ORPHAN: {"2024-05-01": 7}}
    html = render(Report(source="s", generated=WHEN, findings=(),
                         events=EventFacts(scans=(LogScan("a.evtx", "python", 9, groups=groups),))), "html")
    assert html.count("<polyline") == 1


def test_events_fit_an_80_column_terminal_with_whole_dns_times_and_codes():
    import io as _io
    from rich.console import Console
    from exops.console import print_scans
    long_dn = "/o=EUROPE/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
    groups = (EventGroup(8207, "MSExchangeFBPublish", long_dn, "l12ex1.litware.com", 1234, WHEN, WHEN,
                         error_codes=("0x80070005",)),)
    out = Console(width=80, file=_io.StringIO(), color_system=None)
    print_scans([LogScan("Application.evtx", "python", 1200, groups=groups)], out)
    text = out.file.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    joined = "".join(line.strip(" │|") for line in text.splitlines())
    assert "".join(long_dn.split()) in "".join(joined.split())        # wrapped, not cut
    assert WHEN.strftime("%Y-%m-%d %H:%M") in text and "0x80070005" in text and "×1234" in text
