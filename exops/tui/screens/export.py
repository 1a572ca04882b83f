"""Export: the findings in any report format, to a path the user types."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, RadioButton, RadioSet

from exops.model import Finding

EXTENSIONS = {"html": ".html", "md": ".md", "json": ".json", "csv": ".csv", "junit": ".xml",
              "table": ".txt"}
FORMAT_NAMES = {"html": "HTML", "md": "Markdown", "json": "JSON", "csv": "CSV", "junit": "JUnit",
                "table": "Text"}


@dataclass(frozen=True)
class ExportRequest:
    path: Path
    fmt: str
    findings: tuple[Finding, ...] | None  # None: every finding of the report


def format_for(path: str) -> str | None:
    suffix = Path(path).suffix.lower()
    return next((fmt for fmt, ext in EXTENSIONS.items() if ext == suffix or
                 (suffix == ".htm" and fmt == "html")), None)


def problem_with(path: Path) -> str | None:
    if not str(path).strip():
        return "Type the path of the file to write."
    if path.is_dir():
        return f"{path} is a folder; add a file name."
    if not path.parent.is_dir():
        return f"The folder {path.parent} does not exist."
    return None


class ExportScreen(ModalScreen[ExportRequest | None]):
    """Format buttons and a path; the extension follows the format and the format the extension."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="exops.export.cancel",
                        tooltip="Close; nothing is written")]

    def __init__(self, path: Path, fmt: str, shown: tuple[Finding, ...] | None) -> None:
        super().__init__()
        self.path, self.fmt, self.shown = path, fmt, shown

    def compose(self) -> ComposeResult:
        with Vertical(id="export-dialog"):
            with RadioSet(id="export-format"):
                for fmt, name in FORMAT_NAMES.items():
                    yield RadioButton(name, value=fmt == self.fmt, name=fmt)
            yield Label("Write to", classes="field-label")
            yield Input(str(self.path), id="export-path")
            if self.shown is not None:
                yield Checkbox(f"Only the {len(self.shown)} findings the filter shows",
                               id="export-filtered")
            yield Label("", id="export-problem")
            with Horizontal(id="export-buttons"):  # Export first: Tab from the path, then Enter,
                yield Button("Export", id="export-go", variant="primary")  # exports
                yield Button("Cancel", id="export-cancel")

    def on_mount(self) -> None:
        dialog = self.query_one("#export-dialog")
        dialog.border_title = "Export report"
        self.query_one("#export-format").border_title = "Format"
        path_input = self.query_one("#export-path", Input)
        path_input.focus()
        path_input.cursor_position = len(path_input.value)

    @on(RadioSet.Changed)
    def _format_chosen(self, event: RadioSet.Changed) -> None:
        self.fmt = event.pressed.name or self.fmt
        path_input = self.query_one("#export-path", Input)
        current = Path(path_input.value)
        if format_for(path_input.value) != self.fmt and current.name:
            path_input.value = str(current.with_suffix(EXTENSIONS[self.fmt]))

    @on(Input.Changed, "#export-path")
    def _path_typed(self, event: Input.Changed) -> None:
        typed = format_for(event.value)
        if typed and typed != self.fmt:
            self.fmt = typed
            for button in self.query(RadioButton):
                button.value = button.name == typed
        self.query_one("#export-problem", Label).update("")

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#export-go")
    def action_export(self) -> None:
        path = Path(self.query_one("#export-path", Input).value.strip()).expanduser()
        problem = problem_with(path)
        if problem:
            self.query_one("#export-problem", Label).update(Content.styled(problem, "$error"))
            return
        filtered = self.query("#export-filtered")
        only_shown = bool(filtered) and filtered.first(Checkbox).value
        self.dismiss(ExportRequest(path.resolve(), self.fmt, self.shown if only_shown else None))

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
