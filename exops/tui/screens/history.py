"""History: the live environment's change journal, and undo.

Every change exops made there, from this screen or the CLI, newest first: status, operator,
parameters; below, the highlighted change's steps with the state undo restores (before) and the
state the change left (after). `u` undoes it once its ID is typed, through the same engine as
`exops undo` (which refuses when someone changed a target since), with each step shown as it is
restored; then the triage runs again.

A bundle session has no live environment, and this screen says so rather than showing the local
journal: that journal records changes to whatever directory a configuration named, not to the
environment the bundle came from, and nothing in it can be undone without a live connection.
"""
from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.events import Resize, ScreenResume
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from exops.reversal import undo_note
from exops.tui import messages
from exops.tui.screens.confirm import ConfirmScreen
from exops.tui.screens.findings import cut
from exops.tui.session import display_path
from exops.tui.widgets.footer import ExopsFooter
from exops.tui.widgets.plan_view import PlanView
from exops.tui.worker_errors import WorkerOutcomes
from exops.tui.widgets.severity import theme_colour
from exops.tui.widgets.steps import (
    StepView,
    journaled_step_body,
    palette_of,
    parameters_table,
    targets_table,
)

if TYPE_CHECKING:
    from exops.journal import Change, JournaledStep

COLUMNS = {"id": "ID", "started": "Started (UTC)", "fix": "Fix", "status": "Status",
           "operator": "Operator", "params": "Parameters"}
STATUS_COLOURS = {"applied": "sev-ok", "found": "sev-info", "undone": "text-muted",
                  "rolled-back": "sev-warning", "failed": "sev-critical", "applying": "sev-critical",
                  "undoing": "sev-critical"}
FINAL = ("undone", "rolled-back")  # nothing left to undo
LIVE_STEP = ("journaled", "applied", "verified")  # steps whose change undo would take back
WIDE = 100
SAVED_PLANS = ("\n\nPlans made from this bundle can be saved from the fix screen (w) and applied "
               "with exops apply.")


def when(stamp: str | None) -> str:
    """The journal's UTC ISO time as `2025-11-25 03:18:00`."""
    if not stamp:
        return "—"
    return stamp.replace("T", " ").split("+")[0].removesuffix("Z")


def params_line(params: dict) -> str:
    return "  ".join(f"{name}={value}" for name, value in params.items()
                     if value not in (None, "", False))


def column_widths(total: int, changes: list[Change]) -> dict[str, int]:
    """ID, fix, status and operator fit their text; below 100 columns the operator is left to
    the detail pane; the parameters take the rest."""
    wide = total >= WIDE
    keys = [k for k in COLUMNS if wide or k != "operator"]
    usable = total - 3 - 2 * len(keys)

    def fit(values: list[str], low: int, high: int) -> int:
        return max(low, min(high, max((len(v) for v in values), default=low)))
    widths = {"id": fit([str(c.id) for c in changes], 2, 6), "started": 19 if wide else 16,
              "fix": fit([c.fix for c in changes], 3, 18),
              "status": fit([c.status for c in changes], 6, 11)}
    if wide:
        widths["operator"] = fit([c.operator for c in changes], 8, 24)
    widths["params"] = max(10, usable - sum(widths.values()))
    return {key: widths[key] for key in keys}


def undo_row(step: JournaledStep) -> tuple[str, str]:
    """(verb, target) for the undo confirmation: a state change is restored (or deleted, when
    it made the target); an action or a wait says what undo does with it instead."""
    note = undo_note(step.step)
    if note is not None:
        verb, what = note
        return verb, f"{step.step.target} · {what}"
    made = step.before.get("exists") is False  # an LDAP add; other states have no "exists"
    return ("delete" if made else "restore"), step.step.target


def undo_summary(change: Change, where: str, palette) -> RenderableType:
    """The undo confirmation's body: each target and what undo does to it."""
    steps = [s for s in reversed(change.steps) if s.status in LIVE_STEP]
    lines = targets_table([undo_row(s) for s in steps], palette)
    if not steps:
        lines = Text("No step of this change is in effect: undo only records that.",
                     style=palette.muted)
    return Group(
        Text.assemble("Undo change ", (str(change.id), "bold"), " (", (change.fix, "bold"), ") in ",
                      (where or "the live directory", "bold"), ":"),
        Text(""), lines, Text(""),
        Text("Every target is read first: if someone changed one since this change, nothing is "
             "undone. Each target goes back to the before-state the journal holds; an action is "
             "undone as listed.",
             style=palette.muted))


class HistoryScreen(WorkerOutcomes, Screen):
    TITLE = "History"
    BINDINGS = [
        Binding("u", "undo", "Undo…", id="exops.history.undo",
                tooltip="Undo the highlighted change once you type its ID"),
        Binding("m", "maximize_change", "Full change", id="exops.history.maximize",
                show=False, tooltip="The change on the whole screen; m again puts it back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.changes: list[Change] = []
        self.shown: Change | None = None
        self.undoing: int | None = None
        self.journal, self.where = "", ""

    def compose(self) -> ComposeResult:
        yield Header(icon="≡")
        yield Static(id="history-where")
        yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        yield PlanView(id="change-detail")
        yield Static(id="history-status")
        yield ExopsFooter()

    def on_mount(self) -> None:
        self.query_one("#change-detail").border_title = "Change"
        self.app.theme_changed_signal.subscribe(self, lambda _: self.redraw())
        if not self.app.session.live:
            self.query_one(DataTable).display = False
            self.query_one("#history-where", Static).update(Content.assemble(
                ("No live environment: ", "bold"), f"this session reads {self.app.session.source}."))
            self.query_one(PlanView).show_text(self.no_live_text())
            return
        self.query_one(DataTable).focus()

    def redraw(self) -> None:
        """Colours are resolved when drawn: draw the table and the change again."""
        if not self.app.session.live:
            self.query_one(PlanView).show_text(self.no_live_text())
        elif self.changes and self.undoing is None:
            self.shown = None
            self.refill()

    def no_live_text(self) -> Text:
        muted = theme_colour(self.app, "text-muted")
        return Text.assemble(
            ("A bundle is evidence from an environment, not a connection to it, so there are no "
             "changes to list or undo here. The change journal belongs to the live environment: "
             "start exops with its configuration to see its changes and undo them,\n  "),
            ("$ exops --config exops.yaml", "bold"), "\nor list them from the command line:\n  ",
            ("$ exops --config exops.yaml history", "bold"),
            (SAVED_PLANS, muted))

    def on_screen_resume(self, event: ScreenResume) -> None:
        if self.app.session.live and self.undoing is None:
            self.load()

    # ------------------------------------------------------------ the journal

    def load(self) -> None:
        if not self.changes:
            self.query_one("#history-where", Static).update(
                Content.styled("… reading the change journal", "$text-muted"))
        self.read_journal()

    @work(thread=True, exclusive=True, group="history", exit_on_error=False)
    def read_journal(self) -> None:
        live = self.app.live
        changes = live.history()
        self.post_message(messages.HistoryLoaded(changes, live.journal_path, live.where))

    def failed_history(self, error: str, exc: BaseException) -> None:
        self.on_history_loaded(messages.HistoryLoaded([], "", "", error))

    def on_history_loaded(self, message: messages.HistoryLoaded) -> None:
        if self.undoing is not None:
            return  # the undo's steps are on screen; the journal is read again when it ends
        where = self.query_one("#history-where", Static)
        if message.error:
            where.update(Content.assemble(("✖ ", "bold $sev-critical"), message.error))
            self.query_one(PlanView).show_text(Text(""))
            return
        self.journal, self.where = message.journal, message.where
        count = f"{len(message.changes)} change{'' if len(message.changes) == 1 else 's'}"
        where.update(Content.assemble(("Journal ", "$text-muted"), display_path(message.journal),
                                      ("  ·  ", "$text-muted"), message.where,
                                      ("  ·  ", "$text-muted"), count))
        self.changes = message.changes
        self.refill()

    def refill(self) -> None:
        table = self.query_one(DataTable)
        keep = self.shown.id if self.shown else None
        widths = column_widths(self.size.width or self.app.size.width, self.changes)
        table.clear(columns=True)
        for key, width in widths.items():
            table.add_column(COLUMNS[key], key=key, width=width)
        for change in self.changes:
            status = theme_colour(self.app, STATUS_COLOURS.get(change.status, "text-muted"))
            cells = {"id": cut(str(change.id), widths["id"], "bold"),
                     "started": cut(when(change.started)[:widths["started"]], widths["started"]),
                     "fix": cut(change.fix, widths["fix"]),
                     "status": cut(change.status, widths["status"], status),
                     "operator": cut(change.operator, widths.get("operator", 0)),
                     "params": cut(params_line(change.plan.params), widths["params"])}
            table.add_row(*(cells[key] for key in widths), key=str(change.id))
        ids = [c.id for c in self.changes]
        if keep in ids:
            table.move_cursor(row=ids.index(keep), animate=False)
        self.show_change(self.selected())

    def selected(self) -> Change | None:
        table = self.query_one(DataTable)
        if not self.changes or table.cursor_row is None or table.cursor_row >= len(self.changes):
            return None
        return self.changes[table.cursor_row]

    @on(DataTable.RowHighlighted, "#history-table")
    def _highlighted(self) -> None:
        if self.undoing is None:
            self.show_change(self.selected())
        self.refresh_bindings()

    def on_resize(self, event: Resize) -> None:
        if self.changes:
            self.call_after_refresh(self.refill)

    def show_change(self, change: Change | None) -> None:
        view = self.query_one(PlanView)
        if change is not None and change == self.shown:
            return  # a refill and its row highlight both ask: mount a long change once
        self.shown = change
        if change is None:
            view.border_title = "Change"
            view.show_text(Text("No change has been made in this environment yet. Fixes applied "
                                "from the findings (x) or the CLI are listed here.",
                                style=theme_colour(self.app, "text-muted")))
            return
        view.border_title = f"Change {change.id} · {change.fix}"
        palette = palette_of(self.app)
        view.show_steps(self.change_header(change),
                        [StepView(s.seq, s.step.title, s.status, body=journaled_step_body(s, palette))
                         for s in change.steps])

    def change_header(self, change: Change) -> RenderableType:
        palette = palette_of(self.app)
        status = theme_colour(self.app, STATUS_COLOURS.get(change.status, "text-muted"))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style=palette.muted, no_wrap=True)
        grid.add_column()
        grid.add_row("Status", Text.assemble((change.status, f"bold {status}"),
                                             (f"  {change.message}" if change.message else "", palette.muted)))
        grid.add_row("When", Text(f"{when(change.started)} → {when(change.finished)} UTC"))
        grid.add_row("Operator", Text(change.operator))
        grid.add_row("Parameters", parameters_table(change.plan.params, palette))
        if change.status in FINAL:
            grid.add_row("Undo", Text(f"nothing to undo: the change is {change.status}",
                                      style=palette.muted))
        else:
            config = self.app.session.config_path
            cli = "exops " + (f"--config {shlex.quote(display_path(config))} " if config else "")
            grid.add_row("Undo", Text.assemble(("u", f"bold {palette.accent}"),
                                               f", then type {change.id} · or: ",
                                               (f"{cli}undo {change.id}", "bold")))
        return Group(grid, Text(""))

    # ------------------------------------------------------------ undo

    def action_undo(self) -> None:
        change = self.selected()
        if change is None or change.status in FINAL or self.undoing is not None or self.app.changing:
            return
        self.app.push_screen(
            ConfirmScreen(f"Undo change {change.id}",
                          undo_summary(change, self.where, palette_of(self.app)),
                          str(change.id), "Undo"),
            lambda confirmed: self.start_undo(change) if confirmed else None)

    def start_undo(self, change: Change) -> None:
        if self.undoing is not None or self.app.changing:
            return
        self.undoing = change.id
        self.app.begin_change()
        self.show_change(change)
        self.query_one("#history-status", Static).update(Content.assemble(
            ("… Undoing change ", "$accent"), (str(change.id), "bold $accent"),
            ": each target is read, checked and put back to its before-state"))
        self.refresh_bindings()
        self.undo_worker(change.id)

    @work(thread=True, exclusive=True, group="change", exit_on_error=False)
    def undo_worker(self, change_id: int) -> None:
        post = self.post_message
        change = self.app.live.undo(change_id, lambda event: post(messages.StepChanged(event)))
        post(messages.ChangeUndone(change))

    def failed_change(self, error: str, exc: BaseException) -> None:
        self.on_change_stopped(messages.ChangeStopped(error))   # the journal knows what happened

    def on_step_changed(self, message: messages.StepChanged) -> None:
        event = message.event
        self.query_one(PlanView).show_state(event.seq, event.state, event.message)

    def on_change_undone(self, message: messages.ChangeUndone) -> None:
        change = message.change
        self.query_one("#history-status", Static).update(Content.assemble(
            (f"✔ Change {change.id} {change.status}: ", "bold $sev-ok"),
            "every target it touched is back to its before-state · running the checks again"))
        self.app.start_triage()
        self.notify("Reading the environment and running the checks again.",
                    title=f"Change {change.id} undone", timeout=5)

    def on_change_stopped(self, message: messages.ChangeStopped) -> None:
        self.query_one("#history-status", Static).update(Content.assemble(
            ("✖ Not undone: ", "bold $sev-critical"), message.error))

    def finished_change(self) -> None:
        self.undoing = None
        self.app.end_change()
        self.load()
        self.refresh_bindings()

    def action_maximize_change(self) -> None:
        self.query_one(PlanView).toggle_maximized()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not self.app.session.live:
            return action not in ("undo", "maximize_change")
        if action == "undo":
            change = self.selected()
            ok = (change is not None and change.status not in FINAL and self.undoing is None
                  and not self.app.changing)
            return True if ok else None
        return True
