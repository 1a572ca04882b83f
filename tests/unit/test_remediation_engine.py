"""The remediation engine on every path, with an in-memory executor: no Samba, a few seconds.

Each test pins one piece of safety logic (stale refusal before any write, rollback in reverse,
verification, wait deadlines, compensation, crash recovery, undo refusal) so that breaking it in
exops/remediation.py fails here.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from exops.journal import Journal
from exops.plan import Plan, PlanError, PlanStale, Step
from exops.remediation import ChangeFailed, UndoRefused, apply_plan, undo_change
from tests.unit.memory_executor import ABSENT, MemoryExecutor, setting

READY, DRAIN = {"state": "ready"}, {"state": "drain"}


@pytest.fixture
def memory(tmp_path):
    return MemoryExecutor(tmp_path / "states.json")


@pytest.fixture
def journal(tmp_path):
    with_journal = Journal(tmp_path / "journal.sqlite")
    yield with_journal
    with_journal.close()


def plan_of(*steps: Step) -> Plan:
    return Plan(fix="test", params={}, steps=steps)


def test_a_plan_is_applied_verified_and_journaled(memory, journal):
    result = apply_plan(plan_of(setting("a"), setting("b")), {"mem": memory}, journal)
    assert result.status == "applied"
    assert memory.states() == {"a": {"exists": True, "value": "a"}, "b": {"exists": True, "value": "b"}}
    change = journal.change(result.change_id)
    assert change.status == "applied" and [s.status for s in change.steps] == ["verified", "verified"]
    assert [s.before for s in change.steps] == [ABSENT, ABSENT]


def test_running_it_again_finds_everything_in_place_and_writes_nothing(memory, journal):
    plan = plan_of(setting("a"), setting("b"))
    apply_plan(plan, {"mem": memory}, journal)
    memory.writes.clear()
    again = apply_plan(plan, {"mem": memory}, journal)
    assert again.status == "found" and again.found == ("set a", "set b") and memory.writes == []


def test_a_stale_plan_is_refused_before_anything_is_written_or_journaled(memory, journal):
    memory.put("b", {"exists": True, "value": "someone else's"})
    with pytest.raises(PlanStale, match="step 2 .*b changed since the plan was made"):
        apply_plan(plan_of(setting("a"), setting("b")), {"mem": memory}, journal)
    assert memory.writes == [] and "a" not in memory.states()
    assert journal.changes() == []


def test_a_failed_step_undoes_the_applied_ones_in_reverse_order(tmp_path, journal):
    memory = MemoryExecutor(tmp_path / "s.json", fail_on="c")
    with pytest.raises(ChangeFailed, match="step 3 .* failed.*2 applied step"):
        apply_plan(plan_of(setting("a"), setting("b"), setting("c")), {"mem": memory}, journal)
    assert memory.writes == [("apply", "a"), ("apply", "b"), ("restore", "b"), ("restore", "a")]
    assert memory.states() == {"a": ABSENT, "b": ABSENT}
    [change] = journal.changes()
    assert change.status == "rolled-back" and [s.status for s in change.steps] == ["undone", "undone", "failed"]


def test_a_step_that_does_not_read_back_as_planned_is_rolled_back(tmp_path, journal):
    memory = MemoryExecutor(tmp_path / "s.json", lie_on="b")
    with pytest.raises(ChangeFailed, match="step 2 .* did not verify"):
        apply_plan(plan_of(setting("a"), setting("b")), {"mem": memory}, journal)
    assert memory.states() == {"a": ABSENT, "b": ABSENT}
    assert journal.changes()[0].status == "rolled-back"


def test_a_wait_step_polls_until_its_condition_holds(memory, journal):
    polls = []

    class Sessions(MemoryExecutor):
        def read(self, step):
            polls.append(1)
            return {"sessions": max(0, 3 - len(polls))}

    wait = Step(id="w", title="sessions reach 0", action="sess.count", target="L12EX1", before={},
                after={"sessions": 0}, preview="", mode="wait", interval=0.01, timeout=5)
    result = apply_plan(plan_of(setting("a"), wait), {"mem": memory, "sess": Sessions(memory.path)}, journal)
    assert result.status == "applied" and len(polls) == 3
    assert journal.change(result.change_id).steps[1].status == "verified"


def test_a_wait_that_times_out_rolls_back_and_says_what_it_last_saw(memory, journal):
    class Busy(MemoryExecutor):
        def read(self, step):
            return {"sessions": 7}

    wait = Step(id="w", title="sessions reach 0", action="sess.count", target="L12EX1", before={},
                after={"sessions": 0}, preview="", mode="wait", interval=0.01, timeout=0.05)
    with pytest.raises(ChangeFailed, match=r"not met within 0.05 s \(last read: \{'sessions': 7\}\)"):
        apply_plan(plan_of(setting("a"), wait), {"mem": memory, "sess": Busy(memory.path)}, journal)
    assert memory.states()["a"] == ABSENT
    assert [s.status for s in journal.changes()[0].steps] == ["undone", "failed"]


def drain(endpoint: str = "") -> Step:
    enable = Step(id="enable", title="enable L12EX1", action="lb.enable", target="L12EX1", before=DRAIN,
                  after=READY, preview="enable L12EX1", endpoint=endpoint)
    return Step(id="drain", title="drain L12EX1", action="lb.drain", target="L12EX1", before=READY,
                after=DRAIN, preview="drain L12EX1", mode="act", endpoint=endpoint,
                compensate=enable.__dict__)


def test_an_action_is_undone_by_its_compensating_step_when_a_later_step_fails(tmp_path, journal):
    balancer = MemoryExecutor(tmp_path / "lb.json")
    balancer.put("L12EX1", READY)
    memory = MemoryExecutor(tmp_path / "s.json", fail_on="x")
    with pytest.raises(ChangeFailed):
        apply_plan(plan_of(drain(), setting("x")), {"lb": balancer, "mem": memory}, journal)
    assert balancer.writes == [("apply", "L12EX1"), ("apply", "L12EX1")]   # drain, then enable
    assert balancer.states()["L12EX1"] == READY
    assert "compensated: enable L12EX1" in journal.changes()[0].steps[0].error


def test_undo_runs_the_compensating_step_and_leaves_irreversible_actions_alone(tmp_path, journal):
    balancer = MemoryExecutor(tmp_path / "lb.json")
    balancer.put("L12EX1", READY)
    restart = Step(id="restart", title="restart MSExchangeIS", action="svc.restart", target="MSExchangeIS",
                   before={"running": True}, after={"running": True, "restarted": True}, preview="", mode="act")
    services = MemoryExecutor(tmp_path / "svc.json")
    services.put("MSExchangeIS", {"running": True})
    result = apply_plan(plan_of(drain(), restart), {"lb": balancer, "svc": services}, journal)
    events = []
    change = undo_change(result.change_id, {"lb": balancer, "svc": services}, journal, progress=events.append)
    assert change.status == "undone" and balancer.states()["L12EX1"] == READY
    notes = {e.step.id: e.message for e in events if e.state == "undone"}
    assert notes == {"restart": "cannot be undone (no inverse action); left as it is",
                     "drain": "compensated: enable L12EX1"}


def test_executors_are_chosen_by_kind_and_instance(tmp_path, journal):
    vlm1, vlm2 = MemoryExecutor(tmp_path / "1.json"), MemoryExecutor(tmp_path / "2.json")
    vlm1.put("L12EX1", READY)
    vlm2.put("L12EX1", DRAIN)   # the same server name on another balancer, in another state
    apply_plan(plan_of(drain("vlm1")), {"lb:vlm1": vlm1, "lb:vlm2": vlm2}, journal)
    assert vlm1.states()["L12EX1"] == DRAIN and vlm2.writes == []
    assert journal.changes()[0].steps[0].step.executor == "lb:vlm1"


def test_a_step_no_executor_can_run_is_refused_before_the_journal(memory, journal):
    with pytest.raises(PlanError, match="nothing here can run 'lb.drain' on 'lb:vlm9'"):
        apply_plan(plan_of(setting("a"), drain("vlm9")), {"mem": memory}, journal)
    assert journal.changes() == [] and memory.writes == []


def test_a_failing_progress_display_never_stops_a_change(memory, journal):
    def broken(event):
        raise ValueError("markup error in a recipient's name [/]")
    result = apply_plan(plan_of(setting("a"), setting("b")), {"mem": memory}, journal, progress=broken)
    assert result.status == "applied" and len(memory.states()) == 2


def test_undo_restores_every_before_state_in_reverse(memory, journal):
    memory.put("b", {"exists": True, "value": "old"})
    result = apply_plan(plan_of(setting("a"), setting("b", before={"exists": True, "value": "old"})),
                        {"mem": memory}, journal)
    memory.writes.clear()
    assert undo_change(result.change_id, {"mem": memory}, journal).status == "undone"
    assert memory.writes == [("restore", "b"), ("restore", "a")]
    assert memory.states() == {"a": ABSENT, "b": {"exists": True, "value": "old"}}
    with pytest.raises(UndoRefused, match="already undone"):
        undo_change(result.change_id, {"mem": memory}, journal)


def test_undo_is_refused_when_someone_else_changed_a_target_since(memory, journal):
    result = apply_plan(plan_of(setting("a"), setting("b")), {"mem": memory}, journal)
    memory.put("b", {"exists": True, "value": "edited by hand"})
    memory.writes.clear()
    with pytest.raises(UndoRefused, match="changed by someone else since; nothing was undone"):
        undo_change(result.change_id, {"mem": memory}, journal)
    assert memory.writes == []


CHILD = """
import sys
from exops.journal import Journal
from exops.plan import Plan
from exops.remediation import apply_plan
from tests.unit.memory_executor import MemoryExecutor, setting
apply_plan(Plan(fix="test", params={}, steps=(setting("a"), setting("b"))),
           {"mem": MemoryExecutor(sys.argv[1])}, Journal(sys.argv[2]))
"""


@pytest.mark.parametrize("fault, b_written", [("after-journal", False), ("after-write", True)])
def test_a_change_killed_mid_step_is_undone_from_the_journal(tmp_path, fault, b_written):
    states, journal_path = tmp_path / "s.json", tmp_path / "j.sqlite"
    env = {**os.environ, "EXOPS_FAULT": fault}
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD), str(states), str(journal_path)],
                           env=env, cwd=os.getcwd(), capture_output=True, text=True, timeout=60)
    assert child.returncode == -9, child.stderr   # SIGKILL at the first crash point
    memory, journal = MemoryExecutor(states), Journal(journal_path)
    [change] = journal.changes()
    assert change.status == "applying" and change.steps[0].status == "journaled"
    assert ("a" in memory.states()) is b_written
    events = []
    assert undo_change(change.id, {"mem": memory}, journal, progress=events.append).status == "undone"
    assert memory.states().get("a", ABSENT) == ABSENT
    expected = "unchanged" if not b_written else "undone"
    assert [e.state for e in events if e.state in ("unchanged", "undone")] == [expected]
    journal.close()


def test_a_target_that_cannot_be_read_mid_plan_undoes_what_was_applied(tmp_path, journal):
    class GoesAway(MemoryExecutor):
        """`c` answers the check before anything is written, then stops answering."""
        reads_of_c = 0

        def read(self, step):
            if step.target == "c":
                self.reads_of_c += 1
                if self.reads_of_c > 1:
                    raise ConnectionError("server stopped answering")
            return super().read(step)

    memory = GoesAway(tmp_path / "s.json")
    with pytest.raises(ChangeFailed, match="reading c failed: server stopped answering; 2 applied"):
        apply_plan(plan_of(setting("a"), setting("b"), setting("c")), {"mem": memory}, journal)
    assert memory.writes == [("apply", "a"), ("apply", "b"), ("restore", "b"), ("restore", "a")]
    assert journal.changes()[0].status == "rolled-back"


def test_a_wait_whose_condition_cannot_be_read_times_out_and_rolls_back(memory, journal):
    class Down(MemoryExecutor):
        def read(self, step):
            raise ConnectionError("WinRM: connection refused")

    wait = Step(id="w", title="MSExchangeIS running", action="svc.state", target="L12EX1", before={},
                after={"running": True}, preview="", mode="wait", interval=0.01, timeout=0.05)
    with pytest.raises(ChangeFailed, match="connection refused"):
        apply_plan(plan_of(setting("a"), wait), {"mem": memory, "svc": Down(memory.path)}, journal)
    assert memory.states()["a"] == ABSENT
    assert journal.changes()[0].status == "rolled-back"
