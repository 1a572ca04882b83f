"""`exops fix`, `apply`, `history`, `undo`: changes, always planned, shown, journaled, undoable."""
from __future__ import annotations

import json
import sys

import click

from exops.cli import cli, friendly
from exops.console import console, error_console
from exops.terminal import markup

CHANGE_ID = click.IntRange(1, 2**63 - 1)      # the journal's SQLite INTEGER key
HISTORY_LIMIT = click.IntRange(1, 1_000_000)


class LdapFilterText(click.ParamType):
    """An admin's LDAP filter, bounded before anything parses it: ldap3's parser and encoder
    recurse once per parenthesis, so a filter nested thousands deep would crash them."""

    name = "filter"
    MAX_LENGTH, MAX_DEPTH = 4096, 32

    def convert(self, value, param, ctx):
        if len(value) > self.MAX_LENGTH:
            self.fail(f"longer than {self.MAX_LENGTH} characters", param, ctx)
        depth = deepest = 0
        for char in value:
            depth += (char == "(") - (char == ")")
            deepest = max(deepest, depth)
        if deepest > self.MAX_DEPTH:
            self.fail(f"nested {deepest} parentheses deep; at most {self.MAX_DEPTH}", param, ctx)
        return value


def _show_event(event) -> None:
    colour = {"verified": "green", "found": "cyan", "failed": "red", "undone": "yellow",
              "unchanged": "dim"}.get(event.state, "white")
    console.print(f"  [{colour}]{markup(event.state):>9}[/] step {event.seq}: "
                  f"{markup(event.step.title, one_line=True)}"
                  + (f"  [dim]({markup(event.message, one_line=True)})[/]" if event.message else ""))


def _confirm(yes: bool, question: str) -> None:
    """Never change a directory without a plan the user has seen or --yes."""
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
        console.print(f"[green]verified:[/] the checks {plan.fix} resolves report nothing for "
                      f"{markup(plan.params.get('dn') or 'this change', one_line=True)} any more")


def _apply_and_verify(bench, plan, yes: bool) -> None:
    _confirm(yes, f"Apply these {len(plan.steps)} step(s) to {bench.config.directory.url}?")
    result = bench.apply(plan, progress=_show_event)
    console.print(f"change {result.change_id}: {result.status} (undo with: exops undo {result.change_id})")
    if result.found:
        console.print("[cyan]found already in place (another run made it):[/] "
                      + markup("; ".join(result.found), one_line=True))
    _report_verification(bench, plan)


def run_fix(ctx: click.Context, name: str, params: dict, *, bundle: str | None, dry_run: bool,
            yes: bool, plan_out: str | None) -> None:
    from exops.changes import Workbench
    from exops.collect import load_live_config
    from exops.registry import load_fixes
    from exops.sources.bundle import open_bundle
    if bundle:
        plan = load_fixes()[name].func(open_bundle(bundle), None, **params)
        click.echo(plan.describe())
        if plan_out:
            plan.save(plan_out)
        error_console.print("planned from a bundle: nothing was changed (bundles are evidence; "
                            "apply a plan against the live directory with --config)")
        return
    with Workbench(load_live_config(ctx.find_root().obj.get("config_path"))) as bench:
        with error_console.status("reading the directory..."):
            facts = bench.facts()
        plan = bench.plan(name, params, facts)
        click.echo(plan.describe())
        if plan_out:
            plan.save(plan_out)
            error_console.print(f"plan saved to {plan_out}; apply it with: exops apply {plan_out}")
        elif not (dry_run or plan.noop):
            _apply_and_verify(bench, plan, yes)


def change_options(command):
    for option in reversed((
        click.option("--bundle", type=click.Path(exists=True), help="Plan from an evidence bundle (never applies)."),
        click.option("--dry-run", is_flag=True, help="Show the plan and stop."),
        click.option("--yes", is_flag=True, help="Apply without asking (for scripts)."),
        click.option("--plan-out", type=click.Path(dir_okay=False),
                     help="Save the plan to a file for 'exops apply' and stop."),
    )):
        command = option(command)
    return command


@cli.group()
def fix() -> None:
    """Plan and apply a repair (see docs/fixes.md).

    Every fix shows its plan first, journals the before-state, verifies each step, undoes the
    applied steps when one fails, and can be undone later with 'exops undo CHANGE'.
    """


@fix.command("freebusy")
@click.option("--dn", required=True, help="The orphaned /o=<Org>/ou=<AG>, e.g. \"/o=EUROPE/ou=First Administrative Group\".")
@click.option("--pf-db", help="DN (or name) of the public folder database for siteFolderServer; default: the best existing one, explained.")
@click.option("--ag-name", help="Name of the administrative group object to create (default: the AG in --dn).")
@click.option("--replace-site-folder", is_flag=True, help="Change the siteFolderServer of an existing AG that points elsewhere.")
@change_options
@click.pass_context
@friendly(exit_code=1)
def fix_freebusy(ctx, dn, pf_db, ag_name, replace_site_folder, bundle, dry_run, yes, plan_out) -> None:
    """Recreate a missing administrative group so Outlook 2003 free/busy works again.

    Creates the AG with legacyExchangeDN = DN and siteFolderServer = a public folder database;
    the store then recreates SCHEDULE+ FREE BUSY\\EX:DN (event 3047) within its maintenance
    cycle or after an Information Store restart. Running it again is a no-op.

    \b
    Example:
      exops fix freebusy --dn "/o=EUROPE/ou=First Administrative Group" --dry-run
    """
    run_fix(ctx, "freebusy", {"dn": dn, "pf_db": pf_db, "ag_name": ag_name,
                              "replace_site_folder": replace_site_folder},
            bundle=bundle, dry_run=dry_run, yes=yes, plan_out=plan_out)


@fix.command("freebusy-rewrite")
@click.option("--dn", required=True, help="The orphaned /o=<Org>/ou=<AG> the users carry.")
@click.option("--to-ag", required=True, help="Name or legacyExchangeDN of the existing AG to move them under.")
@click.option("--users", type=LdapFilterText(), help="Narrow to recipients matching this LDAP filter, e.g. '(department=Sales)'.")
@change_options
@click.pass_context
@friendly(exit_code=1)
def fix_rewrite(ctx, dn, to_ag, users, bundle, dry_run, yes, plan_out) -> None:
    """Move recipients' legacyExchangeDN under an existing AG.

    Keeps the old value as an X500 proxy address (and every existing proxy address) so replies
    to old mail still resolve.
    """
    run_fix(ctx, "freebusy-rewrite", {"dn": dn, "to_ag": to_ag, "users": users},
            bundle=bundle, dry_run=dry_run, yes=yes, plan_out=plan_out)


@cli.command()
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Apply without asking.")
@click.pass_context
@friendly(exit_code=1)
def apply(ctx, plan_file: str, yes: bool) -> None:
    """Apply a plan saved with --plan-out.

    A plan whose targets changed since it was made is refused as stale: make a new one.
    """
    from exops.changes import Workbench
    from exops.collect import load_live_config
    from exops.plan import Plan
    plan = Plan.load(plan_file)
    click.echo(plan.describe())
    if plan.noop:
        return
    with Workbench(load_live_config(ctx.find_root().obj.get("config_path"))) as bench:
        _apply_and_verify(bench, plan, yes)


@cli.command()
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
                                "params": c.plan.params,
                                "steps": [{"seq": s.seq, "title": s.step.title, "target": s.step.target,
                                           "status": s.status, "before": s.before, "after": s.after}
                                          for s in c.steps]} for c in changes], indent=2))
        return
    if not changes:
        console.print(f"no changes in {journal.path}")
    for c in changes:
        console.print(f"[bold]{c.id}[/] {markup(c.started)} {markup(c.fix)} "
                      f"[{_status_colour(c.status)}]{markup(c.status)}[/] by {markup(c.operator)}  "
                      f"{markup(json.dumps(c.plan.params))}")
        for s in c.steps:
            console.print(f"    {s.seq}. {markup(s.status):<9} {markup(s.step.title, one_line=True)}")


def _status_colour(status: str) -> str:
    return {"applied": "green", "undone": "yellow", "applying": "red", "failed": "red"}.get(status, "white")


@cli.command()
@click.argument("change_id", type=CHANGE_ID)
@click.option("--yes", is_flag=True, help="Undo without asking.")
@click.pass_context
@friendly(exit_code=1)
def undo(ctx, change_id: int, yes: bool) -> None:
    """Restore the before-state of a journaled change.

    Works also for a change a crash interrupted; refused when someone changed the same objects
    since.
    """
    from exops.changes import Workbench
    from exops.collect import load_live_config
    with Workbench(load_live_config(ctx.find_root().obj.get("config_path"))) as bench:
        change = bench.journal.change(change_id)
        if change is not None:
            console.print(f"change {change.id}: {change.fix} {json.dumps(change.plan.params)} ({change.status})")
            for s in change.steps:
                console.print(f"  {s.seq}. {s.step.title}: back to {json.dumps(s.before)}")
        _confirm(yes, f"Undo change {change_id}?")
        undone = bench.undo(change_id, progress=_show_event)
    console.print(f"change {undone.id}: {undone.status}")
