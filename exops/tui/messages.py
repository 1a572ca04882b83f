"""Messages the triage worker posts to the app: the only way results reach the UI."""
from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from exops.engine import CheckProgress
    from exops.facts import Facts
    from exops.model import Report
    from exops.registry import CheckSpec


class ChecksPlanned(Message):
    def __init__(self, specs: list[CheckSpec]) -> None:
        super().__init__()
        self.specs = specs


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


class TriageFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class ReportWritten(Message):
    def __init__(self, path: str, fmt: str, findings: int) -> None:
        super().__init__()
        self.path = path
        self.fmt = fmt
        self.findings = findings


class ExportFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error
