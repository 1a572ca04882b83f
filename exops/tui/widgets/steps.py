"""A change's steps as the admin reads them before and while they run: what each one touches,
why, the exact LDIF (planning) or the before and after states (history), and its live state.

Each step is its own widget, so the StepEvents of a 150-recipient rewrite repaint one line each,
not the whole plan. States and their colours are defined here once, for the fix and history
screens alike.
"""
from __future__ import annotations

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import ScrollableContainer, Vertical
from textual.widgets import Static

from exops.journal import JournaledStep
from exops.plan import State, Step
from exops.tui.widgets.evidence import Palette
from exops.tui.widgets.severity import theme_colour

PLANNED = "planned"
# state: (word, icon, theme variable). The engine's states (remediate.StepEvent) plus the
# journal's ("journaled": written down, never confirmed, as a crash leaves it).
STATES = {
    PLANNED: ("planned", "·", "text-muted"),
    "journaled": ("journaled", "!", "sev-warning"),
    "checking": ("checking", "…", "accent"),
    "applying": ("applying", "…", "accent"),
    "applied": ("applied", "●", "sev-ok"),
    "verified": ("verified", "✔", "sev-ok"),
    "found": ("found", "=", "sev-info"),
    "failed": ("failed", "✖", "sev-critical"),
    "undoing": ("undoing", "…", "sev-warning"),
    "undone": ("undone", "↺", "sev-warning"),
    "unchanged": ("unchanged", "–", "text-muted"),
}
WORD_WIDTH = max(len(word) for word, _, _ in STATES.values())
INDENT = 5


def palette_of(app) -> Palette:
    return Palette(muted=theme_colour(app, "text-muted"), accent=theme_colour(app, "accent"),
                   heading=theme_colour(app, "text-primary"))


def state_text(app, state: str) -> Text:
    word, icon, colour = STATES.get(state, (state, "?", "text-muted"))
    return Text(f"{icon} {word:<{WORD_WIDTH}}", style=theme_colour(app, colour))


def ldif_text(ldif: str, palette: Palette) -> Text:
    """LDIF exactly as it will be written, folds and all (RFC 2849: a continuation line starts
    with one space), so it pastes into ldifde as it is; attribute names muted, `dn:` and
    `changetype:` bold. Never wrapped: a wrap would put a break inside a value."""
    out, value_style = Text(no_wrap=True, overflow="crop"), ""
    for index, line in enumerate(ldif.splitlines()):
        if index:
            out.append("\n")
        name, sep, value = line.partition(":")
        if line.startswith(" "):  # a fold: the value goes on, in the style it began in
            out.append(line, style=value_style)
            continue
        value_style = "bold" if name.lower() in ("dn", "changetype") else ""
        if not sep:
            out.append(line, style=palette.muted)
        else:
            out.append(name + sep, style=f"bold {palette.accent}" if value_style else palette.muted)
            out.append(value, style=value_style)
    return out


def state_lines(state: State | None, palette: Palette) -> Text:
    """A target state: absent, or its attributes one per line (the ones the step touches)."""
    if state is None:
        return Text("not read", style=palette.muted)
    if not state.get("exists"):
        return Text("absent (the object did not exist)", style=palette.muted)
    attributes = state.get("attributes") or {}
    if not attributes:
        return Text("exists", style=palette.muted)
    out = Text()
    for index, (name, values) in enumerate(attributes.items()):
        if index:
            out.append("\n")
        out.append(f"{name}: ", style=palette.muted)
        out.append(" | ".join(str(v) for v in values) if values else "(no value)",
                   style="" if values else palette.muted)
    out.overflow = "fold"  # a DN is one long word: fold it rather than cut it
    return out


LISTED_TARGETS = 6  # in a confirmation; the plan or the change itself shows every one


def targets_table(rows: list[tuple[str, str]], palette: Palette) -> Table:
    """`verb  target` for what a confirmation is about to do, the first few and how many more."""
    table = Table.grid(padding=(0, 1))
    table.add_column(style=palette.accent, no_wrap=True)
    table.add_column()
    for verb, target in rows[:LISTED_TARGETS]:
        table.add_row(verb, Text(target, overflow="fold"))
    if len(rows) > LISTED_TARGETS:
        table.add_row("", Text(f"… and {len(rows) - LISTED_TARGETS} more (every one is listed on "
                               "the screen behind)", style=palette.muted))
    return table


def notes_list(notes: tuple[str, ...], palette: Palette) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(style=palette.muted, no_wrap=True)
    table.add_column()
    for note in notes:
        table.add_row("•", Text(note, overflow="fold"))
    return table


def parameters_table(params: dict, palette: Palette) -> Table:
    """The parameters a plan was made with (its fix's defaults filled in), one per line."""
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True, style=palette.accent)
    table.add_column()
    for name, value in params.items():
        if value not in (None, "", False):
            table.add_row(name, Text(str(value), overflow="fold"))
    return table


def plan_step_body(step: Step, palette: Palette) -> RenderableType:
    """What a planned step will do: its action and target, and why; what it writes follows in a
    `PreviewBlock`."""
    parts: list[RenderableType] = [
        Text.assemble((step.action, palette.accent), "  ", (step.target, "bold"), overflow="fold")]
    if step.why:
        parts.append(Text(step.why, style=palette.muted))
    return Padding(Group(*parts), (0, 0, 0 if step.preview else 1, INDENT))


def preview_text(step: Step, palette: Palette) -> Text | None:
    """What a planned step writes, exactly: LDIF for the directory, else the script or call."""
    if not step.preview:
        return None
    if step.kind == "ldap":
        return ldif_text(step.preview, palette)
    return Text(step.preview, no_wrap=True, overflow="crop")


def journaled_step_body(step: JournaledStep, palette: Palette) -> RenderableType:
    """What a journaled step did: its target, the state undo restores, and the state it left."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style=palette.muted, no_wrap=True)
    grid.add_column()
    grid.add_row("target", Text(step.step.target, style="bold", overflow="fold"))
    grid.add_row("before", state_lines(step.before, palette))
    grid.add_row("after", state_lines(step.after if step.after is not None else step.step.after,
                                      palette))
    if step.error:
        grid.add_row("error", Text(step.error, style=palette.accent))
    return Padding(grid, (0, 0, 1, INDENT))


class PreviewBlock(ScrollableContainer, can_focus=False):
    """One step's LDIF (or script), never wrapped: a line wider than the view scrolls sideways
    (the mouse, or left and right in the plan, which move every block) rather than breaking
    inside a value, so what is copied is what will be written."""

    def __init__(self, preview: Text) -> None:
        super().__init__(Static(preview, classes="preview"), classes="preview-block")


class StepView(Vertical):
    """`seq state title  (message)` on one line, the body under it, then what the step writes
    (a plan's steps); `show_state` repaints the line."""

    def __init__(self, seq: int, title: str, state: str, message: str = "", *,
                 body: RenderableType, preview: Text | None = None) -> None:
        super().__init__(classes="step")
        self.seq, self.step_title, self.state, self.message = seq, title, state, message
        self.body, self.preview = body, preview

    def compose(self) -> ComposeResult:
        yield Static(self._line(), classes="step-line")
        yield Static(self.body, classes="step-body")
        if self.preview is not None:
            yield PreviewBlock(self.preview)

    def show_state(self, state: str, message: str = "") -> None:
        self.state, self.message = state, message
        self.query_one(".step-line", Static).update(self._line())

    def _line(self) -> Text:
        line = Text.assemble((f"{self.seq:>3} ", "bold"), state_text(self.app, self.state), " ",
                             (self.step_title, "bold"))
        if self.message:
            line.append(f"  ({self.message})", style=theme_colour(self.app, "text-muted"))
        return line
