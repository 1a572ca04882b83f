"""The TUI's logic without a terminal: filtering, column widths, charts, evidence layout, session."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from exops.facts.events import EventFacts, EventGroup, LogScan
from exops.model import CheckRun, Evidence, Finding, Report, Severity
from exops.registry import CheckSpec
from exops.tui.screens.export import format_for, problem_with
from exops.tui.screens.findings import column_widths
from exops.tui.session import Session
from exops.tui.widgets.checks import area_title
from exops.tui.widgets.event_chart import bar_rows, buckets, day_range, series_from
from exops.tui.widgets.evidence import Palette, evidence_renderables, summary_line, when
from exops.tui.widgets.finding_filter import FindingFilter
from tests.tui.helpers import ORPHAN, plain

WHEN = datetime(2011, 8, 9, 15, 7, tzinfo=UTC)
PALETTE = Palette(muted="grey50", accent="yellow", heading="blue")


def finding(check_id: str, severity: Severity, target: str, summary: str = "") -> Finding:
    return Finding(check_id=check_id, severity=severity, target=target, summary=summary or check_id)


FINDINGS = (
    finding("FB-ORPHAN-OTHER", Severity.INFO, ORPHAN, "2 contacts, 1 group carry it"),
    finding("FB-ORPHAN-DN", Severity.CRITICAL, ORPHAN, "152 mailboxes have a legacyExchangeDN under it"),
    finding("FB-SITEFOLDER", Severity.WARNING, "CN=Amsterdam,CN=Administrative Groups"),
    finding("FB-EVENT-3047", Severity.OK, "/o=EUROPE/ou=Amsterdam"),
)


def test_filter_text_matches_id_target_or_summary_case_insensitively_every_term():
    assert [f.check_id for f in FindingFilter("152 MAILBOXES").apply(FINDINGS)] == ["FB-ORPHAN-DN"]
    assert [f.check_id for f in FindingFilter("amsterdam").apply(FINDINGS)] == ["FB-SITEFOLDER", "FB-EVENT-3047"]
    assert [f.check_id for f in FindingFilter("orphan contacts").apply(FINDINGS)] == ["FB-ORPHAN-OTHER"]
    assert FindingFilter("first administrative").apply(FINDINGS)[0].check_id == "FB-ORPHAN-DN"


def test_filter_finds_a_user_named_in_the_evidence():
    user = Evidence(kind="directory", title="mailbox 3 of 152: CN=Europe User 003,OU=Exchange Users",
                    data={"dn": "CN=Europe User 003,OU=Exchange Users,DC=litware,DC=com"})
    with_user = Finding("FB-ORPHAN-DN", Severity.CRITICAL, ORPHAN, "152 mailboxes", evidence=(user,))
    assert FindingFilter("europe user 003").apply((with_user, *FINDINGS)) == [with_user]


def test_filter_hides_severities_and_sorts_worst_first_by_default():
    shown = FindingFilter().toggled(Severity.OK).apply(FINDINGS)
    assert [f.severity for f in shown] == [Severity.CRITICAL, Severity.WARNING, Severity.INFO]
    assert FindingFilter().toggled(Severity.OK).active and not FindingFilter().active
    by_id = FindingFilter(sort="id").apply(FINDINGS)
    assert [f.check_id for f in by_id] == sorted(f.check_id for f in FINDINGS)
    sorts = [FindingFilter().next_sort().sort, FindingFilter(sort="summary").next_sort().sort]
    assert sorts == ["id", "severity"]


def test_narrow_tables_keep_the_summary_over_a_repeated_target():
    narrow, wide = column_widths(80, list(FINDINGS)), column_widths(120, list(FINDINGS))
    assert "target" not in narrow and narrow["summary"] >= 40
    assert wide["target"] >= len(ORPHAN) and wide["summary"] > 10
    assert sum(wide.values()) + 2 * len(wide) + 3 <= 120


def groups(*spec: tuple[int, str, str, dict[str, int]]) -> EventFacts:
    made = tuple(EventGroup(event_id, "MSExchange FreeBusy Assistant", dn, computer,
                            sum(per_day.values()), WHEN, WHEN, per_day=per_day)
                 for event_id, dn, computer, per_day in spec)
    return EventFacts(scans=(LogScan("App.evtx", "python", 100, groups=made),))


def test_series_merge_a_dn_across_servers_and_spellings_and_order_by_event():
    events = groups((3047, ORPHAN, "L12EX1", {"2011-08-10": 1}),
                    (14031, ORPHAN, "L12EX1", {"2011-08-01": 3, "2011-08-03": 2}),
                    (14031, ORPHAN.lower(), "L12EX2", {"2011-08-01": 1}))
    series = series_from(events)
    assert [(s.event_id, s.total) for s in series] == [(14031, 6), (3047, 1)]
    assert series[0].per_day == {"2011-08-01": 4, "2011-08-03": 2}
    assert series[0].per_server == {"L12EX1": 5, "L12EX2": 1}
    days = day_range(series)
    assert len(days) == 10 and days[0].isoformat() == "2011-08-01"  # gaps are days too


def test_buckets_fold_days_that_do_not_fit_and_bars_never_hide_a_small_count():
    days = day_range(series_from(groups((14031, ORPHAN, "L12EX1", {"2011-01-01": 1, "2011-12-31": 1}))))
    grouped, column = buckets(days, 70)
    assert len(grouped) <= 70 and sum(len(g) for g in grouped) == 365 and column == 1
    rows = bar_rows([100, 1, 0], rows=3)
    assert [r[0] for r in rows] == ["█", "█", "█"]
    assert rows[2][1] != " " and rows[2][2] == " "


def test_event_evidence_shows_time_server_id_dn_and_excerpt_per_event_group():
    excerpt = f"Failed to publish free/busy data to the public folder {ORPHAN}"
    events = tuple(Evidence("event", "Event 14031", {
        "time": (WHEN - timedelta(hours=3 * n)).isoformat(), "computer": "L12EX1",
        "event_id": 14031, "provider": "MSExchange FreeBusy Assistant", "record_id": 4 + n,
        "dn": ORPHAN, "error_code": "0x8004010f", "excerpt": excerpt, "count": 68,
        "first_seen": WHEN.isoformat(), "last_seen": WHEN.isoformat()}) for n in range(2))
    reports = Evidence("event", "MSExchangeFBPublish 8207", {"time": WHEN, "computer": "L12EX2",
                                                            "event_id": 8207, "dn": ORPHAN,
                                                            "excerpt": "Error updating public folder"})
    text = "".join(plain(r) for r in evidence_renderables((*events, reports), PALETTE))
    assert "Event 14031 · MSExchange FreeBusy Assistant · L12EX1" in text
    assert "68 logged" in text and "2 shown" in text and "2011-08-09 12:07:00" in text
    assert "Failed to publish free/busy data" in text
    assert "error 0x8004010f" in text
    assert "Event 8207" in text and "L12EX2" in text and "Error updating public folder" in text


def test_directory_text_and_unknown_evidence_are_all_shown():
    evidence = (
        Evidence("directory", "mailbox", {"dn": "CN=Ann Lee,DC=litware,DC=com", "kind": "mailbox",
                                          "attributes": {"legacyExchangeDN": f"{ORPHAN}/cn=Recipients/cn=alee"}}),
        Evidence("text", "Get-PublicFolder output", {"text": "Name : EX:/o=EUROPE"}),
        Evidence("loadbalancer", "vlm1 real server", {"state": "drained", "connections": 0}),
    )
    text = "".join(plain(r) for r in evidence_renderables(evidence, PALETTE))
    assert "Directory · 1 entry (mailbox)" in text and "CN=Ann Lee,DC=litware,DC=com" in text
    assert "legacyExchangeDN" in text and "cn=alee" in text
    assert "Get-PublicFolder output" in text and "Name : EX:/o=EUROPE" in text
    assert "vlm1 real server" in text and "drained" in text
    assert summary_line(evidence) == "1 directory entry · 1 output · 1 loadbalancer"
    assert when("not a time") == "not a time"


def test_export_format_follows_the_extension_and_paths_are_checked(tmp_path):
    assert format_for("r.HTML") == "html" and format_for("r.htm") == "html"
    assert format_for("junit.xml") == "junit" and format_for("r.pdf") is None
    assert problem_with(tmp_path) and "does not exist" in problem_with(tmp_path / "no" / "r.md")
    assert problem_with(Path(tmp_path / "r.md")) is None


def test_areas_are_taken_from_the_checks_and_known_ones_spelled_nicely():
    assert [area_title(a) for a in ("freebusy", "casarray", "loadbalancer", "public_folders")] == [
        "Free/busy", "CAS array", "Load balancer", "Public folders"]


def test_session_follows_progress_then_takes_the_report_as_the_record():
    spec = CheckSpec("FB-ORPHAN-DN", "orphans", "freebusy", (), (), "docs", lambda: (), "exops.checks")
    other = CheckSpec("CAS-ARRAY", "array", "casarray", (), (), "docs", lambda: (), "exops.checks")
    session = Session(bundle="b").planned([spec, other])
    assert [c.state for c in session.checks] == ["pending", "pending"]
    report = Report("bundle b", WHEN, (FINDINGS[1],),
                    checks=(CheckRun("FB-ORPHAN-DN", "orphans", "freebusy", "ran"),
                            CheckRun("CAS-ARRAY", "array", "casarray", "skipped", "no servers")))
    done = session.finished(report)
    assert [(c.state, c.reason) for c in done.checks] == [("done", ""), ("skipped", "no servers")]
    assert done.checks[0].findings == (FINDINGS[1],) and done.checks[1].findings == ()
    failed = session.failed("bundle b: manifest.json is missing")
    assert failed.phase == "failed" and {c.state for c in failed.checks} == {"not run"}


# ---------------------------------------------------------------- fixes and history

def suggestion(name: str = "freebusy", **params):
    from exops.workbench import Suggestion
    from exops.registry import FixSpec, Param
    return Suggestion(FixSpec(name=name, title="", resolves=(), func=lambda *a, **k: None,
                              origin="test", params=(Param("dn", "the DN"),)), params or {"dn": ORPHAN})


def test_the_cli_command_names_the_sessions_config_or_bundle():
    from exops.tui.screens.fix import cli_command
    plain_command = f"exops fix freebusy --dn '{ORPHAN}'"
    assert cli_command(suggestion()) == plain_command
    assert cli_command(suggestion(), config_path="/etc/exops/prod.yaml") == \
        f"exops --config /etc/exops/prod.yaml fix freebusy --dn '{ORPHAN}'"
    assert cli_command(suggestion(), bundle="/evidence/eu.zip") == \
        f"{plain_command} --bundle /evidence/eu.zip --dry-run"
    assert "'/my configs/x.yaml'" in cli_command(suggestion(), config_path="/my configs/x.yaml")


def test_the_fix_screen_and_the_report_suggest_the_same_command_for_a_bundle():
    """One rule (advice.context_words) for both: a bundle's command is a dry run on that bundle;
    live, the report adds --dry-run and the fix screen, whose plan is on the screen, does not."""
    from exops.advice import context_words, in_words
    from exops.tui.screens.fix import cli_command
    assert cli_command(suggestion(), bundle="/evidence/eu.zip") == \
        in_words(suggestion(), *context_words(bundle="/evidence/eu.zip"))
    assert in_words(suggestion(), *context_words(config_path="/etc/exops/prod.yaml")) == \
        cli_command(suggestion(), config_path="/etc/exops/prod.yaml") + " --dry-run"


def test_applying_asks_for_the_ag_name_or_the_word_apply():
    from exops.plan import Plan
    from exops.tui.screens.fix import confirmation_word
    assert confirmation_word(Plan("freebusy", {"dn": ORPHAN, "ag_name": "First AG"}, ())) == "First AG"
    assert confirmation_word(Plan("freebusy-rewrite", {"dn": ORPHAN, "to_ag": "Amsterdam"}, ())) == "apply"


def test_ldif_previews_keep_their_rfc_2849_folds_and_are_never_wrapped():
    """What is shown is what ldifde reads: the fold (a continuation line starting with one space)
    where ldiftext put it, and no new line break inside a value however narrow the view."""
    from rich.console import Group

    from exops.ldiftext import add_record
    from exops.tui.widgets.steps import ldif_text
    folded = "\n".join(add_record(f"CN=First Administrative Group,CN=Administrative Groups,CN=EUROPE,"
                                  "CN=Microsoft Exchange,CN=Services", {"legacyExchangeDN": [ORPHAN]}))
    assert folded.splitlines()[1].startswith(" ")  # the DN is folded
    assert plain(ldif_text(folded, PALETTE), 200).splitlines() == folded.splitlines()
    narrow = plain(Group(ldif_text(folded, PALETTE)), 40).splitlines()  # (print joins bare Texts)
    assert len(narrow) == len(folded.splitlines())  # cropped at 40 columns, not wrapped
    assert narrow[1] == folded.splitlines()[1][:40]


def test_target_states_read_as_absent_or_their_attributes():
    from exops.tui.widgets.steps import state_lines
    assert "absent" in state_lines({"exists": False, "attributes": {}}, PALETTE).plain
    shown = state_lines({"exists": True, "attributes": {"siteFolderServer": [],
                                                        "proxyAddresses": ["SMTP:a@x", "X500:/o=A"]}},
                        PALETTE).plain
    assert shown == "siteFolderServer: (no value)\nproxyAddresses: SMTP:a@x | X500:/o=A"


def test_history_columns_fit_the_width_and_times_read_plainly():
    from exops.tui.screens.history import column_widths, params_line, when
    assert when("2011-08-10T09:14:03+00:00") == "2011-08-10 09:14:03" and when(None) == "—"
    assert params_line({"dn": ORPHAN, "pf_db": None, "replace_site_folder": False}) == f"dn={ORPHAN}"
    narrow, wide = column_widths(80, []), column_widths(120, [])
    assert "operator" not in narrow and "operator" in wide
    for total, widths in ((80, narrow), (120, wide)):
        assert sum(widths.values()) + 2 * len(widths) + 3 <= total


def test_a_password_that_is_not_in_the_environment_is_reported_not_prompted(monkeypatch):
    from exops.config import Config, DirectorySettings
    from exops.tui.live import missing_password
    settings = DirectorySettings(url="ldaps://dc", user="admin", password_env="EXOPS_TEST_PW")
    monkeypatch.delenv("EXOPS_TEST_PW", raising=False)
    assert "export EXOPS_TEST_PW=" in missing_password(Config(directory=settings))
    monkeypatch.setenv("EXOPS_TEST_PW", "secret")
    assert missing_password(Config(directory=settings)) is None
    kerberos = DirectorySettings(url="ldaps://dc", user="admin", auth="kerberos")
    assert missing_password(Config(directory=kerberos)) is None
