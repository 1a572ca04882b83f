"""Evidence text is escaped for every medium it is printed to (issue 9.13).

The hostile strings: Rich markup that crashes (`[/]`) or restyles (`[link=...]`), terminal
control sequences (clear screen, window title, BEL), bidi overrides, a lone surrogate, and
spreadsheet formulas. They come in through a real LDIF and a real EVTX, and through findings
built by hand for the report writers.
"""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from exops.cli import cli
from exops.lab.evtx_writer import EventSpec, write_evtx
from exops.model import Evidence, Finding, Report, Severity
from exops.reports import render
from exops.terminal import markup, printable

HOSTILE = "Zed [/] [link=https://evil.example]Contractor[/link] [bold red]\x1b[2J\x1b]0;pwned\x07\u202eexe.txt"
CONTROL = ("\x1b", "\x07", "\u202e")


def _report() -> Report:
    event = Evidence("event", "14031", {"time": datetime(2026, 1, 2, tzinfo=timezone.utc),
                                        "computer": HOSTILE, "event_id": 14031, "dn": HOSTILE,
                                        "excerpt": HOSTILE + "\ud800"})
    directory = Evidence("directory", HOSTILE, {"dn": HOSTILE, "attributes": {"displayName": HOSTILE}})
    text = Evidence("text", HOSTILE, {"text": HOSTILE + "\n```\n~~~"})
    finding = Finding("FB-ORPHAN-DN", Severity.CRITICAL, "=HYPERLINK(\"https://evil\")" + HOSTILE,
                      "@SUM(1+1) " + HOSTILE, detail="-2+3 " + HOSTILE,
                      evidence=(event, directory, text), fixes=(f"exops fix freebusy --dn '{HOSTILE}'",))
    return Report(source=HOSTILE, generated=datetime(2026, 1, 2, tzinfo=timezone.utc),
                  findings=(finding,))


@pytest.mark.parametrize("fmt", ["table", "json", "md", "html", "csv", "junit"])
def test_no_report_format_carries_control_characters_or_crashes(fmt):
    out = render(_report(), fmt)
    out.encode("utf-8")           # a lone surrogate would fail here
    assert not any(c in out for c in CONTROL), fmt


def test_table_shows_markup_literally():
    out = render(_report(), "table")
    assert "[/]" in out and "[link=https://evil.example]" in out and "\\x1b[2J" in out


def test_html_escapes_markup_and_markdown_escapes_its_punctuation():
    html = render(_report(), "html")
    assert "<link" not in html and "[link=https://evil.example]" in html
    md = render(_report(), "md")
    assert "\\[link=https://evil.example\\]" in md


def test_csv_cells_that_a_spreadsheet_would_run_are_defused():
    rows = list(csv.reader(io.StringIO(render(_report(), "csv"))))
    target, summary, detail = rows[1][2:5]
    assert target.startswith("'=HYPERLINK") and summary.startswith("'@SUM") and detail.startswith("'-2")


def test_printable_keeps_the_evidence_readable():
    assert printable("a\x1b[2Jb\r\nc\rd") == "a\\x1b[2Jb\nc\\x0dd"
    assert printable("tab\tnew\nline", one_line=True) == "tab\\x09new\\x0aline"
    assert markup("[/]") == "\\[/]"


def _hostile_ldif(tmp_path):
    path = tmp_path / "hostile.ldf"
    org = "/o=EVIL[/]\x1b]0;t\x07"
    path.write_text(
        f"dn: CN=Zed [/] Contractor,DC=litware,DC=com\nobjectClass: user\n"
        f"legacyExchangeDN:: " + __import__("base64").b64encode(
            f"{org}/ou=Gone [link=x]AG/cn=Recipients/cn=zed".encode()).decode() + "\n")
    return path


@pytest.mark.parametrize("fmt", ["table", "json", "md", "html", "csv", "junit"])
def test_check_prints_hostile_directory_text_in_every_format(tmp_path, fmt):
    result = CliRunner().invoke(cli, ["check", "--ldif", str(_hostile_ldif(tmp_path)), "--format", fmt])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 1, 2, 3)
    assert not any(c in result.output for c in CONTROL)


def test_events_prints_a_hostile_computer_name(tmp_path):
    log = tmp_path / "hostile.evtx"
    write_evtx(log, [EventSpec(event_id=14031, provider="MSExchange FreeBusy Assistant",
                               time=datetime(2026, 1, 2, tzinfo=timezone.utc), computer=HOSTILE,
                               level=2, data=("/o=X/ou=[/]Y", "text [bold]", "0x8004010F"))])
    result = CliRunner().invoke(cli, ["events", str(log)])
    assert result.exit_code == 0, result.output
    assert "[/]" in result.output and not any(c in result.output for c in CONTROL)


def test_the_tui_evidence_view_shows_control_characters_as_escapes():
    from rich.console import Console

    from exops.tui.widgets.evidence import Palette, evidence_renderables
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    for part in evidence_renderables(_report().findings[0].evidence, Palette("dim", "cyan", "bold")):
        console.print(part)
    shown = out.getvalue()
    assert "[/]" in shown and "\\x1b" in shown and not any(c in shown for c in CONTROL)
