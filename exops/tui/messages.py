"""Messages the workers post to the app and its screens: the only way results reach the UI."""
from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from exops.workbench import Suggestion, Verification
    from exops.diagnose import CheckProgress
    from exops.facts.store import Facts
    from exops.journal import Change
    from exops.model import Report
    from exops.plan import Plan
    from exops.remediation import ApplyResult, StepEvent


class Activity(Message):
    """A step the worker started, shown as the overview's status line."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class FactsLoaded(Message):
    def __init__(self, facts: Facts, origin: str) -> None:
        super().__init__()
        self.facts = facts
        self.origin = origin


class CheckUpdate(Message):
    def __init__(self, progress: CheckProgress) -> None:
        super().__init__()
        self.progress = progress


class ChecksFinished(Message):
    def __init__(self, report: Report) -> None:
        super().__init__()
        self.report = report


class ReportWritten(Message):
    def __init__(self, path: str, fmt: str, findings: int) -> None:
        super().__init__()
        self.path = path
        self.fmt = fmt
        self.findings = findings


# ---------------------------------------------------------------- fixes, changes, history

class Suggested(Message):
    """The fixes that fit a finding (or why none could be listed)."""

    def __init__(self, suggestions: list[Suggestion], error: str = "") -> None:
        super().__init__()
        self.suggestions = suggestions
        self.error = error


class PlanMade(Message):
    def __init__(self, suggestion: Suggestion, plan: Plan) -> None:
        super().__init__()
        self.suggestion = suggestion
        self.plan = plan


class PlanRefused(Message):
    """The fix will not plan this (FixRefused, PlanError...), or planning broke."""

    def __init__(self, suggestion: Suggestion, error: str) -> None:
        super().__init__()
        self.suggestion = suggestion
        self.error = error


class StepChanged(Message):
    """One step of an apply or an undo moved on (checking, applying, verified, undone...)."""

    def __init__(self, event: StepEvent) -> None:
        super().__init__()
        self.event = event


class ChangeApplied(Message):
    def __init__(self, result: ApplyResult) -> None:
        super().__init__()
        self.result = result


class ChangeStopped(Message):
    """An apply or undo that did not go through: stale plan, refused undo, failed step..."""

    def __init__(self, error: str, stale: bool = False) -> None:
        super().__init__()
        self.error = error
        self.stale = stale


class Verified(Message):
    """The checks the fix resolves, run again on the directory as it is now."""

    def __init__(self, verification: Verification | None, error: str = "") -> None:
        super().__init__()
        self.verification = verification
        self.error = error


class ChangeUndone(Message):
    def __init__(self, change: Change) -> None:
        super().__init__()
        self.change = change


class HistoryLoaded(Message):
    def __init__(self, changes: list[Change], journal: str, where: str, error: str = "") -> None:
        super().__init__()
        self.changes = changes
        self.journal = journal
        self.where = where
        self.error = error


class PlanSaved(Message):
    def __init__(self, path: str, error: str = "") -> None:
        super().__init__()
        self.path = path
        self.error = error
