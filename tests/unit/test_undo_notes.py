"""`exops undo N` says, before it asks, what undo does to every step: a state change goes back to
its before-state, an action is undone by its compensating step or has no inverse, a wait has
nothing to undo. The change is journaled through the real Journal API; the configuration's
directory answers nothing (only the journal is read before the question)."""
from __future__ import annotations

from dataclasses import asdict

from click.testing import CliRunner

from exops.cli import cli
from exops.journal import Journal
from exops.plan import Plan, Step
from exops.reversal import undo_note


def step(id: str, title: str, action: str, mode: str = "set", **extra) -> Step:
    return Step(id=id, title=title, action=action, target=f"L12EX1/{id}", before={"n": 1},
                after={"n": 2}, preview="", mode=mode, **extra)


ENABLE = step("enable", "enable L12EX1 in Exchange-RPC", "lb.enable", "act")
STEPS = (step("port", "Set the RPC port of L12EX1", "winrm.set-rpc-port"),
         step("drain", "drain L12EX1 in Exchange-RPC", "lb.drain", "act", compensate=asdict(ENABLE)),
         step("wait", "wait for the sessions to end", "lb.sessions", "wait", interval=1, timeout=60),
         step("restart", "Restart MSExchangeIS on L12EX1", "winrm.restart-service", "act"))


def test_each_mode_says_how_it_is_undone():
    assert undo_note(STEPS[0]) is None  # a set step: back to its before-state
    assert undo_note(STEPS[1]) == ("run", "undone by: enable L12EX1 in Exchange-RPC")
    assert undo_note(STEPS[2]) == ("skip", "a wait: nothing to undo")
    assert undo_note(STEPS[3]) == ("leave", "cannot be undone: a restart has no inverse; left as it is")


def journal_with_every_mode(folder) -> int:
    """A configuration in `folder` whose journal holds one applied change with STEPS; returns
    the change's ID. The history screen's test uses it too."""
    journal = Journal(folder / "journal.sqlite")
    change_id = journal.begin(Plan("maintenance", {"server": "L12EX1"}, STEPS))
    for seq, s in enumerate(STEPS, 1):
        journal.record_before(change_id, seq, s, s.before)
        journal.record_step(change_id, seq, "verified", after=s.after)
    journal.finish(change_id, "applied")
    journal.close()
    (folder / "exops.yaml").write_text("directory:\n  url: ldaps://127.0.0.1:9\n  timeout: 2\n"
                                       "journal: journal.sqlite\n")
    return change_id


def test_undo_lists_every_step_with_what_undo_does_before_asking(tmp_path, monkeypatch):
    change_id = journal_with_every_mode(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")

    result = CliRunner().invoke(cli, ["--config", "exops.yaml", "undo", str(change_id)])
    lines = result.stdout.splitlines()
    assert lines[1:] == [
        '  1. Set the RPC port of L12EX1: back to {"n": 1}',
        "  2. drain L12EX1 in Exchange-RPC: undone by: enable L12EX1 in Exchange-RPC",
        "  3. wait for the sessions to end: a wait: nothing to undo",
        "  4. Restart MSExchangeIS on L12EX1: cannot be undone: a restart has no inverse; left as it is"]
    assert "refusing to change anything without confirmation" in result.stderr  # not a terminal
    assert Journal(tmp_path / "journal.sqlite").change(change_id).status == "applied"
