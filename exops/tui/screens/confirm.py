"""Typed confirmation, and saving a plan: the two dialogs of the fix and history screens.

A change to a directory is confirmed by typing a word the dialog shows (the administrative
group's name, a change ID), not by a key that could be pressed by habit: the button stays
disabled until the word is typed exactly. Escape always cancels.
"""
from __future__ import annotations

from pathlib import Path

from rich.console import RenderableType
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from exops.tui.screens.export import problem_with


class ConfirmScreen(ModalScreen[bool]):
    """Dismissed with True only after `word` was typed; the body says what exactly will happen."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="exops.confirm.cancel",
                        tooltip="Close; nothing is changed")]

    def __init__(self, title: str, body: RenderableType, word: str, verb: str) -> None:
        super().__init__()
        self.heading, self.body, self.word, self.verb = title, body, word, verb

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            with VerticalScroll(id="confirm-body-scroll"):
                yield Static(self.body, id="confirm-body")
            yield Label(Content.assemble("Type ", (self.word, "bold $text-warning"),
                                         " to confirm · escape cancels"),
                        id="confirm-prompt")
            yield Input(placeholder=self.word, id="confirm-word")
            with Horizontal(id="confirm-buttons"):
                yield Button("Cancel", id="confirm-cancel")
                yield Button(self.verb, id="confirm-go", variant="error", disabled=True)

    def on_mount(self) -> None:
        dialog = self.query_one("#confirm-dialog")
        dialog.border_title = self.heading
        dialog.border_subtitle = "nothing changes until you confirm"
        self.query_one("#confirm-word", Input).focus()

    def typed(self) -> bool:
        return self.query_one("#confirm-word", Input).value.strip() == self.word

    @on(Input.Changed, "#confirm-word")
    def _word_typed(self) -> None:
        self.query_one("#confirm-go", Button).disabled = not self.typed()

    @on(Input.Submitted, "#confirm-word")
    @on(Button.Pressed, "#confirm-go")
    def action_confirm(self) -> None:
        if self.typed():
            self.dismiss(True)
        else:
            self.notify(f"Type {self.word} exactly to {self.verb.lower()}.", severity="warning",
                        timeout=3, markup=False)

    @on(Button.Pressed, "#confirm-cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)


class SavePlanScreen(ModalScreen[Path | None]):
    """A path for the plan file; `exops apply` applies exactly that plan later."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="exops.save_plan.cancel",
                        tooltip="Close; nothing is saved")]

    def __init__(self, path: Path, apply_command: str) -> None:
        super().__init__()
        self.path, self.apply_command = path, apply_command

    def compose(self) -> ComposeResult:
        with Vertical(id="save-dialog"):
            yield Static(Content.assemble(
                "The plan is saved as JSON, with the state each target must still be in. Apply "
                "it later with\n  ", (self.apply_command, "bold"),
                "\nwhich refuses it as stale if a target changed since."), id="save-about")
            yield Label("Save to", classes="field-label")
            yield Input(str(self.path), id="save-path")
            yield Label("", id="save-problem")
            with Horizontal(id="save-buttons"):
                yield Button("Cancel", id="save-cancel")
                yield Button("Save plan", id="save-go", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#save-dialog").border_title = "Save plan"
        path_input = self.query_one("#save-path", Input)
        path_input.focus()
        path_input.cursor_position = len(path_input.value)

    @on(Input.Changed, "#save-path")
    def _path_typed(self) -> None:
        self.query_one("#save-problem", Label).update("")

    @on(Input.Submitted, "#save-path")
    @on(Button.Pressed, "#save-go")
    def action_save(self) -> None:
        path = Path(self.query_one("#save-path", Input).value.strip()).expanduser()
        problem = problem_with(path)
        if problem:
            self.query_one("#save-problem", Label).update(Content.styled(problem, "$error"))
            return
        self.dismiss(path.resolve())

    @on(Button.Pressed, "#save-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
