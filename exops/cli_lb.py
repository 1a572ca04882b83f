"""`exops lb status|drain|enable` and `exops maintenance SERVER -- ACTION`.

Status reads the configured balancers only. Drain, enable and maintenance are the fixes
`lb-drain`, `lb-enable` and `maintenance` run through the Workbench: a plan shown first, the
journal, verification and `exops undo`; this module only adds the words balancer people use
and, after a drain, the clients persistence kept sending.
"""
from __future__ import annotations

import json
import sys
import time

import click
from exops.terminal import markup
from rich.table import Table

from exops.cli_changes import confirm_change, show_event
from exops.cli_edge import friendly
from exops.console import console, error_console

STATUS_COLOURS = {"UP": "green", "DOWN": "red", "DRAIN": "yellow", "MAINT": "magenta"}


def _config(ctx: click.Context):
    from exops.collect import load_live_config
    return load_live_config(ctx.find_root().obj.get("config_path"))


def read_balancers(config):
    from exops.sources.loadbalancers import read_balancers as read
    if not config.loadbalancers:
        raise click.UsageError(f"{config.path}: no loadbalancers: section")
    return read(config)


def status_table(balancers) -> Table:
    table = Table(show_lines=False, expand=False)
    for column in ("balancer", "service", "address", "server", "health", "admin", "sessions",
                   "weight", "check", "answers"):
        table.add_column(column, justify="right" if column in ("sessions", "weight") else "left")
    for b in balancers.balancers:
        for vs in b.services:
            for n, s in enumerate(vs.servers):
                colour = STATUS_COLOURS.get(s.status, "white")
                table.add_row(markup(b.name) if n == 0 else "", markup(vs.name) if n == 0 else "",
                              markup(vs.endpoint) if n == 0 else "", markup(s.name),
                              f"[{colour}]{markup(s.status)}[/]", s.admin, str(s.sessions),
                              str(s.weight) if s.weight >= 0 else "?", markup(s.check),
                              {True: "yes", False: "[red]no[/]", None: "?"}[s.answers])
    return table


@click.group("lb")
def lb() -> None:
    """The load balancers in front of Exchange: status, drain, enable (see docs/loadbalancers.md)."""


@lb.command("status")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--watch", type=click.FloatRange(0.5, 3600), metavar="SECONDS",
              help="Refresh every SECONDS until interrupted (table only).")
@click.pass_context
@friendly(exit_code=3)
def status(ctx, fmt: str, watch: float | None) -> None:
    """Every virtual service with its real servers: health, admin state, sessions, weight.

    Exit 3 when a balancer could not be read.
    """
    from exops.facts.serde import to_data
    config = _config(ctx)
    balancers, unavailable = read_balancers(config)
    if fmt == "json":
        click.echo(json.dumps({"balancers": to_data(balancers)["balancers"],
                               "unavailable": sorted(unavailable.values())}, indent=2))
    elif watch:
        from rich.live import Live
        with Live(status_table(balancers), console=console, auto_refresh=False) as live:
            try:
                while True:
                    time.sleep(watch)
                    balancers, unavailable = read_balancers(config)
                    live.update(status_table(balancers), refresh=True)
            except KeyboardInterrupt:
                pass
    else:
        console.print(status_table(balancers))
        for b in balancers.balancers:
            for note in b.notes:
                console.print(f"[yellow]note[/] {markup(b.name)}: {markup(note)}", highlight=False)
    for reason in unavailable.values():
        error_console.print(f"[bold red]cannot read:[/] {markup(reason)}", highlight=False)
    sys.exit(3 if unavailable else 0)


def run_change(ctx, fix_name: str, params: dict, *, dry_run: bool, yes: bool) -> None:
    """Plan, show, confirm, apply through the engine; then say who persistence kept."""
    from exops.workbench import Workbench
    with Workbench.from_config(_config(ctx)) as bench:
        with error_console.status("reading the balancers..."):
            facts = bench.facts()
        plan = bench.plan(fix_name, params, facts)
        click.echo(plan.describe())
        if dry_run or plan.noop:
            return
        confirm_change(yes, f"Apply these {len(plan.steps)} step(s)?")
        result = bench.apply(plan, progress=show_event)
        console.print(f"change {result.change_id}: {result.status} (undo with: exops undo {result.change_id})")
        if result.change_id is not None:
            report_persistence(bench.journal.change(result.change_id))


def report_persistence(change) -> None:
    """The drain's evidence from the journal: sessions that kept arriving and who sent them."""
    for s in change.steps:
        observed = (s.after or {}).get("observed", {})
        if s.step.action != "lb.sessions" or not observed:
            continue
        kept = observed.get("persistent_clients") or []
        left = observed.get("sessions", 0)
        arrived = observed.get("new_sessions_while_waiting", -1)
        if kept or left or arrived > 0:
            console.print(f"[yellow]{markup(s.step.target)}[/]: {left} session(s) left when the wait ended, "
                          f"{max(arrived, 0)} new while draining; persistence sends here: "
                          f"{markup(', '.join(kept) or 'none known')}; clients connected: "
                          f"{markup(', '.join(observed.get('clients') or []) or 'none')}", highlight=False)


CHANGE = (click.option("--dry-run", is_flag=True, help="Show the plan and stop."),
          click.option("--yes", is_flag=True, help="Apply without asking (for scripts)."))


def _change_options(func):
    for option in reversed(CHANGE):
        func = option(func)
    return func


@lb.command("drain")
@click.argument("server")
@click.option("--service", help="Only these virtual services (comma-separated).")
@click.option("--balancer", help="Only this configured balancer.")
@click.option("--timeout", type=click.IntRange(1, 86_400), help="Seconds to wait for sessions (default 120).")
@click.option("--force", is_flag=True, help="Drain even the last healthy server of a service.")
@_change_options
@click.pass_context
@friendly(exit_code=1)
def drain(ctx, server, service, balancer, timeout, force, dry_run, yes) -> None:
    """Drain SERVER, wait until its sessions end (or --timeout), then maintenance.

    Clients that source-IP persistence keeps sending to the draining server are reported.
    Refuses the last healthy server of a service unless --force. Undo: exops undo CHANGE.
    """
    run_change(ctx, "lb-drain", {"server": server, "service": service, "balancer": balancer,
                                 "timeout": timeout, "force": force}, dry_run=dry_run, yes=yes)


@lb.command("enable")
@click.argument("server")
@click.option("--service", help="Only these virtual services (comma-separated).")
@click.option("--balancer", help="Only this configured balancer.")
@click.option("--slow-ramp", type=click.IntRange(1, 3600), metavar="SECONDS",
              help="Start at a tenth of its weight and raise it over SECONDS.")
@click.option("--timeout", type=click.IntRange(1, 86_400), help="Seconds to wait for health UP (default 120).")
@_change_options
@click.pass_context
@friendly(exit_code=1)
def enable(ctx, server, service, balancer, slow_ramp, timeout, dry_run, yes) -> None:
    """Put SERVER back in rotation and wait until the balancer reports it UP."""
    run_change(ctx, "lb-enable", {"server": server, "service": service, "balancer": balancer,
                                  "slow_ramp": slow_ramp, "timeout": timeout}, dry_run=dry_run, yes=yes)


@click.command("maintenance", context_settings={"ignore_unknown_options": False})
@click.argument("server")
@click.argument("action", nargs=-1, required=True)
@click.option("--balancer", help="Only this configured balancer.")
@click.option("--timeout", type=click.IntRange(1, 86_400), help="Seconds the drain waits for sessions (default 120).")
@click.option("--force", is_flag=True, help="Even when SERVER is the last healthy server of a service.")
@_change_options
@click.pass_context
@friendly(exit_code=1)
def maintenance(ctx, server, action, balancer, timeout, force, dry_run, yes) -> None:
    """Drain SERVER, run ACTION, verify, put it back: `exops maintenance L12EX1 -- restart-store`.

    One journaled change: drain → wait for sessions → maintenance → ACTION → verify SERVER
    answers on every port → ready → wait for health UP. If a step fails the drain is undone.
    Actions: restart-store (MSExchangeIS over WinRM, then wait until it runs; needs the
    exchange: section), restart-backend (the lab's emulated CAS endpoints, lab only).
    """
    if len(action) != 1:
        raise click.UsageError("give one action after --, e.g. exops maintenance L12EX1 -- restart-store")
    run_change(ctx, "maintenance", {"server": server, "action": action[0], "balancer": balancer,
                                    "timeout": timeout, "force": force}, dry_run=dry_run, yes=yes)


LB_COMMANDS = (lb, maintenance)
