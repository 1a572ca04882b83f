"""Fix: from a finding to a verified change, showing exactly what will change before it does.

The fixes that resolve the finding are listed with the command line that does the same; the
highlighted one is planned in a worker (live: from the directory as it is now, through the
session's Workbench; bundle: from the bundle's facts, a dry run) and shown step by step with the
LDIF it will write. Live, `a` asks for a typed confirmation, then applies exactly the plan shown
in an exclusive worker; each step's state arrives as it happens, then the checks the fix
resolves run again against the directory, and the triage re-runs. A bundle is evidence: nothing
is applied from it, and the screen says how to apply the plan instead (or saves it).

The screen is modal: the app's keys (other screens, re-run) wait until it is closed, so nothing
else reaches the directory in the middle of a change.
"""
from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Header, OptionList, Static
from textual.widgets.option_list import Option

from exops.model import Finding
from exops.tui import messages
from exops.tui.screens.confirm import ConfirmScreen, SavePlanScreen
from exops.tui.screens.params import ParamsScreen
from exops.tui.session import Session, display_path
from exops.tui.widgets.environment import plural
from exops.tui.widgets.footer import ExopsFooter
from exops.tui.widgets.plan_view import PlanView
from exops.tui.worker_errors import WorkerOutcomes
from exops.tui.widgets.severity import severity_style, theme_colour
from exops.tui.widgets.steps import (
    PLANNED,
    StepView,
    notes_list,
    palette_of,
    parameters_table,
    plan_step_body,
    preview_text,
    targets_table,
)

if TYPE_CHECKING:
    from exops.workbench import Suggestion, Verification
    from exops.facts.store import Facts
    from exops.plan import Plan
    from exops.tui.live import LiveEnvironment

PLACEHOLDER_CONFIG = "exops.yaml"
VERBS = {"ldap.add": "create", "ldap.modify": "modify"}


def cli_command(suggestion: Suggestion, config_path: str | None = None, bundle: str | None = None) -> str:
    """The command line that plans the same fix: live with the session's --config (the plan is
    on the screen: no --dry-run), or a dry run on the session's bundle; as a report suggests it."""
    from exops.advice import context_words, in_words
    return in_words(suggestion, *context_words(
        bundle=display_path(bundle) if bundle else None,
        config_path=display_path(config_path) if config_path else None, dry_run=False))


def confirmation_word(plan: Plan) -> str:
    """What the admin types to apply: the administrative group's name when the plan makes or
    repairs one (so the name is read, not skipped), else `apply`."""
    return str(plan.params.get("ag_name") or "").strip() or "apply"


def apply_summary(plan: Plan, where: str, palette) -> RenderableType:
    """The confirmation's body: every target and what happens to it, and the safety rails."""
    lines = targets_table([(VERBS.get(s.action, s.action), s.target) for s in plan.steps], palette)
    notes: list[RenderableType] = [notes_list(plan.notes, palette), Text("")] if plan.notes else []
    return Group(
        Text.assemble("Fix ", (plan.fix, "bold"), f" makes {plural(len(plan.steps), 'change')} in ",
                      (where or "the live directory", "bold"), ":"),
        Text(""), lines, Text(""), *notes,
        Text("Before each write exops reads the target: if it is no longer as planned, nothing "
             "more is written and the steps already made are undone. Every before-state is "
             "journaled first, so History (h) can undo the change.", style=palette.muted))


class FixScreen(WorkerOutcomes, ModalScreen[None]):
    TITLE = "Fix"
    BINDINGS = [
        Binding("escape", "back", "Back", id="exops.fix.back",
                tooltip="Back to the findings (not while a change is being applied)"),
        Binding("a", "apply", "Apply…", id="exops.fix.apply",
                tooltip="Apply this plan to the live directory once you type the confirmation"),
        Binding("a", "why_not_apply", show=False),  # when Apply is not offered: why not
        Binding("w", "save", "Save plan…", id="exops.fix.save",
                tooltip="Save this plan to a file that exops apply runs later, exactly"),
        Binding("p", "replan", "Plan again", id="exops.fix.replan",
                tooltip="Make the plan again from the directory as it is now"),
        Binding("e", "edit_params", "Parameters…", id="exops.fix.params",
                tooltip="Change the fix's parameters and plan again"),
        Binding("c", "copy_command", "Copy command", id="exops.fix.copy", show=False,
                tooltip="Copy the command line that makes the same plan"),
        Binding("m", "maximize_plan", "Full plan", id="exops.fix.maximize",
                tooltip="The plan on the whole screen; m again puts it back"),
    ]

    def __init__(self, finding: Finding, facts: Facts | None, session: Session,
                 live: LiveEnvironment | None) -> None:
        super().__init__()
        self.finding, self.facts, self.session, self.live = finding, facts, session, live
        self.suggestions: list[Suggestion] = []
        self.chosen: Suggestion | None = None
        self.plan: Plan | None = None
        self.phase = "listing"  # listing → planning → planned | refused → applying → verifying → done | stopped
        self.plan_focus = False  # the user chose the fix: read its plan with the keys once made
        self.change_id: int | None = None

    def compose(self) -> ComposeResult:
        yield Header(icon="≡")
        yield Static(id="fix-finding")
        yield OptionList(id="fix-choices")
        yield PlanView(id="fix-plan")
        yield Static(id="fix-status")
        yield ExopsFooter()

    def on_mount(self) -> None:
        self.query_one("#fix-choices").border_title = "Fixes that resolve it"
        self.query_one("#fix-plan").border_title = "Plan"
        self.show_finding()
        self.query_one(PlanView).show_text(self.muted("Looking for the fixes that resolve this finding…"))
        self.query_one("#fix-choices", OptionList).focus()
        self.app.theme_changed_signal.subscribe(self, lambda _: self.redraw())
        self.find_suggestions()

    def redraw(self) -> None:
        """Colours are resolved when drawn: draw the finding and the plan again, keeping each
        step's state."""
        self.show_finding()
        if self.plan is not None and self.chosen is not None:
            states = {seq: (v.state, v.message) for seq, v in self.query_one(PlanView).steps.items()}
            self.show_plan(self.plan, self.chosen, states)

    # ------------------------------------------------------------ what is shown

    def muted(self, text: str) -> Text:
        return Text(text, style=theme_colour(self.app, "text-muted"))

    def show_finding(self) -> None:
        finding, muted = self.finding, theme_colour(self.app, "text-muted")
        badge = severity_style(self.app, finding.severity) + Style(reverse=True, bold=True)
        first = Text.assemble((f" {finding.severity.value.upper()} ", badge), "  ",
                              (finding.check_id, "bold"), "  ", finding.target)
        if self.session.live:
            where = self.live.where if self.live and self.live.where else \
                f"the live directory of {self.session.source}"
            second = Text.assemble(("Changes go to ", muted), (where, "bold"))
            if self.live and self.live.journal_path:
                second.append(f" · journal {display_path(self.live.journal_path)}", style=muted)
        else:
            second = Text.assemble((self.session.source, "bold"),
                                   (" · evidence: plans are dry runs", muted))
        self.query_one("#fix-finding", Static).update(Text("\n").join([first, second]))

    def set_status(self, content: Content | str) -> None:
        self.query_one("#fix-status", Static).update(content)

    def plan_header(self, plan: Plan) -> RenderableType:
        """What the fix does and how many steps: the steps follow at once, then `plan_footer`."""
        palette = palette_of(self.app)
        if plan.noop:
            summary = Text("Nothing to change: the directory is already as this fix would leave it.",
                           style=f"bold {theme_colour(self.app, 'sev-ok')}")
        else:
            summary = Text.assemble(
                (plural(len(plan.steps), "step"), "bold"), (f" · basis {plan.basis}", palette.muted),
                (" · a dry run, how to apply it is below" if not self.session.live else "", palette.muted),
                (" · notes below" if plan.notes else "", palette.muted))
        return Group(summary, Text(""))

    def plan_footer(self, plan: Plan, suggestion: Suggestion) -> RenderableType:
        """The planner's notes (which database and why, what to do afterwards), the parameters
        the plan was made with, and how to run the same from the CLI."""
        palette = palette_of(self.app)
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style=palette.muted, no_wrap=True)
        grid.add_column()
        if plan.notes:
            grid.add_row("Notes", notes_list(plan.notes, palette))
        grid.add_row("Parameters", parameters_table(plan.params, palette))
        if self.session.live:
            grid.add_row("Command", Text(cli_command(suggestion, self.session.config_path), style="bold"))
        else:
            grid.add_row("To apply", self.how_to_apply(suggestion))
        return grid

    def how_to_apply(self, suggestion: Suggestion) -> Text:
        """A bundle is evidence: the same fix, run live, or this very plan, applied later."""
        warning = theme_colour(self.app, "sev-warning")
        live_command = suggestion.command(f"--config {PLACEHOLDER_CONFIG}")
        return Text.assemble(
            ("not from a bundle: bundles are evidence. ", f"bold {warning}"),
            "Run it against the live directory:\n", (f"$ {live_command}", "bold"),
            "\nor save this plan (w) and apply exactly it later:\n",
            (f"$ exops --config {PLACEHOLDER_CONFIG} apply FILE", "bold"),
            "\n(refused as stale if the directory no longer matches the bundle)")

    # ------------------------------------------------------------ suggestions

    @work(thread=True, exclusive=True, group="fix-suggest", exit_on_error=False)
    def find_suggestions(self) -> None:
        from exops.workbench import suggestions
        found = suggestions(self.finding, self.facts) if self.facts is not None else []
        self.post_message(messages.Suggested(found))

    def failed_fix_suggest(self, error: str, exc: BaseException) -> None:
        self.on_suggested(messages.Suggested([], error))   # a broken plugin must not end the session

    def on_suggested(self, message: messages.Suggested) -> None:
        self.suggestions = message.suggestions
        choices = self.query_one("#fix-choices", OptionList)
        choices.clear_options()
        muted = theme_colour(self.app, "text-muted")
        for suggestion in self.suggestions:
            command = Text(f"  $ {suggestion.command()}", style=muted, no_wrap=True,
                           overflow="ellipsis")
            title = Text.assemble((suggestion.fix.name, "bold"), "  ", suggestion.fix.title,
                                  no_wrap=True, overflow="ellipsis")
            choices.add_option(Option(Text("\n", no_wrap=True).join([title, command])))
        if not self.suggestions:
            choices.display = False
            why = message.error or (f"No installed fix resolves {self.finding.check_id} for this "
                                    "target; the finding's detail lists what to do by hand.")
            self.query_one(PlanView).show_text(Text(why))
            self.set_status(Content.styled("Nothing to plan.", "$text-muted"))
            self.phase = "refused"
            self.refresh_bindings()
            return
        choices.highlighted = 0
        self.make_plan(self.suggestions[0])

    @on(OptionList.OptionSelected, "#fix-choices")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        """Enter on a fix: plan it (again), then read the plan with the keys."""
        if self.phase in ("applying", "verifying"):
            return
        suggestion = self.suggestions[event.option_index]
        if suggestion is self.chosen and self.phase == "planned":
            self.query_one(PlanView).focus()
            return
        self.make_plan(suggestion, focus=True)

    # ------------------------------------------------------------ planning

    def make_plan(self, suggestion: Suggestion, focus: bool = False) -> None:
        self.chosen, self.plan, self.phase = suggestion, None, "planning"
        self.plan_focus = focus
        view = self.query_one(PlanView)
        view.border_title = f"Plan · {suggestion.fix.name}"
        doing = ("Reading the live directory and making the plan; nothing is changed"
                 if self.session.live else "Planning from the bundle's directory facts (a dry run)")
        view.show_text(self.muted(f"{doing}…"))
        self.set_status(Content.assemble(("… ", "$accent"), doing))
        self.refresh_bindings()
        self.plan_worker(suggestion)

    @work(thread=True, exclusive=True, group="fix-plan", exit_on_error=False)
    def plan_worker(self, suggestion: Suggestion) -> None:
        from exops.workbench import plan_fix
        if self.live is not None:
            plan = self.live.plan(suggestion.fix.name, suggestion.params)
        else:
            plan = plan_fix(suggestion.fix.name, suggestion.params, self.facts)
        self.post_message(messages.PlanMade(suggestion, plan))

    def failed_fix_plan(self, error: str, exc: BaseException) -> None:
        self.on_plan_refused(messages.PlanRefused(self.chosen, error))

    def on_plan_made(self, message: messages.PlanMade) -> None:
        if message.suggestion is not self.chosen or self.phase != "planning":
            return  # another fix was chosen meanwhile
        plan = message.plan
        self.plan, self.phase = plan, "planned"
        self.show_finding()  # the live target is known now
        view = self.show_plan(plan, message.suggestion)
        if self.plan_focus:
            view.focus()
        self.set_status(self.planned_status(plan))
        self.refresh_bindings()

    def show_plan(self, plan: Plan, suggestion: Suggestion,
                  states: dict[int, tuple[str, str]] | None = None) -> PlanView:
        palette, view, states = palette_of(self.app), self.query_one(PlanView), states or {}
        view.show_steps(self.plan_header(plan),
                        [StepView(seq, step.title, *states.get(seq, (PLANNED, "")),
                                  body=plan_step_body(step, palette),
                                  preview=preview_text(step, palette))
                         for seq, step in enumerate(plan.steps, 1)],
                        self.plan_footer(plan, suggestion))
        return view

    def planned_status(self, plan: Plan) -> Content:
        if plan.noop:
            return Content.assemble(("✔ Nothing to change: ", "bold $sev-ok"),
                                    "the directory is already as this fix would leave it "
                                    "(the notes say why)")
        steps = plural(len(plan.steps), "step")
        if not self.session.live:
            return Content.assemble(("Dry run from the bundle: ", "bold $sev-warning"),
                                    "nothing is applied · ", ("w", "bold $accent"),
                                    " saves the plan for exops apply")
        return Content.assemble(("Nothing has changed yet. ", "bold"), f"{steps} planned · ",
                                ("a", "bold $accent"), " applies it after you type a confirmation · ",
                                ("w", "bold $accent"), " saves it")

    def on_plan_refused(self, message: messages.PlanRefused) -> None:
        if message.suggestion is not self.chosen:
            return
        self.plan, self.phase = None, "refused"
        critical = theme_colour(self.app, "sev-critical")
        self.query_one(PlanView).show_text(Group(
            Text.assemble(("exops will not plan this fix: ", f"bold {critical}"), message.error),
            Text(""), self.muted("Nothing was changed. Choose another fix, or run the command "
                                 "with other parameters from the CLI.")))
        self.set_status(Content.assemble(("✖ Not planned", "bold $sev-critical"),
                                         " · nothing was changed"))
        self.refresh_bindings()

    # ------------------------------------------------------------ apply, verify

    def action_apply(self) -> None:
        plan = self.plan
        if plan is None or plan.noop or not self.session.live or self.phase != "planned":
            return
        where = self.live.where if self.live else ""
        self.app.push_screen(
            ConfirmScreen(f"Apply fix {plan.fix}", apply_summary(plan, where, palette_of(self.app)),
                          confirmation_word(plan), "Apply"),
            lambda confirmed: self.start_apply(plan) if confirmed else None)

    def action_why_not_apply(self) -> None:
        """`a` when there is nothing to apply says why, rather than doing nothing."""
        if not self.session.live:
            self.notify("Bundles are evidence: nothing is applied from one. Save this plan (w) and "
                        f"run exops --config {PLACEHOLDER_CONFIG} apply FILE, or run the command "
                        "below against the live directory.", title="Not applied",
                        severity="warning", timeout=8, markup=False)
        elif self.phase in ("applying", "verifying"):
            self.notify("The change is being applied: its steps show here as they happen.",
                        timeout=4, markup=False)
        elif self.plan is not None and self.plan.noop:
            self.notify("Nothing to apply: the directory is already as this fix would leave it.",
                        timeout=4, markup=False)
        else:
            self.notify("There is no plan to apply yet: choose a fix and wait for its plan.",
                        timeout=4, markup=False)

    def start_apply(self, plan: Plan) -> None:
        if plan is not self.plan or self.phase != "planned":
            return
        self.phase = "applying"
        self.app.begin_change()
        view = self.query_one(PlanView)
        for seq in range(1, len(plan.steps) + 1):
            view.show_state(seq, PLANNED)
        view.scroll_home(animate=False)
        self.set_status(Content.assemble(
            ("… Applying ", "$accent"), plural(len(plan.steps), "step"),
            ": each target is read, its before-state journaled, then written, read back and verified"))
        self.refresh_bindings()
        self.apply_worker(plan)

    @work(thread=True, exclusive=True, group="change", exit_on_error=False)
    def apply_worker(self, plan: Plan) -> None:
        post = self.post_message
        result = self.live.apply(plan, lambda event: post(messages.StepChanged(event)))
        post(messages.ChangeApplied(result))
        post(messages.Verified(self.live.verify(plan)))

    def failed_change(self, error: str, exc: BaseException) -> None:
        """Applying failed (the journal knows what happened), or, once applied, verifying did."""
        from exops.plan import PlanStale
        if self.phase == "verifying":
            self.on_verified(messages.Verified(None, error))
        else:
            self.on_change_stopped(messages.ChangeStopped(error, stale=isinstance(exc, PlanStale)))

    def on_step_changed(self, message: messages.StepChanged) -> None:
        event = message.event
        self.query_one(PlanView).show_state(event.seq, event.state, event.message)

    def on_change_applied(self, message: messages.ChangeApplied) -> None:
        result, plan = message.result, self.plan
        self.phase = "verifying"
        self.change_id = result.change_id
        checks = ", ".join(self.chosen.fix.resolves) if self.chosen else "its checks"
        done = ("already in place (another run made it)" if result.status == "found"
                else "applied and verified")
        self.set_status(Content.assemble(
            (f"✔ Change {result.change_id} {done}. ", "bold $sev-ok"),
            ("… Verifying: ", "$accent"),
            f"reading the directory again and re-running {checks} for {plan.params.get('dn') or 'it'}"))

    def on_verified(self, message: messages.Verified) -> None:
        self.phase = "done"
        change = f"change {self.change_id}"
        if message.verification is None:
            self.set_status(Content.assemble(
                ("✔ Applied", "bold $sev-ok"), f" ({change}) · ",
                ("✖ the verification could not run: ", "bold $sev-critical"), message.error))
        else:
            self.set_status(self.verified_status(message.verification, change))
        self.refresh_bindings()
        self.app.start_triage()
        self.notify("The change is made: reading the environment and running the checks again.",
                    title=change.capitalize(), timeout=5)

    def verified_status(self, verification: Verification, change: str) -> Content:
        target = self.plan.params.get("dn") if self.plan else ""
        undo = Content.assemble(" · undo it from History (", ("h", "bold $accent"), f"), {change}")
        if verification.resolved:
            return Content.assemble(("✔ Resolved: ", "bold $sev-ok"),
                                    f"the checks this fix resolves report nothing for {target} "
                                    "any more", undo)
        first = verification.remaining[0]
        more = len(verification.remaining) - 1
        return Content.assemble(("✖ Still open: ", "bold $sev-critical"),
                                f"{first.check_id} {first.target}: {first.summary}",
                                f" (and {more} more)" if more else "", undo)

    def on_change_stopped(self, message: messages.ChangeStopped) -> None:
        self.phase = "stopped"
        again = " · press p to plan again from the directory as it is now" if message.stale else ""
        self.set_status(Content.assemble(("✖ ", "bold $sev-critical"), message.error, again))
        self.refresh_bindings()

    def finished_change(self) -> None:
        self.app.end_change()
        self.refresh_bindings()

    # ------------------------------------------------------------ other keys

    def action_back(self) -> None:
        if self.phase not in ("applying", "verifying"):
            self.dismiss(None)

    def action_replan(self) -> None:
        if self.chosen is not None and self.phase not in ("planning", "applying", "verifying"):
            self.make_plan(self.chosen)

    def action_edit_params(self) -> None:
        """The chosen fix's declared parameters as a form; planning again with what is typed."""
        chosen = self.chosen
        if chosen is None or self.phase in ("planning", "applying", "verifying") or not chosen.fix.params:
            return
        self.app.push_screen(ParamsScreen(chosen.fix, chosen.params, self.facts),
                             lambda values: self.replan_with(chosen, values))

    def replan_with(self, chosen: Suggestion, values: dict | None) -> None:
        if values is None or chosen is not self.chosen:
            return
        suggestion = replace(chosen, params={k: v for k, v in values.items() if v not in (None, False)})
        self.suggestions = [suggestion if s is chosen else s for s in self.suggestions]
        self.make_plan(suggestion, focus=True)

    def action_save(self) -> None:
        plan = self.plan
        if plan is None or plan.noop:
            return
        config = display_path(self.session.config_path) if self.session.config_path else PLACEHOLDER_CONFIG
        default = Path(f"exops-plan-{plan.fix}.json")
        self.app.push_screen(
            SavePlanScreen(default, f"exops --config {shlex.quote(config)} apply {default}"),
            lambda path: self.save_worker(plan, path) if path is not None else None)

    @work(thread=True, group="fix-save", exit_on_error=False)
    def save_worker(self, plan: Plan, path: Path) -> None:
        plan.save(path)
        self.post_message(messages.PlanSaved(str(path)))

    def failed_fix_save(self, error: str, exc: BaseException) -> None:
        if isinstance(exc, OSError):
            error = f"could not write {exc.filename or 'the plan'}: {exc.strerror or exc}"
        self.on_plan_saved(messages.PlanSaved("", error))

    def on_plan_saved(self, message: messages.PlanSaved) -> None:
        if message.error:
            self.notify(message.error, title="Plan not saved", severity="error", timeout=10,
                        markup=False)
            return
        config = display_path(self.session.config_path) if self.session.config_path else PLACEHOLDER_CONFIG
        self.notify(f"{message.path}\napply it with: exops --config {config} apply "
                    f"{shlex.quote(message.path)}", title="Plan saved", timeout=10, markup=False)

    def action_copy_command(self) -> None:
        if self.chosen is None:
            return
        command = cli_command(self.chosen, self.session.config_path, self.session.bundle)
        self.app.copy_to_clipboard(command)
        self.notify(command, title="Copied to the clipboard", timeout=4, markup=False)

    def action_maximize_plan(self) -> None:
        self.query_one(PlanView).toggle_maximized()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        busy = self.phase in ("applying", "verifying")
        if action == "apply":
            if not self.session.live:
                return False  # a bundle is evidence: apply is not offered at all
            return True if self.phase == "planned" and self.plan and not self.plan.noop else None
        if action == "save":
            return True if self.phase == "planned" and self.plan and not self.plan.noop else None
        if action in ("replan", "edit_params"):
            return True if self.chosen is not None and self.phase not in ("planning",) and not busy else None
        if action == "back":
            return None if busy else True
        if action == "why_not_apply":  # the second binding of `a`: only when Apply is not
            return self.check_action("apply", ()) is not True
        if action == "copy_command":
            return True if self.chosen is not None else None
        return True
