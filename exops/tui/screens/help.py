"""Help: every key (listed from the bindings themselves) and what each screen is for."""
from __future__ import annotations

from collections.abc import Callable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown, Static

from exops.tui.widgets.severity import theme_colour

INTRO = ("Read the evidence, run the checks, see what is broken and the proof for it; fix it "
         "live, seeing every change before it is made, and undo it from the history. "
         "Ctrl+P opens the command palette: every action here, by name.")

SCREENS = """\
## Screens

**Overview** · what is being triaged (a bundle or the configured environment), what was
collected from it (administrative groups, servers, public folder databases, recipients scanned;
logs with records read and skipped), the checks grouped by area with their live status, and the
findings per severity. **Enter** on a check opens its findings.

**Findings** · one row per finding, worst first. Type after **/** to filter on ID, target or
summary; **1**–**5** hide or show a severity, **0** shows them all; **s** changes the sort (or
click a column). Below, the highlighted finding: its detail, the evidence (event excerpts with
time, server, event ID, DNs and message; directory entries with their attributes; command
output), the suggested fixes and the check's docs page. **Enter** gives it the whole screen,
**escape** steps back.

**Event timeline** · events 14031 (free/busy publishing failed), 8207 (publishing error) and
3047 (free/busy folder created) per day for each DN, on one day axis, so you can see whether the
folder was created after the last failure. Below, what each log gave.

**Fix** · **x** on a finding lists the fixes that resolve it, with the command line that does
the same, and plans the highlighted one: its notes, then every step with its target, why, and
the exact LDIF it will write. Nothing changes until you press **a** and type the word the
dialog shows (escape cancels); then each step is read, journaled, written and verified as you
watch, the checks the fix resolves run again, and the triage re-runs. From a bundle a plan is a
dry run: **w** saves it for `exops --config FILE apply`.

**History** · every change made in the live environment, newest first, with its steps, the
state each target was in before and the state it was left in. **u** undoes the highlighted
change once you type its ID; undo refuses when someone changed a target since.

**Export** · the findings as HTML, Markdown, JSON, CSV, JUnit or text, to a path you type; the
extension follows the format. From the findings screen with a filter on, you can export only
what the filter shows.

## Severities

**critical** something is broken now · **warning** will break or hides a problem · **info** worth
knowing · **ok** checked and healthy · **unknown** the check itself failed.
"""


def keys_table(title: str, bindings: list[Binding], key_display: Callable[[Binding], str],
               muted: str) -> Table:
    """Only exops's own bindings (ids `exops.*`): the widgets' own keys are Textual's."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True, min_width=7)
    table.add_column()
    table.title, table.title_justify, table.title_style = title, "left", f"bold {muted}"
    for binding in bindings:
        if (binding.id or "").startswith("exops."):
            table.add_row(key_display(binding), binding.description or binding.action)
    return table


class HelpScreen(ModalScreen[None]):
    """`sections` are (title, bindings) pairs, one small key table each, two to a row."""

    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="exops.help.close",
                        tooltip="Close the help")]

    def __init__(self, sections: list[tuple[str, list[Binding]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        muted = theme_colour(self.app, "text-muted")
        with VerticalScroll(id="help-dialog"):
            yield Static(Text(INTRO), id="help-intro")
            with Grid(id="help-keys"):
                for title, bindings in self.sections:
                    yield Static(keys_table(title, bindings, self.app.get_key_display, muted),
                                 classes="help-keys")
            yield Markdown(SCREENS, id="help-screens")

    def on_mount(self) -> None:
        dialog = self.query_one("#help-dialog")
        dialog.border_title = "exops triage · help"
        dialog.border_subtitle = "escape closes"
        dialog.focus()
