"""`exops fix`, `apply`, `history`, `undo`: changes, always planned, shown, journaled, undoable.

`exops fix NAME` is made from each fix's declaration (its parameters, help and title), so a fix
from a plug-in gets its command without code here; fixes are imported only when `fix` is used.
"""
from __future__ import annotations

import json
import sys

import click

from exops.cli_edge import friendly
from exops.console import console, error_console
from exops.terminal import markup

CHANGE_ID = click.IntRange(1, 2**63 - 1)      # the journal's SQLite INTEGER key
HISTORY_LIMIT = click.IntRange(1, 1_000_000)


def show_event(event) -> None:
    colour = {"verified": "green", "found": "cyan", "failed": "red", "undone": "yellow",
              "unchanged": "dim", "waiting": "dim"}.get(event.state, "white")
    console.print(f"  [{colour}]{markup(event.state):>9}[/] step {event.seq}: "
                  f"{markup(event.step.title, one_line=True)}"
                  + (f"  [dim]({markup(event.message, one_line=True)})[/]" if event.message else ""))


def confirm_change(yes: bool, question: str) -> None:
    """Never change anything without a plan the user has seen or --yes."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise click.UsageError("refusing to change anything without confirmation: "
                               "review the plan above and re-run with --yes")
    if not click.confirm(question, default=False):
        raise click.Abort()


def _report_verification(bench, plan) -> None:
    verification = bench.verify(plan)
    for f in verification.remaining:
        console.print(f"[red]still open:[/] {markup(f'{f.check_id} {f.target}: {f.summary}', one_line=True)}")
    if verification.resolved:
        answered = "; ".join(plan.resolves) or plan.params.get("dn") or "this change"
        console.print(f"[green]verified:[/] collected again; the checks {plan.fix} resolves report "
                      f"nothing for {markup(answered, one_line=True)} any more")


def _apply_and_verify(bench, plan, yes: bool) -> None:
    confirm_change(yes, f"Apply these {len(plan.steps)} step(s) to {bench.where}?")
    result = bench.apply(plan, progress=show_event)
    console.print(f"change {result.change_id}: {result.status} (undo with: exops undo {result.change_id})")
    if result.found:
        console.print("[cyan]found already in place (another run made it):[/] "
                      + markup("; ".join(result.found), one_line=True))
    _report_verification(bench, plan)


def run_fix(ctx: click.Context, name: str, params: dict, *, bundle: str | None, dry_run: bool,
            yes: bool, plan_out: str | None) -> None:
    from exops.collect import gather_facts, load_live_config
    from exops.registry import RegistryError
    from exops.workbench import Workbench, fix_spec, plan_fix
    try:
        fix_spec(name).validate(params)       # a bad value is a usage error, before anything is read
    except RegistryError as exc:
        raise click.UsageError(str(exc)) from None
    if bundle:
        from exops.affected import EvidenceRecipients, bundle_entries
        facts, _ = gather_facts(bundle=bundle)
        entries = bundle_entries(bundle)
        readers = [EvidenceRecipients(entries, f"bundle {bundle}")] if entries else []
        plan = plan_fix(name, params, facts, readers)
        click.echo(plan.describe())
        if plan_out:
            plan.save(plan_out)
        error_console.print("planned from a bundle: nothing was changed (bundles are evidence; "
                            "apply a plan against the live environment with --config)")
        return
    with Workbench.from_config(load_live_config(ctx.find_root().obj.get("config_path"))) as bench:
        with error_console.status("collecting...") as status:
            facts = bench.facts(progress=lambda line: status.update(markup(line)))
        plan = bench.plan(name, params, facts)
        click.echo(plan.describe())
        if plan_out:
            plan.save(plan_out)
            error_console.print(f"plan saved to {plan_out}; apply it with: exops apply {plan_out}")
        elif not (dry_run or plan.noop):
            _apply_and_verify(bench, plan, yes)


CHANGE_OPTIONS = (
    click.Option(["--bundle"], type=click.Path(exists=True), help="Plan from an evidence bundle (never applies)."),
    click.Option(["--dry-run"], is_flag=True, help="Show the plan and stop."),
    click.Option(["--yes"], is_flag=True, help="Apply without asking (for scripts)."),
    click.Option(["--plan-out"], type=click.Path(dir_okay=False),
                 help="Save the plan to a file for 'exops apply' and stop."),
)


def _fix_command(spec) -> click.Command:
    """A click command made from a fix's declaration."""
    options = [click.Option([p.option], is_flag=p.type is bool, type=None if p.type is bool else p.type,
                            required=p.required, help=p.help) for p in spec.params]

    @click.pass_context
    @friendly(exit_code=1)
    def run(ctx, bundle, dry_run, yes, plan_out, **params) -> None:
        run_fix(ctx, spec.name, params, bundle=bundle, dry_run=dry_run, yes=yes, plan_out=plan_out)

    return click.Command(spec.name, callback=run, params=[*options, *CHANGE_OPTIONS], help=spec.help,
                         short_help=spec.title)


class FixGroup(click.Group):
    """Lists and builds `exops fix NAME` from the registered fixes, imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from exops.registry import load_fixes
        return sorted(load_fixes())

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        from exops.registry import load_fixes
        spec = load_fixes().get(name)
        return _fix_command(spec) if spec else None


@click.group(cls=FixGroup)
def fix() -> None:
    """Plan and apply a repair (see docs/fixes.md).

    Every fix shows its plan first, journals the before-state, verifies each step, undoes the
    applied steps when one fails, and can be undone later with 'exops undo CHANGE'.
    """


@click.command()
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Apply without asking.")
@click.pass_context
@friendly(exit_code=1)
def apply(ctx, plan_file: str, yes: bool) -> None:
    """Apply a plan saved with --plan-out.

    The plan is made again from the live environment and must match the file step for step:
    what you confirm is what the fix produces, never the file's own words. A plan whose targets
    changed since it was made is refused as stale; an edited one is refused. Nothing is
    journaled or changed when a plan is refused.
    """
    from exops.collect import load_live_config
    from exops.plan import Plan
    from exops.workbench import Workbench
    saved = Plan.load(plan_file)
    with Workbench.from_config(load_live_config(ctx.find_root().obj.get("config_path"))) as bench:
        with error_console.status("making the plan again from the live environment..."):
            plan = bench.replan(saved)
        click.echo(plan.describe())
        if plan.noop:
            if not saved.noop:
                console.print("[cyan]found:[/] everything this plan changes is already in place "
                              "(another run made it); nothing was changed")
            return
        _apply_and_verify(bench, plan, yes)


@click.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--limit", type=HISTORY_LIMIT, default=50, show_default=True)
@click.pass_context
@friendly(exit_code=1)
def history(ctx, fmt: str, limit: int) -> None:
    """List journaled changes, newest first, with their status and steps."""
    from exops.config import find_config, load_config
    from exops.journal import Journal
    path = find_config(ctx.find_root().obj.get("config_path"))
    journal = Journal(load_config(path).journal if path else None)
    changes = journal.changes(limit)
    if fmt == "json":
        click.echo(json.dumps([{"id": c.id, "fix": c.fix, "status": c.status, "operator": c.operator,
                                "started": c.started, "finished": c.finished, "message": c.message,
                                "params": c.plan.params, "resolves": list(c.plan.resolves),
                                "steps": [{"seq": s.seq, "title": s.step.title, "target": s.step.target,
                                           "executor": s.step.executor, "status": s.status,
                                           "before": s.before, "after": s.after}
                                          for s in c.steps]} for c in changes], indent=2))
        return
    if not changes:
        console.print(f"no changes in {markup(str(journal.path))}", highlight=False)
    for c in changes:
        console.print(f"[bold]{c.id}[/] {markup(c.started)} {markup(c.fix)} "
                      f"[{_status_colour(c.status)}]{markup(c.status)}[/] by {markup(c.operator)}  "
                      f"{markup(json.dumps(c.plan.params))}"
                      + (f"  {markup(c.message, one_line=True)}" if c.status == "unreadable" else ""))
        for s in c.steps:
            console.print(f"    {s.seq}. {markup(s.status):<9} {markup(s.step.title, one_line=True)}"
                          + (f" [{markup(s.step.executor)}]" if s.step.endpoint else ""))


def _status_colour(status: str) -> str:
    return {"applied": "green", "undone": "yellow", "applying": "red", "failed": "red",
            "unreadable": "red"}.get(status, "white")


@click.command()
@click.argument("change_id", type=CHANGE_ID)
@click.option("--yes", is_flag=True, help="Undo without asking.")
@click.pass_context
@friendly(exit_code=1)
def undo(ctx, change_id: int, yes: bool) -> None:
    """Restore the before-state of a journaled change.

    Works also for a change a crash interrupted; refused when someone changed the same objects
    since. Actions that have no before-state (a drain) are undone by their compensating action
    (enable); those that have none at all (a restart) are left as they are and said so.
    """
    from exops.collect import load_live_config
    from exops.reversal import undo_note
    from exops.workbench import Workbench
    with Workbench.from_config(load_live_config(ctx.find_root().obj.get("config_path"))) as bench:
        change = bench.journal.change(change_id)
        if change is not None:
            console.print(f"change {change.id}: {markup(change.fix)} {markup(json.dumps(change.plan.params))} "
                          f"({change.status})", highlight=False)
            for s in change.steps:
                note = undo_note(s.step)
                what = note[1] if note else f"back to {json.dumps(s.before)}"
                console.print(f"  {s.seq}. {markup(s.step.title)}: {markup(what)}", highlight=False)
        confirm_change(yes, f"Undo change {change_id}?")
        undone = bench.undo(change_id, progress=show_event)
    console.print(f"change {undone.id}: {undone.status}")


CHANGE_COMMANDS = (fix, apply, history, undo)
