"""The parameters of a fix, as a form made from the fix's own declaration.

Nothing here knows a fix: one field per declared `Param` (a checkbox for a flag, a list to pick
from when the parameter offers choices drawn from the facts, such as the public folder databases
best first, a text field otherwise), filled with what the finding suggested, labelled with the
option name and its help.
The values go through the same validation as the CLI's options before a plan is made.
"""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from exops.errors import ExopsError
from exops.facts.store import Facts
from exops.registry import FixSpec


class ParamsScreen(ModalScreen[dict | None]):
    """Change the parameters of a fix before planning it; dismisses with the new values."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="exops.params.cancel",
                        tooltip="Close the form; the plan stays as it was")]

    def __init__(self, spec: FixSpec, values: dict, facts: Facts | None = None) -> None:
        super().__init__()
        self.spec, self.values, self.facts = spec, values, facts

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="params-dialog"):
            yield Static(Content.assemble((self.spec.title, "bold"), "\nNothing changes until the "
                                          "plan is shown and you apply it."), id="params-about")
            for param in self.spec.params:
                value = self.values.get(param.name)
                choices = param.choices(self.facts) if param.choices and self.facts is not None else []
                if param.type is bool:
                    yield Checkbox(param.option, bool(value), id=f"param-{param.name}")
                elif choices:
                    yield Label(param.option, classes="field-label")
                    options = [(f"{describe}", choice) for choice, describe in choices]
                    known = {choice for choice, _ in choices}
                    yield Select(options, prompt="(let exops choose, and say why)", id=f"param-{param.name}",
                                 value=value if value in known else Select.NULL)
                else:
                    yield Label(param.option + (" (required)" if param.required else ""),
                                classes="field-label")
                    yield Input("" if value is None else str(value), id=f"param-{param.name}")
                yield Static(Content.styled(param.help, "$text-muted"), classes="param-help")
            yield Label("", id="params-problem")
            with Horizontal(id="params-buttons"):
                yield Button("Cancel", id="params-cancel")
                yield Button("Plan", id="params-go", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#params-dialog").border_title = f"Parameters · {self.spec.name}"

    def collected(self) -> dict:
        values = {}
        for param in self.spec.params:
            field = self.query_one(f"#param-{param.name}")
            if param.type is bool:
                values[param.name] = field.value
                continue
            if isinstance(field, Select):
                values[param.name] = None if field.value is Select.NULL else field.value
                continue
            text = field.value.strip()
            values[param.name] = (int(text) if param.type is int and text.lstrip("-").isdigit()
                                  else text or None)
        return values

    @on(Input.Submitted)
    @on(Button.Pressed, "#params-go")
    def action_plan(self) -> None:
        values = self.collected()
        try:
            self.spec.validate(values)
        except ExopsError as exc:
            self.query_one("#params-problem", Label).update(Content.styled(str(exc), "$error"))
            return
        self.dismiss(values)

    @on(Button.Pressed, "#params-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
