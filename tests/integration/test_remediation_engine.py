"""The remediation engine against a real directory: a failing step rolls back the applied ones,
and the journal keeps the before-state of every step it touched."""
from __future__ import annotations

import pytest

from exops.journal import Journal
from exops.plan import Plan, Step
from exops.remediation import ChangeFailed, apply_plan, undo_change
from exops.sources.directory import DirectorySource
from exops.sources.directory_writer import LdapExecutor

pytestmark = pytest.mark.samba

ABSENT = {"exists": False, "attributes": {}}
OU = "OU=Exchange Users,DC=litware,DC=com"


def create(step_id, dn, attrs, classes=("top", "contact")):
    return Step(id=step_id, title=f"create {dn}", action="ldap.add", target=dn, before=ABSENT,
                after={"exists": True, "attributes": attrs}, preview="", params={"objectClass": list(classes)})


@pytest.fixture
def directory(fresh_dc):
    dc = fresh_dc().running
    with DirectorySource(dc.directory_settings(), dc.admin_password) as source:
        yield source


def test_failed_step_undoes_the_applied_ones_in_reverse(directory, tmp_path):
    first = create("a", f"CN=Rollback One,{OU}", {"displayName": ["one"]})
    second = create("b", f"CN=Rollback Two,{OU}", {"displayName": ["two"]})
    doomed = create("c", f"CN=Orphan,OU=No Such OU,{OU}", {"displayName": ["x"]})
    plan = Plan(fix="test", params={}, steps=(first, second, doomed))
    executor = LdapExecutor(directory)
    journal = Journal(tmp_path / "j.sqlite")
    events = []
    with pytest.raises(ChangeFailed, match="step 3 .* failed.*2 applied step"):
        apply_plan(plan, {"ldap": executor}, journal, progress=events.append)
    assert executor.read(first) == ABSENT and executor.read(second) == ABSENT
    undone = [e.step.id for e in events if e.state == "undone"]
    assert undone == ["b", "a"]
    [change] = journal.changes()
    assert change.status == "rolled-back"
    assert [s.status for s in change.steps] == ["undone", "undone", "failed"]


def test_modify_journals_before_state_and_undo_restores_it_exactly(directory, tmp_path):
    dn = f"CN=Europe User 001,{OU}"
    executor = LdapExecutor(directory)
    probe = Step(id="p", title="", action="ldap.modify", target=dn, before={}, preview="",
                 after={"exists": True, "attributes": {"proxyAddresses": [], "displayName": []}})
    before = executor.read(probe)
    after = {"exists": True, "attributes": {"proxyAddresses": ["SMTP:eu001@litware.com", "X500:/o=OLD/ou=x/cn=eu001"],
                                            "displayName": ["Renamed"]}}
    step = Step(id="m", title="modify", action="ldap.modify", target=dn, before=before, after=after, preview="")
    journal = Journal(tmp_path / "j.sqlite")
    result = apply_plan(Plan(fix="test", params={}, steps=(step,)), {"ldap": executor}, journal)
    assert executor.read(step)["attributes"]["displayName"] == ["Renamed"]
    assert journal.change(result.change_id).steps[0].before == before
    undo_change(result.change_id, {"ldap": executor}, journal)
    assert executor.read(step) == before
