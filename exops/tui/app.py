"""The triage session: open evidence, run the checks, read the findings and their proof, fix
them, export, and keep the record (history, undo).

The app composes; screens live in `screens/`, widgets in `widgets/`, styles in `app.tcss`. All
blocking work (reading a bundle, running checks, planning and applying fixes, writing a report)
happens in thread workers that post messages; the app folds the triage's into one immutable
`Session` that the screens watch. A live session (a configuration) holds one `LiveEnvironment`
for its life: one Workbench, one thread for every directory and journal call, closed on exit.
"""
from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from pathlib import Path

from textual import events, on, work
from textual.app import App
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Input
from textual.worker import get_current_worker

from exops.errors import ExopsError
from exops.model import Finding, Report
from exops.registry import CheckSpec
from exops.tui import messages
from exops.tui import session as steps
from exops.tui.commands import TriageCommands
from exops.tui.gc_tuning import GarbageCollection
from exops.tui.live import LiveEnvironment
from exops.tui.screens.balancers import BalancersScreen
from exops.tui.screens.export import EXTENSIONS, ExportRequest, ExportScreen
from exops.tui.screens.findings import FindingsScreen
from exops.tui.screens.first_visit import made_current
from exops.tui.screens.fix import FixScreen
from exops.tui.screens.help import HelpScreen
from exops.tui.screens.history import HistoryScreen
from exops.tui.screens.overview import OverviewScreen
from exops.tui.screens.servers import ServersScreen
from exops.tui.screens.timeline import TimelineScreen
from exops.tui.session import Session
from exops.tui.worker_errors import WorkerOutcomes, describe
from exops.tui.widgets.checks import CheckRow
from exops.tui.widgets.severity import severity_variables

FIRST_MODE = "overview"   # the screen a session opens on; styled as Textual styles it (first_visit.py)
SCREENS_BY_MODE = {"overview": OverviewScreen, "findings": FindingsScreen,
                   "timeline": TimelineScreen, "history": HistoryScreen,
                   "servers": ServersScreen}


class ExopsApp(WorkerOutcomes, App):
    """`ExopsApp(bundle=...)` triages an evidence bundle; without one, the configured environment."""

    CSS_PATH = "app.tcss"
    TITLE = "exops"
    DEFAULT_MODE = FIRST_MODE
    MODES = {mode: screen if mode == FIRST_MODE else made_current(screen)
             for mode, screen in SCREENS_BY_MODE.items()}
    COMMANDS = {TriageCommands}  # exops's commands first, then Textual's (commands.py)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    BINDINGS = [
        Binding("o", "go('overview')", "Overview", id="exops.overview",
                tooltip="What is triaged, what was read from it, the checks and the worst findings"),
        Binding("f", "go('findings')", "Findings", id="exops.findings",
                tooltip="Every finding, worst first, with its proof and the fixes for it"),
        Binding("t", "go('timeline')", "Timeline", id="exops.timeline",
                tooltip="Free/busy events 14031, 8207 and 3047 per day for each DN"),
        Binding("h", "go('history')", "History", id="exops.history",
                tooltip="The changes made in the live environment, and undo"),
        Binding("s", "go('servers')", "Servers", id="exops.servers", show=False,
                tooltip="The Exchange servers: what each answered, or why not"),
        Binding("b", "balancers", "Balancers", id="exops.balancers", show=False,
                tooltip="Load balancers live: health and sessions per service and real server"),
        Binding("e", "export", "Export", id="exops.export",
                tooltip="Write the findings as HTML, Markdown, JSON, CSV, JUnit or text"),
        Binding("r", "rerun", "Re-run checks", id="exops.rerun", show=False,
                tooltip="Read the evidence and run every check again"),
        Binding("ctrl+s", "screenshot", "Screenshot", id="exops.screenshot", show=False,
                priority=True,  # priority: on modal screens (fix, export) too
                tooltip="Save the screen as an SVG picture (in Downloads, else here)"),
        Binding("question_mark", "help", "Help", id="exops.help", key_display="?",
                tooltip="Every key, and what each screen is for"),
        Binding("q", "quit", "Quit", id="exops.quit",
                tooltip="Leave exops (not while a change is being applied)"),
    ]

    session: reactive[Session] = reactive(Session, always_update=True)

    def __init__(self, bundle: str | None = None, config_path: str | None = None) -> None:
        super().__init__()
        self.set_reactive(ExopsApp.session, Session(bundle=bundle, config_path=config_path))
        self.live = None if bundle else LiveEnvironment(config_path)
        self.changing = False  # an apply or undo is running: navigation and quitting wait
        self.triage_cancel = threading.Event()
        self.collection = GarbageCollection()

    def format_title(self, title: str, sub_title: str) -> Content:
        return Content.assemble(("exops", "bold"), "  ", title, ("  ·  ", "dim"),
                                (sub_title or self.session.source, "dim"))

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {**super().get_theme_variable_defaults(),
                **severity_variables(self.current_theme.dark)}

    def on_mount(self) -> None:
        self.start_triage()
        self.collection.start()
        self.set_interval(0.25, self.collection.tick)
        self.call_after_refresh(self.refresh_css)  # Textual's first-switch pass (first_visit.py)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent):
            self.collection.input_seen()
        await super().on_event(event)

    async def on_unmount(self) -> None:
        self.collection.stop()
        self.triage_cancel.set()  # a scan still running stops at its next chunk or page
        if self.live is not None:  # waits for a running directory call, off the event loop
            await asyncio.to_thread(self.live.close)

    def watch_session(self, old: Session, new: Session) -> None:
        if (old.report is None) != (new.report is None):
            self.refresh_bindings()  # export is offered once there is a report; the footer
            # recomposes on every refresh, so not on every progress event

    # ------------------------------------------------------------ the triage worker

    def start_triage(self) -> None:
        """Plan the checks here, then read and check in the worker. Planning imports the check
        plugins (40-100 ms): done before the first frame, the overview opens with the checks
        listed and no early key waits for the imports in the worker's hold on the GIL."""
        self.triage_cancel.set()
        self.triage_cancel = threading.Event()
        self.session = Session(bundle=self.session.bundle, config_path=self.session.config_path)
        try:
            specs = steps.plan_checks()
        except ExopsError as exc:   # a broken check plugin
            self.session = self.session.failed(str(exc))
            return
        self.session = replace(self.session.planned(specs), phase="loading")
        self.triage(self.triage_cancel, specs)

    @work(thread=True, exclusive=True, group="triage", exit_on_error=False)
    def triage(self, cancel: threading.Event, specs: list[CheckSpec]) -> None:
        """Read the evidence, run the planned checks: each step posts what it learnt.

        `cancel` is passed down to every scan, so a restarted or closed session stops reading."""
        worker, session = get_current_worker(), self.session

        def post(message: Message) -> None:
            if not worker.is_cancelled:  # a restarted triage must not hear from the old one
                self.post_message(message)

        facts, source = steps.load_facts(session, lambda text: post(messages.Activity(text)),
                                         cancel, self.live)
        origin = steps.bundle_origin(session.bundle) if session.bundle else ""
        post(messages.FactsLoaded(facts, origin))
        report = steps.run(facts, source, specs,
                           lambda event: post(messages.CheckUpdate(event)))
        post(messages.ChecksFinished(report))

    def failed_triage(self, error: str, exc: BaseException) -> None:
        if not isinstance(exc, ExopsError):
            error = describe(exc, "run `exops --debug check` on the same input for the traceback")
        self.session = self.session.failed(error)

    def on_activity(self, message: messages.Activity) -> None:
        self.session = replace(self.session, activity=message.text)

    def on_facts_loaded(self, message: messages.FactsLoaded) -> None:
        self.session = replace(self.session, facts=message.facts, origin=message.origin,
                               phase="checking", activity="running the checks")

    def on_check_update(self, message: messages.CheckUpdate) -> None:
        self.session = self.session.progressed(message.progress)

    def on_checks_finished(self, message: messages.ChecksFinished) -> None:
        self.session = self.session.finished(message.report)

    # ------------------------------------------------------------ navigation

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "go" and parameters and parameters[0] == self.current_mode:
            return False  # the footer does not offer the screen you are on
        if action in ("go", "rerun") and self.changing:
            return None  # a change is running: its screen stays until it has finished
        if action == "export" and self.session.report is None:
            return None  # shown dimmed until there is something to export
        if action == "balancers":
            return self.live is not None  # live only: a bundle holds no balancer to watch
        return True

    async def action_go(self, mode: str) -> None:
        await self.switch_mode(mode)
        self.refresh_bindings()

    @on(CheckRow.Chosen)
    async def _check_chosen(self, message: CheckRow.Chosen) -> None:
        await self.open_findings(message.check_id)

    async def open_findings(self, check_id: str) -> None:
        """The findings screen, filtered to one check's ID."""
        if self.changing:
            self.notify("A change is running: its screen stays until it has finished.", timeout=3)
            return
        await self.action_go("findings")
        self.screen.query_one("#filter", Input).value = check_id

    def action_rerun(self) -> None:
        self.start_triage()
        self.notify("Reading the evidence and running the checks again.", timeout=3)

    def action_balancers(self) -> None:
        """Live health and sessions per service and real server; read in the screen's worker."""
        from exops.collect import load_live_config
        from exops.sources.loadbalancers import read_balancers
        if isinstance(self.screen, BalancersScreen) or self.live is None:
            return
        path = self.session.config_path
        self.push_screen(BalancersScreen(lambda: read_balancers(load_live_config(path))[0]))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen([
                ("Everywhere", list(self.BINDINGS)), ("Overview", list(CheckRow.BINDINGS)),
                ("Findings", list(FindingsScreen.BINDINGS)), ("Fix", list(FixScreen.BINDINGS)),
                ("History", list(HistoryScreen.BINDINGS)), ("Export", list(ExportScreen.BINDINGS)),
                ("Balancers", list(BalancersScreen.BINDINGS))]))

    # ------------------------------------------------------------ fixes and changes

    def open_fix(self, finding: Finding) -> None:
        """The fix screen for one finding, planned from this session's facts or live directory."""
        self.push_screen(FixScreen(finding, self.session.facts, self.session, self.live))

    def begin_change(self) -> None:
        self.changing = True
        self.refresh_bindings()

    def end_change(self) -> None:
        self.changing = False
        self.refresh_bindings()

    async def action_quit(self) -> None:
        if self.changing:
            self.notify("A change is being applied or undone; quit when it has finished (every "
                        "step is journaled either way).", severity="warning", timeout=5)
            return
        await super().action_quit()

    # ------------------------------------------------------------ screenshot

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """The screen as SVG, in ~/Downloads when there is one, else in the working directory
        (Textual's own delivery fails without a word there); says where, or why it could not."""
        folder, note = screenshot_folder(path)
        try:
            written = self.save_screenshot(filename, str(folder), time_format)
        except OSError as exc:
            self.notify(f"could not write in {folder}: {exc.strerror or exc}",
                        title="Screenshot not saved", severity="error", timeout=8, markup=False)
            return None
        self.notify(f"{note}{Path(written).resolve()}", title="Screenshot saved", timeout=8,
                    markup=False)
        return written

    # ------------------------------------------------------------ export

    def action_export(self, fmt: str = "html") -> None:
        report = self.session.report
        if report is None:
            self.notify("Nothing to export yet: the checks are still running.", severity="warning")
            return
        shown = self.screen.shown_findings() if isinstance(self.screen, FindingsScreen) else None
        self.push_screen(ExportScreen(default_path(fmt), fmt, shown), self._export_chosen)

    def _export_chosen(self, request: ExportRequest | None) -> None:
        if request is None:
            self.notify("Export cancelled: nothing was written.", timeout=3)
        elif self.session.report is not None:
            self.write_report(self.session.report, request)

    @work(thread=True, group="export", exit_on_error=False)
    def write_report(self, report: Report, request: ExportRequest) -> None:
        from exops.reports import render

        if request.findings is not None:
            report = replace(report, findings=request.findings)
        request.path.write_text(render(report, request.fmt), encoding="utf-8")
        self.post_message(messages.ReportWritten(str(request.path), request.fmt, len(report.findings)))

    def on_report_written(self, message: messages.ReportWritten) -> None:
        self.notify(f"{message.findings} findings as {message.fmt} → {message.path}",
                    title="Report written", timeout=8, markup=False)

    def failed_export(self, error: str, exc: BaseException) -> None:
        if isinstance(exc, OSError):
            error = f"could not write {exc.filename or 'the report'}: {exc.strerror or exc}"
        self.notify(error, title="Export failed", severity="error", timeout=10, markup=False)


def screenshot_folder(path: str | None) -> tuple[Path, str]:
    """(folder, what to tell about it): the folder asked for, else the user's Downloads, else
    the working directory with a word on why."""
    from platformdirs import user_downloads_path
    if path:
        return Path(path).expanduser(), ""
    downloads = user_downloads_path()
    if downloads.is_dir():
        return downloads, ""
    return Path.cwd(), f"{downloads} does not exist, so in the working directory: "


def default_path(fmt: str) -> Path:
    """In the working directory, shown relative: the notification gives the absolute path."""
    return Path(f"exops-report{EXTENSIONS[fmt]}")


def run_tui(bundle: str | None = None, config_path: str | None = None) -> None:
    ExopsApp(bundle=bundle, config_path=config_path).run()
