"""The litware triage, driven through the TUI the way an admin would."""
from __future__ import annotations

import json
import threading

from textual.widgets import DataTable, Input

from exops.model import Severity
from exops.tui import session as steps
from exops.tui.app import ExopsApp
from exops.tui.commands import TriageCommands
from exops.tui.screens.export import ExportScreen
from exops.tui.screens.findings import FindingsScreen
from exops.tui.screens.fix import FixScreen
from exops.tui.screens.help import HelpScreen
from exops.tui.screens.overview import OverviewScreen
from exops.tui.screens.timeline import TimelineScreen
from exops.tui.widgets.checks import CheckRow
from exops.tui.widgets.event_chart import EventChart
from exops.tui.widgets.finding_detail import FindingDetail
from tests.tui.helpers import ORPHAN, plain, screen_text, settle


def row_text(table: DataTable, row: int) -> list[str]:
    return [cell.plain for cell in table.get_row_at(row)]


def detail_text(screen: FindingsScreen) -> str:
    return plain(screen.query_one("#detail-body").content)


async def open_orphan(app: ExopsApp, pilot) -> FindingsScreen:
    """Findings screen, filtered to FB-ORPHAN-DN by typing, the orphan highlighted."""
    await pilot.press("f", "slash", *"FB-ORPHAN-DN", "enter")
    await pilot.pause()
    return app.screen


async def test_checks_run_and_the_orphan_is_critical_on_the_overview(litware_bundle):
    app = ExopsApp(bundle=str(litware_bundle))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, OverviewScreen)
        assert app.session.phase == "done", app.session.error
        rows = {row.check.id: row for row in app.screen.query(CheckRow)}
        assert rows["FB-ORPHAN-DN"].check.state == "done"
        text = screen_text(app)
        assert "Free/busy" in text
        assert "FB-ORPHAN-DN" in text and "1 critical" in text
        assert "555 scanned" in text and "2 logs" in text and "0 skipped" in text
        assert "worst critical (exit 2)" in text


async def test_the_orphan_is_listed_as_critical_and_its_evidence_reads(litware_bundle):
    app = ExopsApp(bundle=str(litware_bundle))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("f")
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        rows = [row_text(table, i) for i in range(table.row_count)]
        assert ["critical", "FB-ORPHAN-DN", ORPHAN] == rows[[r[1] for r in rows].index("FB-ORPHAN-DN")][:3]
        assert rows[0][0] == "critical"  # worst first

        screen = await open_orphan(app, pilot)
        assert screen.highlighted().check_id == "FB-ORPHAN-DN"
        assert screen.highlighted().severity is Severity.CRITICAL
        detail = detail_text(screen)
        assert "152 mailboxes have a legacyExchangeDN under " + ORPHAN in detail
        assert "Directory · 5 entries (mailbox) · 1 searched" in detail
        assert "2 administrative groups found in 1 Administrative Groups container" in detail
        assert "/o=EUROPE/ou=Amsterdam" in detail     # the AGs that exist: proof of absence
        assert "CN=Europe User 001,OU=Exchange Users,DC=litware,DC=com" in detail
        assert f"{ORPHAN}/cn=Recipients/cn=eu001" in detail
        assert "Event 14031" in detail and "Time (UTC)" in detail
        assert "exops fix freebusy --dn '/o=EUROPE/ou=First Administrative Group'" in detail
        assert "Docs" in detail
        await pilot.press("c")
        assert app.clipboard.startswith("exops fix freebusy --dn '/o=EUROPE/ou=First Administrative Group'")

        await pilot.press("down", "enter")  # enter on the row: the detail takes the screen
        await pilot.pause()
        assert screen.maximized is screen.query_one(FindingDetail)
        assert "152 mailboxes" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert screen.maximized is None


async def test_filter_text_severity_keys_and_sort(litware_bundle):
    app = ExopsApp(bundle=str(litware_bundle))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("f")
        await pilot.pause()
        screen: FindingsScreen = app.screen
        every = len(screen.rows)
        await pilot.press("slash", *"other", "enter")
        assert [f.check_id for f in screen.rows] == ["FB-ORPHAN-OTHER"]
        await pilot.press("escape")
        assert len(screen.rows) == every
        await pilot.press("1")  # hide critical
        assert screen.rows and all(f.severity is not Severity.CRITICAL for f in screen.rows)
        await pilot.press("1", "3", "4")  # critical back, info and ok hidden
        assert {f.severity for f in screen.rows} == {Severity.CRITICAL}
        await pilot.press("0")
        assert len(screen.rows) == every
        await pilot.press("s")  # severity → id
        assert [f.check_id for f in screen.rows] == sorted(f.check_id for f in screen.rows)
        assert str(screen.query_one(DataTable).ordered_columns[1].label).startswith("ID ▾")


async def test_enter_on_a_check_opens_its_findings(litware_bundle):
    app = ExopsApp(bundle=str(litware_bundle))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.screen.query_one("#check-FB-ORPHAN-DN", CheckRow).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, FindingsScreen)
        assert app.screen.query_one("#filter", Input).value == "FB-ORPHAN-DN"
        assert [f.target for f in app.screen.rows] == [ORPHAN]


async def test_timeline_charts_14031_per_day_for_the_orphan(litware_bundle):
    app = ExopsApp(bundle=str(litware_bundle))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, TimelineScreen)
        charts = list(app.screen.query(EventChart))
        orphan = [c for c in charts if c.series.event_id == 14031 and c.series.dn.casefold() == ORPHAN.casefold()]
        assert len(orphan) == 1, [(c.series.event_id, c.series.dn) for c in charts]
        series = orphan[0].series
        assert sum(series.per_day.values()) == series.total > 0
        assert set(series.per_server) == {"l12ex1.litware.com", "l12ex2.litware.com"}
        text = screen_text(app)
        assert "14031 publish failed" in text and "08-01" in text and "08-09" in text
        assert "L12EX1-Application.evtx" in text


async def test_export_writes_the_report_where_the_user_typed(litware_bundle, tmp_path):
    app = ExopsApp(bundle=str(litware_bundle))
    notes: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.notify = lambda message, **kw: notes.append(message)
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, ExportScreen)
        target = tmp_path / "litware.md"
        app.screen.query_one("#export-path", Input).value = str(target)
        await pilot.pause()
        assert app.screen.fmt == "md"  # the extension chose the format
        await pilot.press("enter")
        await settle(app, pilot)
        assert not isinstance(app.screen, ExportScreen)
    assert target.is_file()
    text = target.read_text()
    assert "FB-ORPHAN-DN" in text and ORPHAN in text and "152 mailboxes" in text
    assert notes and str(target) in notes[-1]


async def test_tab_then_enter_in_export_exports_and_cancel_says_so(litware_bundle, tmp_path):
    """Tab from the path lands on Export (the first button), so Tab, Enter writes the report;
    Cancel (or escape) says that nothing was written."""
    app = ExopsApp(bundle=str(litware_bundle))
    notes: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.notify = lambda message, **kw: notes.append(message)
        await pilot.press("e")
        await pilot.pause()
        target = tmp_path / "tabbed.html"
        app.screen.query_one("#export-path", Input).value = str(target)
        await pilot.press("tab")
        assert app.focused.id == "export-go"
        await pilot.press("enter")
        await settle(app, pilot)
        assert target.is_file() and str(target) in notes[-1]
        await pilot.press("e")
        await pilot.pause()
        await pilot.press("tab", "tab", "enter")  # Cancel
        await pilot.pause()
        assert not isinstance(app.screen, ExportScreen)
        assert notes[-1] == "Export cancelled: nothing was written."


async def test_export_only_what_the_filter_shows(litware_bundle, tmp_path):
    app = ExopsApp(bundle=str(litware_bundle))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("f", "slash", *"OTHER", "enter", "e")
        await pilot.pause()
        target = tmp_path / "other.json"
        app.screen.query_one("#export-path", Input).value = str(target)
        app.screen.query_one("#export-filtered").value = True
        await pilot.press("enter")
        await settle(app, pilot)
    assert [f["id"] for f in json.loads(target.read_text())["findings"]] == ["FB-ORPHAN-OTHER"]


async def test_export_refuses_a_missing_folder(litware_bundle, tmp_path):
    app = ExopsApp(bundle=str(litware_bundle))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#export-path", Input).value = str(tmp_path / "nowhere" / "r.html")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ExportScreen)
        assert "does not exist" in str(app.screen.query_one("#export-problem").content)


async def test_palette_offers_every_action_that_fits_the_screen(litware_bundle):
    app = ExopsApp(bundle=str(litware_bundle))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        names = [name for name, _, _ in TriageCommands(app.screen).commands()]
        assert {"Findings", "Timeline", "History", "Export", "Help", "Quit", "Re-run checks"} <= set(names)
        assert "Overview" not in names  # we are on it
        assert "Export as Markdown" in names and "Findings of FB-ORPHAN-DN" in names
        await pilot.press("f")
        await pilot.pause()
        names = [name for name, _, _ in TriageCommands(app.screen).commands()]
        assert {"Filter", "Sort", "Fix…", "Copy fix", "Show/hide critical", "Show every severity",
                "Overview", "History"} <= set(names)
        run = {name: run for name, _, run in TriageCommands(app.screen).commands()}
        await run["Timeline"]()
        await pilot.pause()
        assert isinstance(app.screen, TimelineScreen)


async def test_palette_lists_exops_commands_first_with_what_they_do(litware_bundle):
    app = ExopsApp(bundle=str(litware_bundle))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        commands = TriageCommands(app.screen).commands()
        names = [name for name, _, _ in commands]
        textual = names.index("Theme")  # Textual's own come after every exops command
        assert {"Findings", "Export", "Screenshot", "Quit", "Findings of FB-ORPHAN-DN"} <= set(names[:textual])
        assert names.count("Quit") == 1 and names.count("Screenshot") == 1  # exops's, not Textual's
        helps = dict((name, help_text) for name, help_text, _ in commands)
        assert helps["Findings"] == "Every finding, worst first, with its proof and the fixes for it · key f"
        assert helps["Export as CSV"] == "Write the findings as CSV to a file you name"
        assert all(help_text and not help_text.startswith("key ") for help_text in helps.values())
        await pilot.press("ctrl+p")
        await pilot.pause(0.6)
        shown = screen_text(app)
        assert shown.index("Findings") < shown.index("Every finding, worst first") < shown.index("key f")
        assert "Theme" not in shown  # further down: exops's commands fill the first screen


async def test_palette_opens_and_runs_a_command(litware_bundle):
    app = ExopsApp(bundle=str(litware_bundle))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Findings of FB-ORPHAN-DN")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, FindingsScreen)
        assert [f.check_id for f in app.screen.rows] == ["FB-ORPHAN-DN"]


async def test_help_lists_the_screens_and_keys(litware_bundle):
    app = ExopsApp(bundle=str(litware_bundle))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = " ".join(plain(s.content) for s in app.screen.query(".help-keys"))
        for title, key, action in (("Everywhere", "?", "Help"), ("Everywhere", "q", "Quit"),
                                   ("Everywhere", "h", "History"),
                                   ("Findings", "/", "Filter"), ("Findings", "s", "Sort"),
                                   ("Findings", "x", "Fix…"), ("Fix", "a", "Apply…"),
                                   ("Fix", "w", "Save plan…"), ("History", "u", "Undo…"),
                                   ("Overview", "⏎", "The check's findings")):
            assert title in keys and f"{key}" in keys and action in keys
        prose = app.screen.query_one("#help-screens")._markdown
        for screen in ("**Overview**", "**Findings**", "**Event timeline**", "**Fix**",
                       "**History**", "**Export**"):
            assert screen in prose
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, OverviewScreen)


async def test_overview_appears_before_the_bundle_is_read(litware_bundle, monkeypatch):
    """Start-up never waits for the evidence: the overview shows the planned checks at once."""
    release = threading.Event()
    real = steps.load_facts

    def slow_load(*args, **kwargs):
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(steps, "load_facts", slow_load)
    app = ExopsApp(bundle=str(litware_bundle))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        assert isinstance(app.screen, OverviewScreen)
        assert app.session.phase == "loading"
        text = screen_text(app)
        assert "reading…" in text and "FB-ORPHAN-DN" in text and "waiting" in text
        await pilot.press("f")  # the UI answers while the worker is blocked
        await pilot.pause()
        assert "still running" in screen_text(app)
        release.set()
        await settle(app, pilot)
        assert app.session.phase == "done"
        assert any(f.check_id == "FB-ORPHAN-DN" for f in app.screen.rows)


async def test_an_unreadable_bundle_is_one_clear_line(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    app = ExopsApp(bundle=str(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.session.phase == "failed"
        assert "manifest.json: not valid JSON" in screen_text(app).replace("\n", " ")


async def test_rerun_reads_and_checks_again(litware_bundle):
    app = ExopsApp(bundle=str(litware_bundle))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        first = app.session.report
        await pilot.press("r")
        await settle(app, pilot)
        assert app.session.phase == "done" and app.session.report is not first
        assert [f.check_id for f in app.session.report.findings] == [f.check_id for f in first.findings]


async def test_x_on_a_finding_opens_its_fixes_and_escape_comes_back(litware_bundle):
    app = ExopsApp(bundle=str(litware_bundle))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = await open_orphan(app, pilot)
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, FixScreen) and app.screen.finding.check_id == "FB-ORPHAN-DN"
        await settle(app, pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        run = {name: run for name, _, run in TriageCommands(screen).commands()}
        await run["Fix…"]()
        await pilot.pause()
        assert isinstance(app.screen, FixScreen)


async def test_the_first_screen_of_the_demo_shows_the_orphan_and_its_mailbox_count(litware_bundle):
    app = ExopsApp(bundle=str(litware_bundle))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        text = screen_text(app)
        assert "Worst findings" in text
        line = next(row for row in text.splitlines() if ORPHAN in row)
        assert "critical" in line and "152 mailboxes" in line
        assert "ok: 0" not in text and " 0 ok" not in text.replace("  ", " ")


async def test_enter_on_a_passing_check_shows_what_it_looked_at(litware_bundle):
    app = ExopsApp(bundle=str(litware_bundle))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.screen.query_one("#check-FB-PF-TREE", CheckRow).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, FindingsScreen)
        [passing] = app.screen.rows
        assert passing.severity is Severity.OK and "CN=Public Folders" in passing.summary
        assert "No finding matches" not in detail_text(app.screen)


async def test_copy_gives_the_quoted_command_for_this_bundle(litware_bundle):
    app = ExopsApp(bundle=str(litware_bundle))
    copied = []
    app.copy_to_clipboard = copied.append
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await open_orphan(app, pilot)
        await pilot.press("c")
        await pilot.pause()
    assert copied and copied[0].startswith(f"exops fix freebusy --dn '{ORPHAN}' --bundle ")
    assert copied[0].endswith(" --dry-run")


async def test_a_screenshot_without_a_downloads_folder_goes_to_the_working_directory(
        litware_bundle, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    app = ExopsApp(bundle=str(litware_bundle))
    notes: list[tuple[str, str]] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        monkeypatch.chdir(work)
        app.notify = lambda message, **kw: notes.append((kw.get("title", ""), message))
        await pilot.press("ctrl+s")
        await pilot.pause()
        (picture,) = work.glob("*.svg")
        assert notes[-1] == ("Screenshot saved", f"{home / 'Downloads'} does not exist, so in the "
                             f"working directory: {picture}")
        assert "Worst&#160;findings" in picture.read_text()  # the overview, as SVG

        (home / "Downloads").mkdir()
        await pilot.press("f", "ctrl+s")
        await pilot.pause()
        (saved,) = (home / "Downloads").glob("*.svg")
        assert notes[-1] == ("Screenshot saved", str(saved))

        app.deliver_screenshot(path=str(tmp_path / "nowhere"))
        assert notes[-1][0] == "Screenshot not saved"
        assert notes[-1][1] == f"could not write in {tmp_path / 'nowhere'}: No such file or directory"


async def test_a_check_plugin_that_fails_to_load_is_said_on_the_overview(litware_bundle, monkeypatch):
    """The checks are planned as the app starts; a broken plugin is the session's one error line,
    not a crash."""
    from exops.registry import RegistryError

    def broken():
        raise RegistryError("plugin 'acme' (acme.checks) in exops.checks failed to load: boom")
    monkeypatch.setattr(steps, "plan_checks", broken)
    app = ExopsApp(bundle=str(litware_bundle))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert app.session.phase == "failed"
        assert "plugin 'acme'" in app.session.error
        assert "plugin 'acme'" in screen_text(app)
