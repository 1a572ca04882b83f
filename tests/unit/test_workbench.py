"""The Workbench knows no protocol: sources, executors and fixes are whatever is registered.

A fix declared here plans against an in-memory source; it proves that a failing source leaves
UNKNOWN behind without sinking the run, that plans record what they resolve, and that a saved
plan cannot show one thing and do another.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from exops import registry
from exops.diagnose import run_checks
from exops.errors import ExopsError
from exops.facts.directory import DirectoryFacts
from exops.facts.store import Facts
from exops.journal import Journal
from exops.model import Finding, Severity
from exops.plan import Plan, PlanError, PlanStale
from exops.registry import CheckSpec, Param, RegistryError
from exops.sources.source import collect_from
from exops.workbench import Workbench, plan_fix
from tests.unit.memory_executor import ABSENT, MemoryExecutor, setting


@dataclass(frozen=True)
class Widgets:
    """A fact type of a pretend area."""
    names: tuple[str, ...]


class MemorySource:
    provides = (Widgets,)

    def __init__(self, executor: MemoryExecutor, down: bool = False):
        self.executor, self.down, self.name = executor, down, "memory lab"

    def facts(self, *, cancel=None, progress=None) -> Facts:
        if self.down:
            raise ExopsError("memory lab: connection refused")
        return Facts(Widgets(tuple(sorted(self.executor.states()))))

    def executors(self):
        return {"mem": self.executor}

    def close(self):
        pass


def widget_findings(widgets: Widgets):
    yield Finding("MEM-MISSING", Severity.CRITICAL, "w1", "widget w1 is missing") \
        if "w1" not in widgets.names else Finding("MEM-MISSING", Severity.OK, "w1", "w1 is there")


def plan_widget(facts, live, *, name: str, colour: str | None = None):
    """Like a real planner: the step starts from the state it finds, and none is needed when done."""
    current = live[0].executor.states().get(name, ABSENT) if live else ABSENT
    after = {"exists": True, "value": colour or name}
    steps = () if current == after else (setting(name, before=current, after=after),)
    return Plan(fix="make-widget", params={"name": name, "colour": colour}, steps=steps)


@pytest.fixture
def widget_fix(monkeypatch):
    check = CheckSpec(id="MEM-MISSING", title="Widget missing", area="memory", needs=(Widgets,), uses=(),
                      docs="", func=widget_findings, origin="tests")
    monkeypatch.setitem(registry._checks, "MEM-MISSING", check)
    registry.fix("make-widget", title="Make a widget", resolves=("MEM-MISSING",), needs=(Widgets,), live=True,
                 suggest=lambda finding, facts: {"name": finding.target},
                 params=(Param("name", "the widget", required=True), Param("colour", "its colour")))(plan_widget)
    yield registry._fixes["make-widget"]
    del registry._fixes["make-widget"]


@pytest.fixture
def bench(tmp_path):
    memory = MemoryExecutor(tmp_path / "states.json")
    workbench = Workbench([MemorySource(memory)], Journal(tmp_path / "journal.sqlite"))
    yield workbench
    workbench.close()


def test_a_source_that_fails_leaves_its_checks_unknown_and_the_others_run(tmp_path, widget_fix):
    from exops.facts.events import EventFacts, LogScan
    from exops.sources.evidence import EvidenceFile
    down = MemorySource(MemoryExecutor(tmp_path / "s.json"), down=True)

    class Logs:
        name, provides = "logs", (EventFacts,)

        def facts(self, **_):
            return Facts(EventFacts(scans=(LogScan(path="a.evtx", backend="python", records_read=3),)))

    facts = collect_from([down, Logs()])
    assert facts.get(EventFacts) is not None and facts.get(Widgets) is None
    report = run_checks(facts, "test", [registry._checks["MEM-MISSING"]])
    [finding] = report.findings
    assert finding.severity is Severity.UNKNOWN and report.worst is Severity.UNKNOWN
    assert "could not be checked: memory lab: memory lab: connection refused" in finding.summary
    assert EvidenceFile  # the loose-file source is the same protocol (used by `exops check --evtx`)


def test_a_missing_fact_type_is_not_run_with_the_reason_not_unknown():
    spec = CheckSpec(id="X", title="x", area="a", needs=(DirectoryFacts,), uses=(), docs="",
                     func=lambda d: (), origin="tests")
    report = run_checks(Facts(), "test", [spec])
    assert report.findings == () and report.checks[0].status == "skipped"
    assert "no directory facts" in report.checks[0].reason


def test_a_plan_records_the_findings_it_resolves_and_verification_collects_again(bench, widget_fix):
    plan = bench.plan("make-widget", {"name": "w1"})
    assert plan.resolves == ("MEM-MISSING w1",)
    assert not bench.verify(plan).resolved
    bench.apply(plan)
    assert bench.verify(plan).resolved


def test_parameters_are_validated_against_the_declaration(bench, widget_fix):
    with pytest.raises(RegistryError, match="--name is required"):
        plan_fix("make-widget", {}, bench.facts())
    with pytest.raises(RegistryError, match="unknown parameter"):
        plan_fix("make-widget", {"name": "w1", "size": 3}, bench.facts())
    with pytest.raises(RegistryError, match="--colour must be str"):
        plan_fix("make-widget", {"name": "w1", "colour": 7}, bench.facts())
    with pytest.raises(PlanError, match="cannot be planned: no Widgets"):
        plan_fix("make-widget", {"name": "w1"}, Facts())


def edited(plan: Plan, **changes) -> Plan:
    data = json.loads(plan.to_json())
    data["steps"][0].update(changes)
    return Plan.from_json(json.dumps(data))


@pytest.mark.parametrize("changes", [{"title": "Create administrative group"}, {"target": "w2"},
                                     {"after": {"exists": True, "value": "red"}},
                                     {"preview": "nothing to see"}, {"action": "mem.delete"}])
def test_an_edited_plan_file_is_refused_before_anything_is_journaled(bench, widget_fix, changes):
    saved = edited(bench.plan("make-widget", {"name": "w1"}), **changes)
    with pytest.raises(PlanError, match="not what fix make-widget plans|changed since"):
        bench.replan(saved)
    assert bench.journal.changes() == []


def test_a_saved_plan_is_shown_and_applied_as_the_fix_makes_it(bench, widget_fix):
    saved = Plan.from_json(bench.plan("make-widget", {"name": "w1", "colour": "red"}).to_json())
    plan = bench.replan(saved)
    assert plan.describe().splitlines()[1:] == saved.describe().splitlines()[1:]
    bench.apply(plan)
    assert bench.replan(saved).noop   # applied since: every target reads as planned


def test_a_saved_plan_whose_target_moved_is_refused_as_stale(bench, widget_fix):
    saved = bench.plan("make-widget", {"name": "w1"})
    bench.sources[0].executor.put("w1", {"exists": True, "value": "someone else's"})
    with pytest.raises(PlanStale, match="nothing was changed"):
        bench.replan(saved)
    assert bench.journal.changes() == []


@pytest.mark.parametrize("text, says", [
    ("[]", "not an exops plan"),
    ('{"plan_version": 2, "fix": "x", "params": {}, "steps": [{"id": 1}]}', "step 1"),
    ('{"plan_version": 2, "fix": "x", "params": {}, "steps": [], "evil": 1}', "unknown evil"),
    ('{"plan_version": true, "fix": "x", "params": {}, "steps": []}', "not an exops plan"),
    ("[" * 100_000, "not a readable exops plan"),
])
def test_malformed_plans_are_one_line_errors(text, says):
    with pytest.raises(PlanError, match=says):
        Plan.from_json(text)


def test_a_step_with_a_wrong_field_type_is_refused(bench, widget_fix):
    plan = bench.plan("make-widget", {"name": "w1"})
    data = json.loads(plan.to_json())
    data["steps"][0]["before"] = "absent"
    with pytest.raises(PlanError, match="field 'before' has the wrong type"):
        Plan.from_json(json.dumps(data))


def test_a_version_1_plan_still_reads():
    v1 = {"plan_version": 1, "fix": "freebusy", "params": {"dn": "/o=A/ou=B"}, "notes": [], "created": "",
          "steps": [{"id": "a", "title": "t", "action": "ldap.add", "target": "CN=B", "before": {},
                     "after": {}, "preview": "", "why": "", "params": {}}]}
    [step] = Plan.from_json(json.dumps(v1)).steps
    assert step.mode == "set" and step.executor == "ldap"
