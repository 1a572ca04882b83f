"""Findings: a filterable, sortable table, and the highlighted finding's detail and evidence below.

The fix flow starts here: `x` opens the FixScreen (plan, confirm, apply, verify) for the
highlighted finding; `c` copies the first suggested command for the CLI.
"""
from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Label

from exops.model import Finding
from exops.tui.session import Session
from exops.tui.widgets.finding_detail import FindingDetail
from exops.tui.widgets.finding_filter import SEVERITY_KEYS, FindingFilter, SeverityChips
from exops.tui.widgets.footer import ExopsFooter
from exops.tui.widgets.severity import severity_style

COLUMNS = {"severity": "Severity", "id": "ID", "target": "Target", "summary": "Summary"}
WIDE = 100


def column_widths(total: int, findings: list[Finding]) -> dict[str, int]:
    """Severity and ID fit their text; below 100 columns the summary takes the rest (findings of
    one administrative group share its target, so the target would repeat; it heads the detail
    pane), above it the target gets up to half of the rest and the summary the remainder."""
    wide = total >= WIDE
    usable = total - 3 - 2 * (4 if wide else 3)  # margins, scrollbar, a cell of padding each side
    id_width = min(18, max((len(f.check_id) for f in findings), default=2))
    widths = {"severity": 10, "id": id_width}
    room = max(12, usable - widths["severity"] - id_width)
    if not wide:
        return {**widths, "summary": room}
    target = min(max((len(f.target) for f in findings), default=6), max(12, room // 2))
    return {**widths, "target": target, "summary": max(10, room - target)}


def cut(text: str, width: int, style=None) -> Text:
    out = Text(text, style=style or "", no_wrap=True, overflow="ellipsis")
    out.truncate(width, overflow="ellipsis")
    return out


def copied_command(finding: Finding, session: Session) -> str:
    """The first suggested fix as a command for this session (its bundle or configuration),
    every value shell-quoted; the check's own text when no registered fix suggests one."""
    from exops.tui.screens.fix import cli_command
    from exops.workbench import suggestions
    found = suggestions(finding, session.facts) if session.facts is not None else []
    if not found:
        return finding.fixes[0]
    return cli_command(found[0], config_path=session.config_path, bundle=session.bundle)


class FindingsScreen(Screen):
    TITLE = "Findings"
    BINDINGS = [
        # Priority bindings act as the key arrives, so keys typed right behind `/` (or pasted)
        # go to the filter and a second enter to the table; check_action lets `/` be a character
        # inside the filter and enter reach the table outside it.
        # `/` and `s` are shown where they act (the filter bar's label, the sorted column's ▾)
        # rather than in the footer, which keeps room at 80 columns for the fix and the screens.
        Binding("slash", "focus_filter", "Filter", id="exops.findings.filter", key_display="/",
                priority=True, show=False,
                tooltip="Type words that the ID, target, summary or evidence must hold"),
        Binding("enter", "filter_done", "Leave the filter", id="exops.findings.filter_done",
                priority=True, show=False, tooltip="Back to the table, keeping the filter"),
        Binding("s", "cycle_sort", "Sort", id="exops.findings.sort", show=False,
                tooltip="Sort the findings by the next column"),
        Binding("x", "fix", "Fix…", id="exops.findings.fix",
                tooltip="The fixes that resolve the highlighted finding, and their plan"),
        Binding("c", "copy_fix", "Copy fix", id="exops.findings.copy_fix", show=False,
                tooltip="Copy the command line that fixes the highlighted finding"),
        Binding("escape", "back", "Step back", id="exops.findings.back", show=False,
                tooltip="Leave the full-screen detail, then the filter"),
        *(Binding(key, f"toggle_severity('{severity.value}')", f"Show/hide {severity.value}",
                  id=f"exops.findings.severity.{severity.value}", show=False,
                  tooltip=f"Hide the {severity.value} findings, or show them again")
          for key, severity in SEVERITY_KEYS.items()),
        Binding("0", "all_severities", "Show every severity", id="exops.findings.severity.all",
                show=False, tooltip="Show the findings of every severity again"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter = FindingFilter()
        self.findings: tuple[Finding, ...] = ()
        self.rows: list[Finding] = []

    def compose(self) -> ComposeResult:
        yield Header(icon="≡")
        with Horizontal(id="filter-bar"):
            yield Label(Content.assemble(("/", "bold $accent"), " Filter"), id="filter-label")
            yield Input(placeholder="ID, target or summary", id="filter", compact=True)
            yield SeverityChips(id="severity-chips")
        yield DataTable(id="findings-table", cursor_type="row", zebra_stripes=True)
        yield FindingDetail(id="finding-detail")
        yield ExopsFooter()

    def on_mount(self) -> None:
        self.query_one("#finding-detail").border_title = "Detail"
        self.watch(self.app, "session", self.show, init=True)
        self.app.theme_changed_signal.subscribe(self, lambda _: self.refill())
        self.query_one(DataTable).focus()

    def show(self, session: Session) -> None:
        findings = session.report.findings if session.report else ()
        if findings is not self.findings or not self.rows:
            self.findings = findings
            self.refill()

    def shown_findings(self) -> tuple[Finding, ...] | None:
        """The findings the filter shows, or None when nothing is filtered out (for export)."""
        return tuple(self.rows) if self.filter.active else None

    # ------------------------------------------------------------ table

    def refill(self) -> None:
        table = self.query_one(DataTable)
        keep = self.highlighted()
        self.rows = self.filter.apply(self.findings)
        widths = column_widths(self.size.width or self.app.size.width, self.rows)
        table.clear(columns=True)
        for key, width in widths.items():
            marker = " ▾" if key == self.filter.sort else ""
            table.add_column(COLUMNS[key] + marker, key=key, width=width)
        for index, finding in enumerate(self.rows):
            cells = {"severity": cut(finding.severity.value, widths["severity"],
                                     severity_style(self.app, finding.severity)),
                     "id": cut(finding.check_id, widths["id"], "bold"),
                     "target": cut(finding.target, widths.get("target", 0)),
                     "summary": cut(finding.summary, widths.get("summary", 0))}
            table.add_row(*(cells[key] for key in widths), key=str(index))
        counts = {s.value: sum(f.severity is s for f in self.findings) for s in SEVERITY_KEYS.values()}
        self.query_one(SeverityChips).show(counts, self.filter.hidden)
        if keep in self.rows:
            table.move_cursor(row=self.rows.index(keep), animate=False)
        self.show_detail()

    def highlighted(self) -> Finding | None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row is None or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def show_detail(self) -> None:
        detail = self.query_one(FindingDetail)
        session = self.app.session
        if session.report is None:
            detail.show(None, "The checks are still running…" if session.busy
                        else session.error or "No report yet.")
        elif not self.findings:
            detail.show(None, "The checks found nothing to report.")
        elif not self.rows:
            detail.show(None, "No finding matches the filter (0 shows every severity, "
                              "escape clears the text).")
        else:
            detail.show(self.highlighted())

    def on_resize(self, event: Resize) -> None:
        self.call_after_refresh(self.refill)

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self.show_detail()

    @on(DataTable.RowSelected)
    def _selected(self) -> None:
        """Enter on a finding: its detail fills the screen, focused for scrolling."""
        detail = self.query_one(FindingDetail)
        self.maximize(detail)
        self.set_focus(detail)

    @on(DataTable.HeaderSelected)
    def _sort_by_header(self, event: DataTable.HeaderSelected) -> None:
        self.filter = replace(self.filter, sort=str(event.column_key.value))
        self.refill()

    # ------------------------------------------------------------ filter

    @on(Input.Changed, "#filter")
    def _filter_typed(self, event: Input.Changed) -> None:
        self.filter = replace(self.filter, text=event.value)
        self.refill()

    def action_filter_done(self) -> None:
        self.set_focus(self.query_one(DataTable))

    def action_focus_filter(self) -> None:
        self.minimize()
        self.set_focus(self.query_one("#filter", Input))

    def action_toggle_severity(self, value: str) -> None:
        self.filter = self.filter.toggled(next(s for s in SEVERITY_KEYS.values() if s.value == value))
        self.refill()

    def action_all_severities(self) -> None:
        self.filter = replace(self.filter, hidden=frozenset())
        self.refill()

    def action_cycle_sort(self) -> None:
        self.filter = self.filter.next_sort()
        self.refill()  # the sorted column's header carries the ▾

    def action_back(self) -> None:
        """Escape unwinds one step: the maximized detail, then the filter text."""
        filter_input = self.query_one("#filter", Input)
        if self.maximized is not None:
            self.minimize()
            self.set_focus(self.query_one(DataTable))
        elif self.focused is filter_input or filter_input.value:
            filter_input.value = ""
            self.set_focus(self.query_one(DataTable))

    def action_fix(self) -> None:
        finding = self.highlighted()
        if finding is None or self.app.session.report is None:
            self.notify("Choose a finding first.", severity="warning", timeout=3)
            return
        self.app.open_fix(finding)

    def action_copy_fix(self) -> None:
        finding = self.highlighted()
        if finding is None or not finding.fixes:
            self.notify("This finding has no suggested fix.", severity="warning", timeout=3)
            return
        command = copied_command(finding, self.app.session)
        self.app.copy_to_clipboard(command)
        self.notify(command, title="Copied to the clipboard", timeout=4, markup=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("focus_filter", "filter_done"):  # `focused` moves at once, has_focus later
            return (self.focused is self.query_one("#filter", Input)) == (action == "filter_done")
        if action == "copy_fix":
            finding = self.highlighted()
            return True if finding is not None and finding.fixes else None
        if action == "fix":  # dimmed until there is a finding to fix
            return True if self.highlighted() is not None and self.app.session.report else None
        return True
