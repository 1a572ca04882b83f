"""JUnit XML: one testcase per check, so CI dashboards show exops like a test run.

Critical (and unknown) findings fail the case, warnings fail it with type="warning" so CI can
tell them apart; skipped and errored checks map onto JUnit's own skipped and error.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from exops.model import CheckRun, Finding, Report, Severity
from exops.reports.layout import ordered
from exops.terminal import printable

_NOT_XML = re.compile(r"[\ufffe\uffff]")    # the rest printable() has made visible
_FAILING = (Severity.CRITICAL, Severity.UNKNOWN, Severity.WARNING)


def _clean(text: str) -> str:
    """Event text can hold control characters (and lone surrogates) that XML 1.0 cannot carry,
    or that would reach a terminal from a CI log; they are shown as escapes."""
    return _NOT_XML.sub("", printable(text))


def _runs(report: Report) -> list[CheckRun]:
    """The check runs, plus one for any finding whose check has no run recorded."""
    runs = list(report.checks)
    known = {c.id for c in runs}
    for f in ordered(report.findings):
        if f.check_id not in known:
            known.add(f.check_id)
            runs.append(CheckRun(id=f.check_id, title=f.title, area=f.area, status="ran"))
    return runs


def _body(findings: list[Finding]) -> str:
    lines = []
    for f in findings:
        lines.append(f"{f.severity.value.upper()} {f.target}: {f.summary}")
        lines += [f"  {line}" for line in f.detail.splitlines()]
        lines += [f"  fix: {fix}" for fix in f.fixes]
    return "\n".join(lines)


def _testcase(run: CheckRun, findings: list[Finding]) -> ET.Element:
    name = f"{run.id}: {run.title}" if run.title else run.id
    case = ET.Element("testcase", classname=_clean(run.area or "exops"), name=_clean(name))
    if run.status == "skipped":
        ET.SubElement(case, "skipped", message=_clean(run.reason))
    elif run.status == "error":
        ET.SubElement(case, "error", message=_clean(run.reason)).text = _clean(run.reason)
    else:
        failing = [f for f in findings if f.severity in _FAILING]
        if failing:
            worst = failing[0].severity  # findings arrive worst first
            failure = ET.SubElement(case, "failure", type=worst.value,
                                    message=_clean("\n".join(f.summary for f in failing)))
            failure.text = _clean(_body(failing))
        elif findings:   # a pass says what it looked at
            ET.SubElement(case, "system-out").text = _clean(_body(findings))
    return case


def render(report: Report) -> str:
    findings = ordered(report.findings)
    cases = [_testcase(run, [f for f in findings if f.check_id == run.id])
             for run in _runs(report)]
    suite = ET.Element("testsuite", name="exops", timestamp=report.generated.isoformat(),
                       tests=str(len(cases)),
                       failures=str(sum(c.find("failure") is not None for c in cases)),
                       errors=str(sum(c.find("error") is not None for c in cases)),
                       skipped=str(sum(c.find("skipped") is not None for c in cases)))
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="source", value=_clean(report.source))
    suite.extend(cases)
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
