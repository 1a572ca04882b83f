"""Help: what each screen is for and every key, listed from the bindings themselves."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# exops triage

Read the evidence, run the checks, see what is broken and the proof for it.
**Ctrl+P** opens the command palette: every action here, by name.

{keys}
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

**Export** · the findings as HTML, Markdown, JSON, CSV, JUnit or text, to a path you type; the
extension follows the format. From the findings screen with a filter on, you can export only
what the filter shows.

## Severities

**critical** something is broken now · **warning** will break or hides a problem · **info** worth
knowing · **ok** checked and healthy · **unknown** the check itself failed.
"""


def keys_table(title: str, bindings: list[Binding], key_display) -> str:
    rows = [f"| {key_display(b)} | {b.description or b.action} |" for b in bindings
            if b.id and b.id.startswith("exops.")]
    return "\n".join([f"### {title}", "", "| Key | Action |", "|---|---|", *rows, ""])


class HelpScreen(ModalScreen[None]):
    """`sections` are (title, bindings) pairs; only exops's own bindings (ids `exops.*`) are listed."""

    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="exops.help.close")]

    def __init__(self, sections: list[tuple[str, list[Binding]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        display = self.app.get_key_display
        keys = "\n".join(keys_table(title, bindings, display) for title, bindings in self.sections)
        with VerticalScroll(id="help-dialog"):
            yield Markdown(HELP.format(keys="## Keys\n\n" + keys))

    def on_mount(self) -> None:
        dialog = self.query_one("#help-dialog")
        dialog.border_title = "Help"
        dialog.border_subtitle = "escape closes"
        dialog.focus()
