"""The fix flow and the history without a directory: a bundle's plans are dry runs that can be
saved, refusals and empty plans say so, the history reads the journal and asks for the change
ID before an undo. The same flow against a real directory is in test_live_fix.py."""
from __future__ import annotations

from textual.widgets import DataTable, Input, OptionList

from exops.model import Finding, Severity
from exops.plan import Plan
from exops.tui.app import ExopsApp
from exops.tui.commands import TriageCommands
from exops.tui.screens.confirm import ConfirmScreen, SavePlanScreen
from exops.tui.screens.fix import FixScreen
from exops.tui.screens.history import HistoryScreen
from exops.tui.widgets.plan_view import PlanView
from tests.tui.helpers import ORPHAN, plain, screen_text, settle, wait_until


def plan_text(screen) -> str:
    return "\n".join(plain(static.content, 140) for static in screen.query_one(PlanView).query("Static"))


def status_text(screen, selector: str = "#fix-status") -> str:
    return plain(screen.query_one(selector).content, 200)


async def open_fix_for_the_orphan(app: ExopsApp, pilot) -> FixScreen:
    await settle(app, pilot)
    await pilot.press("f", "slash", *"FB-ORPHAN-DN", "enter", "x")
    await wait_until(pilot, lambda: isinstance(app.screen, FixScreen)
                     and app.screen.phase not in ("listing", "planning"))
    return app.screen


async def test_a_bundle_plan_is_a_dry_run_with_no_apply_and_saves_for_exops_apply(litware_bundle, tmp_path):
    app = ExopsApp(bundle=str(litware_bundle))
    notes: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        fix = await open_fix_for_the_orphan(app, pilot)
        app.notify = lambda message, **kw: notes.append(message)
        assert fix.phase == "planned" and fix.plan.fix == "freebusy"
        text = plan_text(fix)
        assert f"legacyExchangeDN: {ORPHAN}" in text and "changetype: add" in text
        assert "bundles are evidence" in text
        assert f"$ exops --config exops.yaml fix freebusy --dn '{ORPHAN}'" in text
        assert "$ exops --config exops.yaml apply FILE" in text
        assert "Dry run from the bundle" in status_text(fix)

        # Apply is not offered: not in the footer, not in the palette; the key says why not.
        assert fix.check_action("apply", ()) is False
        footer = screen_text(app).splitlines()[-1]
        assert "Apply" not in footer and "Save plan" in footer
        names = [name for name, _, _ in TriageCommands(fix).commands()]
        assert "Save plan…" in names and "Apply…" not in names
        assert "Overview" not in names  # the fix screen is modal: the app's keys wait
        await pilot.press("a")
        await pilot.pause()
        assert app.screen is fix
        assert notes and notes[-1].startswith("Bundles are evidence: nothing is applied from one.")
        assert "exops --config exops.yaml apply FILE" in notes[-1]

        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, SavePlanScreen)
        target = tmp_path / "orphan-plan.json"
        app.screen.query_one("#save-path", Input).value = str(target)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen is fix
    saved = Plan.load(target)
    assert saved.to_json() == fix.plan.to_json()
    assert saved.steps[0].after["attributes"]["legacyExchangeDN"] == [ORPHAN]
    assert notes and f"exops --config exops.yaml apply {target}" in notes[-1]


async def test_the_plan_shows_each_steps_ldif_as_written_and_scrolls_it_sideways(litware_bundle):
    """At 80 columns the folded LDIF is wider than the plan: it is cropped and scrolled with left
    and right, never wrapped, so what is read (and copied) is the LDIF exops writes."""
    from exops.tui.widgets.steps import PreviewBlock
    app = ExopsApp(bundle=str(litware_bundle))
    async with app.run_test(size=(80, 24)) as pilot:
        fix = await open_fix_for_the_orphan(app, pilot)
        (block,) = fix.query(PreviewBlock)
        shown = block.query_one(".preview").content
        assert plain(shown, 200).splitlines() == fix.plan.steps[0].preview.splitlines()
        assert fix.plan.steps[0].preview.splitlines()[1].startswith(" ")  # a fold, kept
        assert block.max_scroll_x > 0 and block.scroll_x == 0
        fix.query_one(PlanView).focus()
        await pilot.press("right", "right")
        await pilot.pause()
        right = min(16, block.max_scroll_x)
        assert block.scroll_x == right
        await pilot.press("left")
        await pilot.pause()
        assert block.scroll_x == right - 8


async def test_a_fix_that_needs_the_live_directory_is_refused_with_the_reason(litware_bundle):
    app = ExopsApp(bundle=str(litware_bundle))
    async with app.run_test(size=(80, 24)) as pilot:
        fix = await open_fix_for_the_orphan(app, pilot)
        choices = fix.query_one("#fix-choices", OptionList)
        choices.highlighted = [s.fix.name for s in fix.suggestions].index("freebusy-rewrite")
        await pilot.press("enter")
        await wait_until(pilot, lambda: fix.phase == "refused")
        assert fix.plan is None
        assert "exops will not plan this fix: fix freebusy-rewrite searches the live environment" in plan_text(fix)
        assert "Not planned" in status_text(fix)
        assert fix.check_action("save", ()) is None
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, FixScreen)


async def test_an_ag_that_exists_already_plans_nothing_to_change(litware_bundle):
    app = ExopsApp(bundle=str(litware_bundle))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("f")
        await pilot.pause()
        healthy = Finding(check_id="FB-ORPHAN-DN", severity=Severity.CRITICAL,
                          target="/o=EUROPE/ou=Amsterdam", summary="a made-up finding")
        app.open_fix(healthy)
        await wait_until(pilot, lambda: isinstance(app.screen, FixScreen) and app.screen.phase == "planned")
        fix = app.screen
        assert fix.plan.noop
        assert "Nothing to change" in plan_text(fix) and "Nothing to change" in status_text(fix)
        assert "already exists with legacyExchangeDN /o=EUROPE/ou=Amsterdam" in plan_text(fix)
        assert "nothing to do" in plan_text(fix)
        assert fix.check_action("save", ()) is None


async def test_history_in_a_bundle_session_says_there_is_no_live_environment(litware_bundle):
    app = ExopsApp(bundle=str(litware_bundle))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("h")
        await settle(app, pilot)
        assert isinstance(app.screen, HistoryScreen)
        text = screen_text(app)
        assert "No live environment" in text and "exops --config exops.yaml history" in text
        assert "Undo" not in text.splitlines()[-1]
        assert app.screen.check_action("undo", ()) is False


async def test_history_reads_the_journal_and_undo_wants_the_change_id(journaled_change):
    app = ExopsApp(config_path=str(journaled_change))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("h")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.changes)
        history: HistoryScreen = app.screen
        row = [cell.plain for cell in history.query_one(DataTable).get_row_at(0)]
        assert row[:5] == ["1", "2011-08-10 09:14:03", "freebusy", "applied", "admin@ops01"]
        assert row[5].startswith(f"dn={ORPHAN}")
        detail = plan_text(history)
        assert "absent (the object did not exist)" in detail
        assert f"legacyExchangeDN: {ORPHAN}" in detail and "u, then type 1" in detail
        assert "journal.sqlite" in screen_text(app)

        await pilot.press("u")
        await pilot.pause()
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen) and confirm.word == "1"
        assert "delete CN=First Administrative Group" in plain(confirm.query_one("#confirm-body").content, 200)
        await pilot.press("2", "enter")
        await pilot.pause()
        assert app.screen is confirm and confirm.query_one("#confirm-go").disabled
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is history and history.undoing is None and not app.changing
        assert history.changes[0].status == "applied"


async def test_undo_says_what_it_does_with_actions_and_waits(tmp_path, monkeypatch):
    """A drain is undone by its enable, a restart is left as it is, a wait has nothing to undo:
    the confirmation says so for each, not "restore"."""
    from tests.unit.test_undo_notes import journal_with_every_mode
    journal_with_every_mode(tmp_path)
    monkeypatch.chdir(tmp_path)
    app = ExopsApp(config_path="exops.yaml")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("h")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.changes)
        await pilot.press("u")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        body = " ".join(plain(app.screen.query_one("#confirm-body").content, 200).split())
        assert "leave L12EX1/restart · cannot be undone: a restart has no inverse; left as it is" in body
        assert "skip L12EX1/wait · a wait: nothing to undo" in body
        assert "run L12EX1/drain · undone by: enable L12EX1 in Exchange-RPC" in body
        assert "restore L12EX1/port" in body, body
        await pilot.press("escape")


async def test_a_password_missing_from_the_environment_is_never_prompted_for(tmp_path, monkeypatch):
    monkeypatch.delenv("EXOPS_TEST_NO_SUCH_PASSWORD", raising=False)
    config = tmp_path / "exops.yaml"
    config.write_text("directory:\n  url: ldaps://127.0.0.1:9\n  user: admin@litware.com\n"
                      "  password_env: EXOPS_TEST_NO_SUCH_PASSWORD\n"
                      f"journal: {tmp_path / 'journal.sqlite'}\n")
    app = ExopsApp(config_path=str(config))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.session.phase == "failed")
        assert "export EXOPS_TEST_NO_SUCH_PASSWORD=" in app.session.error
        assert "the TUI never asks for it" in app.session.error


async def test_the_parameter_form_is_made_from_the_fix_declaration_and_replans(litware_bundle):
    from textual.widgets import Checkbox, Select

    from exops.tui.screens.params import ParamsScreen
    app = ExopsApp(bundle=str(litware_bundle))
    async with app.run_test(size=(120, 40)) as pilot:
        fix = await open_fix_for_the_orphan(app, pilot)
        await wait_until(pilot, lambda: fix.phase == "planned")
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, ParamsScreen))
        form = app.screen
        for param in fix.chosen.fix.params:              # one field per declared parameter
            assert form.query(f"#param-{param.name}")
        assert form.query_one("#param-dn", Input).value == ORPHAN
        assert isinstance(form.query_one("#param-replace_site_folder"), Checkbox)
        databases = form.query_one("#param-pf_db", Select)   # choices from the facts, best first
        assert "PF01" in str(databases._options[1][0])
        dn = form.query_one("#param-dn", Input)
        dn.value = ""
        dn.focus()
        await pilot.press("enter")   # submitting any field plans, after the same validation as the CLI
        assert "--dn is required" in plain(form.query_one("#params-problem").render())
        dn.value = ORPHAN
        form.query_one("#param-ag_name", Input).value = "Recreated AG"
        await pilot.press("enter")
        await wait_until(pilot, lambda: fix.phase == "planned" and fix.plan.params.get("ag_name") == "Recreated AG")
        assert "CN=Recreated AG," in plan_text(fix)
