"""Free/busy checks over facts built by hand: no I/O, one behaviour per test."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from exops.diagnose import run_checks, select_checks
from exops.facts.directory import (AdminGroup, Container, DirectoryFacts, Organization, PrefixGroup,
                                   PublicFolderDatabase, RecipientExample)
from exops.facts.events import EventFacts, EventGroup, FreeBusyEvent, LogScan
from exops.facts.store import Facts
from exops.model import Severity

ORG = "CN=EUROPE,CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=litware,DC=com"
PF = f"CN=PF01,CN=InformationStore,CN=L12EX1,CN=Servers,CN=E2010,CN=Administrative Groups,{ORG}"
MODERN = "/o=EUROPE/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
ORPHAN = "/o=EUROPE/ou=First Administrative Group"
T0 = datetime(2011, 8, 9, 10, tzinfo=timezone.utc)


def ag(name, legacy, site_folder=PF):
    return AdminGroup(dn=f"CN={name},CN=Administrative Groups,{ORG}", name=name, legacy_dn=legacy,
                      site_folder_server=site_folder)


def prefix(value, **counts):
    examples = tuple(RecipientExample(dn=f"CN={k}{i},OU=Users,DC=litware,DC=com",
                                      legacy_dn=f"{value}/cn=Recipients/cn={k}{i}", kind=k)
                     for k, n in counts.items() for i in range(min(n, 2)))
    return PrefixGroup(prefix=value, counts=counts, examples=examples)


AG_CONTAINER = Container(dn=f"CN=Administrative Groups,{ORG}", object_class="msexchadmingroupcontainer",
                         children=1)
SERVERS = Container(dn=f"CN=Servers,CN=E2010,CN=Administrative Groups,{ORG}",
                    object_class="msexchserverscontainer", children=1)


def directory(*prefixes, ags=None, trees=("CN=Public Folders",), containers=(AG_CONTAINER, SERVERS)):
    return DirectoryFacts(
        source="test", organizations=(Organization(dn=ORG, name="EUROPE", legacy_dn="/o=EUROPE"),),
        admin_groups=tuple(ags if ags is not None else [ag("Exchange Administrative Group (FYDIBOHF23SPDLT)", MODERN)]),
        public_folder_databases=(PublicFolderDatabase(dn=PF, name="PF01"),),
        public_folder_trees=tuple(trees), containers=tuple(containers),
        recipient_prefixes=tuple(prefixes), recipients_scanned=sum(sum(p.counts.values()) for p in prefixes))


def events(*groups):
    return EventFacts(scans=(LogScan(path="Application.evtx", backend="python", records_read=100,
                                     groups=tuple(groups)),))


def group(event_id, dn, count=3, at=T0, provider="MSExchange FreeBusy Assistant", codes=()):
    example = FreeBusyEvent(event_id=event_id, provider=provider, time=at, computer="L12EX1.litware.com",
                            record_id=7, dns=(dn,) if dn else (), error_code=codes[0] if codes else None,
                            message=f"publish failed for {dn}")
    return EventGroup(event_id=event_id, provider=provider, dn=dn, computer="L12EX1.litware.com", count=count,
                      first_seen=at - timedelta(days=1), last_seen=at, error_codes=tuple(codes),
                      per_day={at.date().isoformat(): count}, examples=(example,))


def findings(facts, check_id):
    report = run_checks(facts, "test", select_checks([check_id]))
    return [f for f in report.findings if f.check_id == check_id]


def test_orphaned_prefix_is_critical_with_user_count_and_event_evidence():
    facts = Facts(directory(prefix(ORPHAN, mailbox=152, contact=2), prefix(MODERN, mailbox=360)),
                  events(group(14031, ORPHAN.lower(), count=68)))
    [finding] = findings(facts, "FB-ORPHAN-DN")
    assert finding.severity is Severity.CRITICAL
    assert finding.target == ORPHAN
    assert "152 mailboxes" in finding.summary
    kinds = {e.kind for e in finding.evidence}
    assert kinds == {"directory", "event"}
    assert "68 times" in finding.detail
    assert any("exops fix freebusy --dn" in fix for fix in finding.fixes)
    assert any("freebusy-rewrite" in fix and "FYDIBOHF23SPDLT" in fix for fix in finding.fixes)


def test_prefix_matching_an_existing_ag_in_another_case_is_fine():
    facts = Facts(directory(prefix(MODERN.upper(), mailbox=10)))
    [finding] = findings(facts, "FB-ORPHAN-DN")
    assert finding.severity is Severity.OK


def test_contacts_and_groups_under_orphaned_prefix_are_listed_apart():
    facts = Facts(directory(prefix(ORPHAN, contact=2, group=1)))
    assert findings(facts, "FB-ORPHAN-DN")[0].severity is Severity.OK
    [other] = findings(facts, "FB-ORPHAN-OTHER")
    assert other.severity is Severity.INFO
    assert "2 contacts" in other.summary and "1 group" in other.summary


def test_site_folder_server_missing_deleted_or_dangling_is_reported():
    deleted = "CN=PF02\\0ADEL:7a1b...,CN=Deleted Objects,CN=Configuration,DC=litware,DC=com"
    ags = [ag("A", "/o=EUROPE/ou=A", None), ag("B", "/o=EUROPE/ou=B", deleted),
           ag("C", "/o=EUROPE/ou=C", "CN=Nope,DC=litware,DC=com"), ag("D", "/o=EUROPE/ou=D", PF.lower())]
    facts = Facts(directory(prefix("/o=EUROPE/ou=A", mailbox=5), ags=ags))
    found = {f.target: f for f in findings(facts, "FB-SITEFOLDER")}
    assert set(found) == {"/o=EUROPE/ou=A", "/o=EUROPE/ou=B", "/o=EUROPE/ou=C"}
    a, b, c = found["/o=EUROPE/ou=A"], found["/o=EUROPE/ou=B"], found["/o=EUROPE/ou=C"]
    assert a.severity is Severity.CRITICAL and "no siteFolderServer" in a.summary
    assert "deleted" in b.summary and b.severity is Severity.WARNING
    assert "names no public folder database" in c.summary
    assert "--replace-site-folder" in b.fixes[0] and "--replace-site-folder" not in a.fixes[0]


def test_missing_public_folder_tree_is_critical():
    [finding] = findings(Facts(directory(trees=())), "FB-PF-TREE")
    assert finding.severity is Severity.CRITICAL and "0x80070005" in finding.detail
    assert "fix this first" in finding.summary and "msExchOwningPFTree" in finding.detail
    [passing] = findings(Facts(directory()), "FB-PF-TREE")
    assert passing.severity is Severity.OK and "CN=Public Folders found" in passing.summary


def test_empty_servers_container_warns():
    empty = Container(dn=f"CN=Servers,CN=Old,CN=Administrative Groups,{ORG}",
                      object_class="msexchserverscontainer", children=0)
    full = Container(dn=f"CN=Servers,CN=New,CN=Administrative Groups,{ORG}",
                     object_class="msexchserverscontainer", children=2)
    [finding] = findings(Facts(directory(containers=[AG_CONTAINER, empty, full])), "FB-EMPTY-SERVERS")
    assert finding.target == empty.dn and finding.severity is Severity.WARNING


def test_14031_is_critical_and_groups_dns_case_insensitively():
    facts = Facts(events(group(14031, ORPHAN, 5), group(14031, ORPHAN.upper(), 4)))
    [finding] = findings(facts, "FB-EVENT-14031")
    assert finding.severity is Severity.CRITICAL and "event 14031 logged 9 times" in finding.summary


def test_3047_after_14031_resolves_it():
    facts = Facts(events(group(14031, ORPHAN, at=T0),
                                group(3047, ORPHAN, 1, at=T0 + timedelta(hours=2), provider="MSExchangeIS Public Store")))
    assert findings(facts, "FB-EVENT-14031")[0].severity is Severity.OK
    [created] = findings(facts, "FB-EVENT-3047")
    assert "repaired" in created.summary


def test_3047_before_a_later_14031_does_not_resolve_it():
    facts = Facts(events(group(3047, ORPHAN, 1, at=T0 - timedelta(days=3), provider="MSExchangeIS Public Store"),
                                group(14031, ORPHAN, at=T0)))
    assert findings(facts, "FB-EVENT-14031")[0].severity is Severity.CRITICAL


def test_8207_names_the_cause_of_its_error_code():
    facts = Facts(events(group(8207, "", 2, provider="MSExchangeFBPublish", codes=("0x80070005",))))
    [finding] = findings(facts, "FB-EVENT-8207")
    assert "msExchPFTree" in finding.summary and finding.severity is Severity.CRITICAL
    assert finding.target == "L12EX1.litware.com"     # no AG in the event: the server it came from


def test_checks_without_their_facts_are_skipped_and_run_is_unknown():
    report = run_checks(Facts(), "nothing")
    assert all(c.status == "skipped" for c in report.checks)
    assert report.worst is Severity.UNKNOWN and report.worst.exit_code == 3


def test_fabrikam_findings_share_the_ag_as_target_and_name_their_cause_and_order():
    from exops.collect import gather_facts
    from tests.conftest import SCENARIOS
    facts, source = gather_facts(bundle=str(SCENARIOS / "fabrikam" / "bundle"))
    report = run_checks(facts, source)
    by_target = {}
    for f in report.findings:
        by_target.setdefault(f.target.casefold(), set()).add(f.check_id)
    assert {"FB-SITEFOLDER", "FB-EVENT-8207"} <= by_target["/o=fabrikam/ou=paris"]
    assert {"FB-ORPHAN-DN", "FB-EVENT-14031"} <= by_target["/o=fabrikam/ou=first administrative group"]
    modern = "/o=FABRIKAM/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
    assert {"FB-PF-TREE", "FB-EVENT-8207"} <= by_target[modern.casefold()]
    errors = {f.target: f for f in report.findings if f.check_id == "FB-EVENT-8207"}
    assert "see FB-SITEFOLDER /o=FABRIKAM/ou=Paris" in errors["/o=FABRIKAM/ou=Paris"].detail
    assert "see FB-PF-TREE" in errors[modern].detail
    [tree] = [f for f in report.findings if f.check_id == "FB-PF-TREE"]
    assert "fix this first" in tree.summary
    assert any("PF01" in k for e in tree.evidence for k in e.data.get("attributes", {}))
