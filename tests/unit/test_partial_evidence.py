"""Partial and duplicated evidence (fixtures/scenarios/partial): a directory export that lacks a
part makes the checks that need it UNKNOWN with the export that supplies it, never a false
CRITICAL; evidence given twice counts once."""
from __future__ import annotations

import subprocess
import sys

import pytest

from exops.collect import gather_facts
from exops.diagnose import run_checks
from exops.facts.directory import DirectoryFacts
from exops.facts.events import EventFacts
from exops.lab.evtx_writer import excerpt
from exops.model import Severity
from exops.sources.evtx_format import CHUNK_SIZE, HEADER_SIZE
from tests.conftest import REPO

PARTIAL = REPO / "fixtures" / "scenarios" / "partial"
LITWARE = REPO / "fixtures" / "scenarios" / "litware" / "bundle"
DIRECTORY_CHECKS = {"FB-ORPHAN-DN", "FB-ORPHAN-OTHER", "FB-SITEFOLDER", "FB-PF-TREE", "FB-EMPTY-SERVERS"}


def report_of(*ldifs, **sources):
    facts, source = gather_facts(ldif=tuple(str(PARTIAL / name) for name in ldifs), **sources)
    return facts, run_checks(facts, source)


def by_check(report):
    out = {}
    for f in report.findings:
        out.setdefault(f.check_id, []).append(f)
    return out


@pytest.mark.parametrize("name, says, export", [
    ("domain-only.ldf", "no Exchange organization", "-d \"CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=litware,DC=com\""),
    ("config-filtered.ldf", "no CN=Administrative Groups container", "without a filter"),
])
def test_an_export_without_the_configuration_is_unknown_never_critical(name, says, export):
    _, report = report_of(name)
    found = by_check(report)
    for check_id in DIRECTORY_CHECKS:
        [finding] = found[check_id]
        assert finding.severity is Severity.UNKNOWN, (check_id, finding.summary)
        assert says in finding.summary and export in finding.detail
    assert not any(f.severity is Severity.CRITICAL for f in report.findings)
    assert report.worst.exit_code == 3


def test_a_configuration_without_recipients_decides_only_what_it_holds():
    _, report = report_of("config-only.ldf")
    found = by_check(report)
    assert found["FB-ORPHAN-DN"][0].severity is Severity.UNKNOWN
    assert "(legacyExchangeDN=*)" in found["FB-ORPHAN-DN"][0].detail
    assert [f.severity for f in found["FB-PF-TREE"]] == [Severity.OK]
    assert "CN=Public Folders" in found["FB-PF-TREE"][0].summary
    assert [f.severity for f in found["FB-SITEFOLDER"]] == [Severity.OK]
    assert report.worst is Severity.UNKNOWN


def test_the_two_part_recipe_gives_what_the_full_export_gives():
    split, split_report = report_of("config-only.ldf", "recipients.ldf")
    full, full_report = gather_facts(bundle=str(LITWARE))[0], None
    assert split.get(DirectoryFacts).recipient_prefixes == full.get(DirectoryFacts).recipient_prefixes
    assert split.get(DirectoryFacts).admin_groups == full.get(DirectoryFacts).admin_groups
    [orphan] = by_check(split_report)["FB-ORPHAN-DN"]
    assert orphan.severity is Severity.CRITICAL and orphan.target == "/o=EUROPE/ou=First Administrative Group"


def test_every_entry_twice_counts_once_and_says_so():
    doubled, _ = report_of("doubled.ldf")
    single, _ = report_of("config-only.ldf", "recipients.ldf")
    d, s = doubled.get(DirectoryFacts), single.get(DirectoryFacts)
    assert d.recipient_prefixes == s.recipient_prefixes and d.recipients_scanned == s.recipients_scanned
    entries = (PARTIAL / "doubled.ldf").read_text().count("\ndn: ") + 1
    assert d.duplicates == entries // 2
    assert "counted once" in d.notes[0]


def test_the_same_export_given_twice_counts_once():
    twice, _ = report_of("recipients.ldf", "recipients.ldf")
    once, _ = report_of("recipients.ldf")
    assert twice.get(DirectoryFacts).recipient_prefixes == once.get(DirectoryFacts).recipient_prefixes
    assert any("counted once" in n for n in twice.get(DirectoryFacts).notes)


def test_a_log_copied_and_listed_twice_counts_once():
    facts, report = gather_facts(bundle=str(PARTIAL / "doubled-bundle"))
    [scan] = facts.get(EventFacts).scans
    assert len(scan.notes) >= 2 and all("counted once" in n for n in scan.notes[-2:])
    alone, _ = gather_facts(evtx=(str(LITWARE / "logs" / "L12EX1-Application.evtx"),))
    assert [g.count for g in scan.groups] == [g.count for g in alone.get(EventFacts).groups]


def test_events_in_two_logs_that_overlap_count_once(tmp_path):
    """The same server's log exported twice, days apart: the second export repeats the end of
    the first. Every event counts once, the checks see the counts of the whole log, and a note
    says how many were repeated."""
    whole = LITWARE / "logs" / "L12EX1-Application.evtx"
    chunks = (whole.stat().st_size - HEADER_SIZE) // CHUNK_SIZE
    monday, friday = tmp_path / "monday.evtx", tmp_path / "friday.evtx"
    excerpt(whole, monday, range(0, chunks * 2 // 3))
    excerpt(whole, friday, range(chunks // 3, chunks))
    both, _ = gather_facts(evtx=(str(monday), str(friday)))
    alone, _ = gather_facts(evtx=(str(whole),))
    counts = {(g.event_id, g.dn.lower(), g.computer.lower()): g.count for g in alone.get(EventFacts).groups}
    merged: dict = {}
    for g in both.get(EventFacts).groups:
        key = (g.event_id, g.dn.lower(), g.computer.lower())
        merged[key] = merged.get(key, 0) + g.count
        assert sum(g.per_day.values()) == g.count
    assert merged == counts
    scans = both.get(EventFacts).scans
    assert scans[0].notes == () and "also in another log given" in scans[1].notes[-1]
    [finding] = [f for f in run_checks(both, "").findings if f.check_id == "FB-EVENT-14031"]
    [single] = [f for f in run_checks(alone, "").findings if f.check_id == "FB-EVENT-14031"]
    assert finding.summary == single.summary and "68 times" in finding.summary


def test_nothing_decisive_exits_3_from_the_command_line():
    result = subprocess.run([sys.executable, "-m", "exops", "check", "--ldif", str(PARTIAL / "domain-only.ldf"),
                             "--format", "json"], capture_output=True, text=True)
    assert result.returncode == 3, result.stderr
    assert '"status": "unknown"' in result.stdout


def test_the_table_prints_the_export_command_once_for_the_checks_that_need_it():
    result = subprocess.run([sys.executable, "-m", "exops", "check", "--ldif", str(PARTIAL / "domain-only.ldf")],
                            capture_output=True, text=True)
    assert result.returncode == 3
    assert result.stdout.count('ldifde -f exchange-config.ldf -d "CN=Microsoft Exchange,CN=Services,'
                               'CN=Configuration,DC=litware,DC=com"') == 1


@pytest.mark.parametrize("fmt", ["table", "json", "md", "html"])
def test_reports_say_that_entries_were_counted_once(fmt):
    result = subprocess.run([sys.executable, "-m", "exops", "check", "--ldif", str(PARTIAL / "doubled.ldf"),
                             "--format", fmt], capture_output=True, text=True)
    assert result.returncode == 2 and "listed more than once under the same DN" in result.stdout
