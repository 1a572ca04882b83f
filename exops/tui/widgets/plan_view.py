"""A scrollable change: a header (what, why, how to run it) and one StepView per step.

The fix screen shows a plan in it (each step's LDIF), the history screen a journaled change
(each step's before and after states); StepEvents repaint one step and bring it into view.
"""
from __future__ import annotations

from collections.abc import Iterable

from rich.console import RenderableType
from textual.containers import VerticalScroll
from textual.widgets import Static

from exops.tui.widgets.steps import PreviewBlock, StepView

SIDEWAYS = 8  # columns per left or right key


class PlanView(VerticalScroll):
    """Focusable to scroll with the keys; maximizable to read a long plan full screen. Left and
    right move the steps' LDIF sideways, together: the LDIF is never wrapped."""

    ALLOW_MAXIMIZE = True

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.steps: dict[int, StepView] = {}  # by seq: widget IDs would clash while the old
        # children are still being removed

    def toggle_maximized(self) -> None:
        """Full screen to read a long plan; the same key puts it back."""
        if self.screen.maximized is self:
            self.screen.minimize()
        else:
            self.screen.maximize(self)
            self.focus()

    def action_scroll_left(self) -> None:
        self._sideways(-SIDEWAYS)

    def action_scroll_right(self) -> None:
        self._sideways(SIDEWAYS)

    def _sideways(self, columns: int) -> None:
        for block in self.query(PreviewBlock):
            block.scroll_relative(x=columns, animate=False)

    def show_text(self, text: RenderableType) -> None:
        self.steps = {}
        self.remove_children()
        self.mount(Static(text, classes="plan-message"))

    def show_steps(self, header: RenderableType, steps: Iterable[StepView],
                   footer: RenderableType | None = None) -> None:
        self.remove_children()
        self.scroll_home(animate=False)
        steps = list(steps)
        self.steps = {view.seq: view for view in steps}
        widgets = [Static(header, classes="plan-header"), *steps]
        if footer is not None:
            widgets.append(Static(footer, classes="plan-footer"))
        self.mount_all(widgets)

    def step(self, seq: int) -> StepView | None:
        return self.steps.get(seq)

    def show_state(self, seq: int, state: str, message: str = "") -> None:
        view = self.step(seq)
        if view is not None:
            view.show_state(state, message)
            self.scroll_to_widget(view, animate=False, top=False)
