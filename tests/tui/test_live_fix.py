"""The whole triage against a real Samba AD DC, through the TUI: checks run live, the orphan's fix
is planned, read, confirmed by typing, applied and verified step by step, the finding goes away;
then the change is undone from the history and the finding is back."""
from __future__ import annotations

import ssl

import pytest
from ldap3 import BASE, Connection, Server, Tls
from textual.widgets import DataTable, OptionList

from exops.dn import admin_group_dn
from exops.tui.app import ExopsApp
from exops.tui.screens.confirm import ConfirmScreen
from exops.tui.screens.findings import FindingsScreen
from exops.tui.screens.fix import FixScreen
from exops.tui.screens.history import HistoryScreen
from exops.tui.widgets.plan_view import PlanView
from tests.tui.helpers import ORPHAN, plain, screen_text, settle, wait_until

pytestmark = [pytest.mark.samba, pytest.mark.slow]

AG_DN = admin_group_dn("DC=litware,DC=com", "EUROPE", "First Administrative Group")
PASSWORD_ENV = "EXOPS_LDAP_PASSWORD"


@pytest.fixture
def live_config(fresh_dc, tmp_path, monkeypatch):
    """A fresh litware DC and an exops.yaml for it (validated LDAPS, the journal in tmp_path)."""
    dc = fresh_dc().running
    config = tmp_path / "exops.yaml"
    config.write_text(
        f"directory:\n  url: {dc.url_ldaps}\n  user: {dc.admin_user}\n"
        f"  password_env: {PASSWORD_ENV}\n  ca_file: {dc.ca_file}\n"
        f"journal: {tmp_path / 'journal.sqlite'}\n")
    monkeypatch.setenv(PASSWORD_ENV, dc.admin_password)
    monkeypatch.delenv("EXOPS_FAULT", raising=False)
    return dc, config


def read_ag(dc):
    tls = Tls(ca_certs_file=dc.ca_file, validate=ssl.CERT_REQUIRED)
    conn = Connection(Server(dc.url_ldaps, use_ssl=True, tls=tls), dc.admin_user, dc.admin_password,
                      auto_bind=True)
    found = conn.search(AG_DN, "(objectClass=*)", BASE,
                        attributes=["legacyExchangeDN", "siteFolderServer", "objectClass"])
    entry = conn.entries[0] if found and conn.entries else None
    conn.unbind()
    return entry


def orphan_is_critical(app: ExopsApp) -> bool:
    return any(f.check_id == "FB-ORPHAN-DN" and f.target == ORPHAN and f.severity.value == "critical"
               for f in app.session.report.findings)


def plan_text(screen) -> str:
    return "\n".join(plain(static.content, 140) for static in screen.query_one(PlanView).query("Static"))


async def test_fix_the_orphan_live_then_undo_it_from_the_history(live_config):
    dc, config = live_config
    app = ExopsApp(config_path=str(config))
    async with app.run_test(size=(120, 40)) as pilot:
        # The checks run live, against the directory of the configuration.
        await wait_until(pilot, lambda: app.session.phase in ("done", "failed"), timeout=60)
        assert app.session.phase == "done", app.session.error
        assert app.session.report.source.startswith(f"directory {dc.url_ldaps}")
        assert orphan_is_critical(app)

        # The orphan on the findings screen, then its fixes.
        await pilot.press("f", "slash", *"FB-ORPHAN-DN", "enter")
        await pilot.pause()
        findings: FindingsScreen = app.screen
        assert findings.highlighted().target == ORPHAN
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, FixScreen) and app.screen.suggestions)
        fix: FixScreen = app.screen
        names = [s.fix.name for s in fix.suggestions]
        assert names[:2] == ["freebusy", "freebusy-rewrite"]

        # Pick freebusy and read its plan: made from the live directory, nothing changed yet.
        choices = fix.query_one("#fix-choices", OptionList)
        choices.focus()
        choices.highlighted = names.index("freebusy")
        await pilot.press("enter")
        await wait_until(pilot, lambda: fix.phase == "planned", timeout=60)
        assert fix.plan.fix == "freebusy" and len(fix.plan.steps) == 1
        text = plan_text(fix)
        assert f"legacyExchangeDN: {ORPHAN}" in text
        assert "changetype: add" in text and "CN=PF01,CN=InformationStore,CN=L12EX1" in text
        assert "Nothing has changed yet" in plain(fix.query_one("#fix-status").content, 200)
        assert "exops --config" in text
        assert dc.admin_password not in screen_text(app)
        assert read_ag(dc) is None
        assert dc.url_ldaps in screen_text(app)  # where the change will go, before it goes

        # Apply asks for the AG's name; the button stays off until it is typed, escape cancels.
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        confirm: ConfirmScreen = app.screen
        assert confirm.word == "First Administrative Group"
        assert confirm.query_one("#confirm-go").disabled
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is fix and read_ag(dc) is None

        await pilot.press("a")
        await pilot.pause()
        confirm = app.screen
        await pilot.press(*"First Administrative")
        await pilot.press("enter")  # not the whole word yet: nothing happens
        await pilot.pause()
        assert app.screen is confirm and read_ag(dc) is None
        await pilot.press(*" Group")
        await pilot.pause()
        assert not confirm.query_one("#confirm-go").disabled
        await pilot.press("enter")

        # Each step applies and verifies live, then the verification runs, then the triage.
        await wait_until(pilot, lambda: fix.phase in ("done", "stopped"), timeout=60)
        status = plain(fix.query_one("#fix-status").content, 200)
        assert fix.phase == "done", status
        assert fix.query_one(PlanView).step(1).state == "verified"
        assert "Resolved" in status and "change 1" in status
        ag = read_ag(dc)
        assert ag is not None
        assert str(ag.legacyExchangeDN) == ORPHAN
        assert str(ag.siteFolderServer).startswith("CN=PF01,CN=InformationStore,CN=L12EX1,")
        assert "msExchAdminGroup" in ag.objectClass.values

        await wait_until(pilot, lambda: app.session.phase == "done" and not orphan_is_critical(app),
                         timeout=60)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, FindingsScreen)
        assert ORPHAN not in [f.target for f in app.screen.rows if f.check_id == "FB-ORPHAN-DN"]

        # The history lists the change with its before-state; u undoes it after its ID is typed.
        await pilot.press("h")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.changes)
        history: HistoryScreen = app.screen
        change = history.changes[0]
        assert (change.id, change.fix, change.status) == (1, "freebusy", "applied")
        table = history.query_one(DataTable)
        assert [cell.plain for cell in table.get_row_at(0)][:4] == ["1", change.started.replace("T", " ")[:19], "freebusy", "applied"]
        detail = plan_text(history)
        assert "absent (the object did not exist)" in detail and f"legacyExchangeDN: {ORPHAN}" in detail

        await pilot.press("u")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and app.screen.word == "1"
        assert AG_DN in plain(app.screen.query_one("#confirm-body").content, 200)
        await pilot.press("1", "enter")
        await wait_until(pilot, lambda: history.undoing is None and history.changes
                         and history.changes[0].status != "applied", timeout=60)
        assert history.changes[0].status == "undone"
        assert "Change 1 undone" in plain(history.query_one("#history-status").content, 200)
        assert read_ag(dc) is None

        await wait_until(pilot, lambda: app.session.phase == "done" and orphan_is_critical(app),
                         timeout=60)
        await settle(app, pilot)
        assert not app.changing
