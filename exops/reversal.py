"""How undo treats each step of a change, in words, said before anything is undone: `exops undo`
and the history screen's confirmation say it the same way.

A `set` step goes back to its journaled before-state; an `act` step is undone by running its
compensating step (enable after a drain), or has no inverse (a restart) and is left as it is; a
`wait` step changed nothing, so there is nothing to undo.
"""
from __future__ import annotations

from exops.plan import Step


def undo_note(step: Step) -> tuple[str, str] | None:
    """(verb, what undo does) for an act or wait step; None for a set step, which undo restores
    to its before-state."""
    if step.mode == "wait":
        return "skip", "a wait: nothing to undo"
    if step.mode != "act":
        return None
    compensate = step.compensating_step()
    if compensate is not None:
        return "run", f"undone by: {compensate.title}"
    verb = step.action.partition(".")[2].split("-")[0] or step.action  # winrm.restart-service
    article = "an" if verb[:1].lower() in "aeiou" else "a"
    return "leave", f"cannot be undone: {article} {verb} has no inverse; left as it is"
