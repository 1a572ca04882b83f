"""The exops command line: scripted runs of the same pipeline the TUI drives.

    exops                     open a triage session (the TUI) on the configured environment
    exops demo                the same on the bundled litware scenario, no servers needed
    exops check --bundle B    run the checks; exit 0 OK, 1 warning, 2 critical, 3 unknown
    exops events LOG...       what the event logs say about free/busy, and what could not be read
"""
from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape

from exops import __version__
from exops.cli_changes import CHANGE_COMMANDS
from exops.console import check_progress, console, error_console, scan_progress
from exops.cli_edge import friendly

FORMATS = ("table", "json", "md", "html", "csv", "junit")
DEMO_BUNDLE = Path(__file__).resolve().parents[1] / "fixtures" / "scenarios" / "litware" / "bundle"


@click.group(invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="Inventory file (default: $EXOPS_CONFIG, else ./exops.yaml).")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(__version__, prog_name="exops")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, debug: bool) -> None:
    """Find what is broken in Exchange, prove it with evidence, fix it safely, keep a record.

    \b
    Start here:
      exops demo                          triage the bundled litware scenario (no servers)
      exops check --bundle BUNDLE         diagnose a customer's evidence bundle
      exops check --evtx App.evtx --ldif export.ldf
                                          ...or their exported logs and an ldifde export
      exops events App.evtx               free/busy events in a log, and what was unreadable
      exops checks                        every check ID with its title
      exops config check                  validate exops.yaml

    Without a command, exops opens the interactive triage session.
    """
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    if ctx.invoked_subcommand is None:
        ctx.invoke(tui)


@cli.command()
@click.option("--bundle", type=click.Path(exists=True), help="Open an evidence bundle instead of the live environment.")
@click.pass_context
def tui(ctx: click.Context, bundle: str | None) -> None:
    """Open the interactive triage session."""
    from exops.tui.app import run_tui
    run_tui(bundle=bundle, config_path=ctx.obj.get("config_path"))


@cli.command()
@click.option("--lab", is_flag=True, help="Bring the litware lab up (Samba AD, Exchange over WinRM) and work on it live.")
@friendly(exit_code=1)
def demo(lab: bool) -> None:
    """Triage the bundled litware scenario (no servers needed).

    Its users still carry /o=EUROPE/ou=First Administrative Group in their legacyExchangeDN,
    an administrative group that is gone, and the FreeBusy Assistant logs event 14031.
    With --lab, the same scenario runs for real and fixes change it.
    """
    from exops.tui.app import run_tui
    if not lab:
        run_tui(bundle=str(DEMO_BUNDLE), config_path=None)
        return
    import os

    from exops.lab.control import PASSWORD_ENV, lab_up
    from exops.lab.samba import LAB_ADMIN_PASSWORD
    with error_console.status("starting the litware lab (the first time builds its directory)..."):
        _, config = lab_up("litware", Path.cwd())
    os.environ.setdefault(PASSWORD_ENV, LAB_ADMIN_PASSWORD)
    run_tui(bundle=None, config_path=str(config))


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--backend", type=click.Choice(["auto", "python", "rust"]), default="auto", show_default=True,
              help="EVTX reader: the Rust `evtx` package when installed (exops[fast]), else pure Python.")
@friendly(exit_code=3)
def events(paths: tuple[str, ...], fmt: str, backend: str) -> None:
    """Free/busy events in event logs, and what could not be read.

    Reads .evtx files (damaged ones too) or `wevtutil qe Application /f:xml` exports and lists,
    per file, the records read, the records skipped with the reason, and the free/busy events
    found (14031, 8207, 3047) grouped by DN and server with counts and first/last seen.
    """
    from exops.console import print_scans, scans_json
    from exops.sources.eventlog import scan_log
    with scan_progress(quiet=fmt == "json") as progress:
        scans = [scan_log(p, backend=backend, progress=progress.hook(p)) for p in paths]
    if fmt == "json":
        click.echo(scans_json(scans))
    else:
        print_scans(scans)


@cli.command("check")
@click.option("--bundle", type=click.Path(exists=True), help="An evidence bundle (folder or .zip).")
@click.option("--evtx", "evtx", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="An event log (.evtx or wevtutil XML); repeat for more.")
@click.option("--ldif", type=click.Path(exists=True, dir_okay=False), help="An ldifde export of the directory.")
@click.option("--only", multiple=True, metavar="ID", help="Run only this check ID; repeat for more.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here instead of stdout.")
@click.pass_context
@friendly(exit_code=3)
def check_command(ctx, bundle, evtx, ldif, only, fmt, output) -> None:
    """Run the checks and report (exit 0 OK, 1 warning, 2 critical, 3 unknown).

    Evidence comes from a bundle, from loose files, or, with neither, from the live directory
    of the configuration. Exit codes follow Nagios: 3 means nothing could be checked or the
    input could not be read.

    \b
    Examples:
      exops check --bundle fixtures/scenarios/litware/bundle
      exops check --evtx Application.evtx --ldif directory.ldf --format html -o report.html
      exops check --bundle evidence.zip --only FB-ORPHAN-DN --format json
    """
    from exops.collect import gather_facts
    from exops.diagnose import run_checks, select_checks
    from exops.reports import render, print_table
    specs = select_checks(only)
    facts, source = gather_facts(bundle=bundle, evtx=evtx, ldif=ldif,
                                 config_path=ctx.obj.get("config_path"))
    for reason in facts.unavailable.values():   # also an UNKNOWN finding in the report
        error_console.print(f"[bold red]cannot read:[/] {escape(reason)}", highlight=False, soft_wrap=True)
    with check_progress(quiet=fmt != "table" and not output) as hook:
        report = run_checks(facts, source, specs, progress=hook)
    if output:
        Path(output).write_text(render(report, fmt))
        error_console.print(f"wrote {fmt} report to {output}")
    elif fmt == "table":
        print_table(report, console)
    else:
        click.echo(render(report, fmt))
    sys.exit(report.worst.exit_code)


@cli.command()
@click.option("-o", "--output", required=True, type=click.Path(),
              help="Bundle to write: a folder, or a .zip to send to someone.")
@click.option("--evtx", "evtx", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Also pack this exported event log; repeat for more.")
@click.pass_context
@friendly(exit_code=1)
def collect(ctx, output: str, evtx: tuple[str, ...]) -> None:
    """Collect the live environment into an evidence bundle.

    `exops check --bundle` and `exops tui --bundle` read it anywhere, no servers needed. It
    holds no passwords.
    """
    from exops.collect import gather_facts
    from exops.facts.directory import DirectoryFacts
    from exops.sources.bundle import write_bundle
    with error_console.status("collecting...") as status:
        facts, source = gather_facts(config_path=ctx.obj.get("config_path"),
                                     progress=lambda line: status.update(escape(line)))
    for fact_type, reason in facts.unavailable.items():
        error_console.print(f"[yellow]not collected:[/] {escape(reason)}", highlight=False)
    path = write_bundle(output, facts=facts, files={"events": list(evtx)}, source=source)
    d = facts.get(DirectoryFacts)
    held = (f"{len(d.admin_groups)} administrative groups, {len(d.servers)} servers, "
            f"{d.recipients_scanned} recipients, " if d else "")
    click.echo(f"wrote {path}: {held}{len(evtx)} logs")


@cli.command("checks")
def list_checks() -> None:
    """List every check with its ID, area and title (plugins included)."""
    from exops.diagnose import select_checks
    for spec in select_checks():
        origin = "" if spec.origin.startswith("exops.") else f"  [{spec.origin}]"
        click.echo(f"{spec.id:<18} {spec.area:<12} {spec.title}{origin}")


@cli.group("config")
def config_group() -> None:
    """Work with the inventory file (exops.yaml)."""


@config_group.command("check")
@click.pass_context
@friendly(exit_code=1)
def config_check(ctx) -> None:
    """Validate the inventory: every error names the file, line and field."""
    from exops.config import ConfigError, find_config, load_config
    path = find_config(ctx.find_root().obj.get("config_path"))
    if path is None:
        raise ConfigError("no configuration: pass --config FILE, set $EXOPS_CONFIG, or create ./exops.yaml")
    config = load_config(path)
    parts = [f"directory {config.directory.url}" if config.directory else None,
             f"{len(config.exchange.servers)} Exchange servers" if config.exchange else None,
             f"{len(config.loadbalancers)} load balancers" if config.loadbalancers else None]
    click.echo(f"{path}: OK ({', '.join(p for p in parts if p) or 'empty'})")


@cli.group("lab")
def lab_group() -> None:
    """The lab: scenarios built for real (Samba AD, logs) to try exops on."""


@lab_group.command("up")
@click.option("--scenario", default="litware", show_default=True, help="Scenario name or path.")
@friendly(exit_code=1)
def lab_up_command(scenario: str) -> None:
    """Start the scenario's lab (a real Samba AD DC seeded from it) and write exops.lab.yaml."""
    from exops.lab.control import PASSWORD_ENV, lab_up
    from exops.lab.samba import LAB_ADMIN_PASSWORD
    with error_console.status(f"starting the {scenario} lab (the first time builds its directory)..."):
        status, config = lab_up(scenario, Path.cwd())
    click.echo(f"lab {status.scenario} up on ldaps://{status.address}; wrote {config}\n"
               f"try:  export {PASSWORD_ENV}='{LAB_ADMIN_PASSWORD}'\n"
               f"      exops --config {config.name} check")


@lab_group.command("status")
@click.option("--scenario", default="litware", show_default=True)
def lab_status_command(scenario: str) -> None:
    """Say whether the scenario's lab is running and answering."""
    from exops.lab.control import lab_status
    s = lab_status(scenario)
    state = "up, answering" if s.answering else "running, not answering" if s.running else "down"
    click.echo(f"lab {s.scenario}: {state}" + (f" on ldaps://{s.address}" if s.running else ""))
    for url in s.exchange:
        click.echo(f"  Exchange server (WinRM) {url}")
    sys.exit(0 if s.answering else 3)


@lab_group.command("tick")
@click.option("--scenario", default="litware", show_default=True)
@friendly(exit_code=1)
def lab_tick_command(scenario: str) -> None:
    """Run one cycle of the lab's Information Store: create due free/busy folders (3047), log 14031."""
    from exops.lab.control import lab_tick
    for line in lab_tick(scenario) or ["nothing happened"]:
        click.echo(line)


@lab_group.command("down")
@click.option("--scenario", default="litware", show_default=True)
def lab_down_command(scenario: str) -> None:
    """Stop the scenario's lab."""
    from exops.lab.control import lab_down
    click.echo(f"lab {scenario}: " + ("stopped" if lab_down(scenario) else "was not running"))


@lab_group.command("bundle")
@click.option("--scenario", default="litware", show_default=True, help="Scenario name or path.")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Folder to write the bundle into (replaced).")
@friendly(exit_code=1)
def lab_bundle(scenario: str, output: str) -> None:
    """Write a scenario's offline evidence: an ldifde export, .evtx logs and a bundle."""
    from exops.lab.fixtures import build_bundle
    path = build_bundle(scenario, Path(output))
    click.echo(f"wrote bundle {path}")


for _command in CHANGE_COMMANDS:
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="exops")
