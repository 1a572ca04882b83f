"""The exops command line: scripted runs of the same pipeline the TUI drives.

    exops                     open a triage session (the TUI) on the configured environment
    exops demo                the same on the bundled litware scenario, no servers needed
    exops check --bundle B    run the checks; exit 0 OK, 1 warning, 2 critical, 3 unknown
    exops events LOG...       what the event logs say about free/busy, and what could not be read

Failures end as one line on stderr, never a traceback (`--debug` shows it): user errors with the
command's code, and usage mistakes, unreadable input and unwritable output with 3 (UNKNOWN), so a
monitoring system never reads a typo as CRITICAL (2, click's own code for usage errors).
"""
from __future__ import annotations

import errno
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import click

from exops import __version__
from exops.cli_changes import CHANGE_COMMANDS
from exops.cli_edge import friendly, show_error
from exops.cli_lb import LB_COMMANDS
from exops.console import (abandon_stdout, check_progress, console, delivered, error_console,
                           scan_progress, write_output)
from exops.terminal import markup, printable

FORMATS = ("table", "json", "md", "html", "csv", "junit")
DEMO_BUNDLE = Path(__file__).resolve().parents[1] / "fixtures" / "scenarios" / "litware" / "bundle"
UNKNOWN = 3
OUTPUT_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO)


class ExopsGroup(click.Group):
    """click's group with exops's exit codes: usage errors are UNKNOWN (3), not click's 2, and so
    are input or output the system refused (a full disk, a missing folder, /proc, a closed pipe)
    and a run stopped with Ctrl-C (a monitoring system must not read it as a warning): one
    line, never a traceback, also not at interpreter exit."""

    def main(self, *args, standalone_mode: bool = True, **extra):
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **extra)
        warnings.showwarning = _show_warning
        try:
            result = super().main(*args, standalone_mode=False, **extra)
            code = result if isinstance(result, int) else 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except click.ClickException as exc:
            exc.show()
            code = UNKNOWN
        except click.Abort as exc:
            if isinstance(exc.__cause__, KeyboardInterrupt):   # Ctrl-C: nothing was decided
                error_console.print("Interrupted: nothing was decided.")
                code = UNKNOWN
            else:
                error_console.print("Aborted!")
                code = 1
        except _SystemRefused as exc:
            show_error(exc)
            code = UNKNOWN
        sys.exit(_flushed(code))

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:   # click's main would turn it into a silent exit 1
            abandon_stdout()
            raise _SystemRefused("the output was closed before exops finished writing it") from None
        except OSError as exc:
            if ctx.params.get("debug"):
                raise
            if exc.filename is not None:
                raise _SystemRefused(f"{exc.filename}: {exc.strerror or exc}") from None
            if exc.errno in OUTPUT_FULL:
                abandon_stdout()
                raise _SystemRefused(f"cannot write the output: {exc.strerror}") from None
            raise _SystemRefused(exc.strerror or str(exc)) from None


class _SystemRefused(Exception):
    """The system refused to read or write something (str() is the one line to show)."""


def _flushed(code: int) -> int:
    """Flush stdout now, where a failure can still be reported, not in the interpreter's exit."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        abandon_stdout()
    except OSError as exc:
        abandon_stdout()
        show_error(f"cannot write the output: {exc.strerror or exc}")
        return UNKNOWN
    return code


_python_shows_warning = warnings.showwarning


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """exops's own warnings (plain LDAP allowed by `insecure: true`) as one line on stderr."""
    if category.__module__.startswith("exops."):
        error_console.print(f"[bold yellow]warning:[/] {markup(message, one_line=True)}",
                            highlight=False, soft_wrap=True)
    else:
        _python_shows_warning(message, category, filename, lineno, file, line)


@click.group(cls=ExopsGroup, invoke_without_command=True,
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
        from exops.config import find_config
        if find_config(config_path) is None:
            error_console.print(
                "exops: no configuration (no --config, no $EXOPS_CONFIG, no ./exops.yaml).\n"
                "  exops demo          triage the bundled litware scenario, no servers needed\n"
                "  exops config init   write a commented exops.yaml to fill in\n"
                "  exops check --bundle B | --ldif F --evtx L   diagnose evidence without one",
                highlight=False, markup=False)
            sys.exit(3)
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
@click.option("--backend", type=click.Choice(["auto", "python", "rust", "python-evtx"]), default="auto",
              show_default=True,
              help="EVTX reader: auto and python are exops's own; rust has the Rust `evtx` package "
                   "(pip install evtx) cross-check the free/busy records it finds. "
                   "python-evtx re-reads with the reference parser to cross-check a result: slow, and it "
                   "stops at damage (only the chunks the header counts, up to the first broken one).")
@friendly(exit_code=3)
def events(paths: tuple[str, ...], fmt: str, backend: str) -> None:
    """Free/busy events in event logs, and what could not be read.

    Reads .evtx files (damaged ones too) or `wevtutil qe Application /f:xml` exports and lists,
    per file, the records read, the records skipped with the reason, and the free/busy events
    found (14031, 8207, 3047) grouped by DN and server with counts and first/last seen. A file
    that cannot be read is one error line; the others are still read, and the exit code is 3.
    """
    from exops.console import print_scans, scans_json
    from exops.errors import ExopsError
    from exops.facts.events import EventFacts, merge_events
    from exops.sources.eventlog import scan_log
    scans, unreadable = [], {}
    with scan_progress(quiet=fmt == "json") as progress:
        for path in paths:
            try:
                scans.append(scan_log(path, backend=backend, progress=progress.hook(path)))
            except ExopsError as exc:
                show_error(exc)
                unreadable[path] = str(exc)
    scans = list(merge_events([EventFacts(scans=(scan,)) for scan in scans]).scans)
    if fmt == "json":
        click.echo(scans_json(scans, unreadable))
    else:
        print_scans(scans)
    if unreadable:
        sys.exit(UNKNOWN)


@cli.command("check")
@click.option("--bundle", type=click.Path(exists=True), help="An evidence bundle (folder or .zip).")
@click.option("--evtx", "evtx", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="An event log (.evtx or wevtutil XML); repeat for more.")
@click.option("--ldif", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="An ldifde export of the directory; repeat for the configuration and domain partitions.")
@click.option("--only", multiple=True, metavar="ID", help="Run only this check ID; repeat for more.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here instead of stdout.")
@click.option("--affected", type=click.Path(dir_okay=False),
              help="Write every affected recipient (DN, display name, mail, legacyExchangeDN, home "
                   "database or server, kind) to this CSV file. The JSON report holds them too.")
@click.pass_context
@friendly(exit_code=3)
def check_command(ctx, bundle, evtx, ldif, only, fmt, output, affected) -> None:
    """Run the checks and report (exit 0 OK, 1 warning, 2 critical, 3 unknown).

    Evidence comes from a bundle, from loose files, or, with neither, from the live directory
    of the configuration. Exit codes follow Nagios: 3 means nothing could be checked or the
    input could not be read.

    \b
    Examples:
      exops check --bundle fixtures/scenarios/litware/bundle
      exops check --evtx Application.evtx --ldif directory.ldf --format html -o report.html
      exops check --bundle evidence.zip --only FB-ORPHAN-DN --format json
      exops check --bundle evidence.zip --affected affected.csv
    """
    from exops.advice import context_words, in_context
    from exops.collect import affected_of, gather_facts
    from exops.diagnose import run_checks, select_checks
    from exops.reports import print_table, write
    specs = select_checks(only)
    facts, source = gather_facts(bundle=bundle, evtx=evtx, ldif=ldif,
                                 config_path=ctx.obj.get("config_path"))
    if facts.unavailable and not any(True for _ in facts):
        for reason in facts.unavailable.values():   # nothing was read at all: say why, nothing else
            show_error(reason)
        sys.exit(UNKNOWN)
    for reason in facts.unavailable.values():       # some was read: also UNKNOWN findings in the report
        error_console.print(f"[bold yellow]cannot read:[/] {markup(reason, one_line=True)}", highlight=False,
                            soft_wrap=True)
    with check_progress(quiet=fmt != "table" and not output) as hook:
        report = run_checks(facts, source, specs, progress=hook)
    report = in_context(report, facts, *context_words(bundle=bundle, config_path=ctx.obj.get("config_path")))
    if fmt == "json" or affected:
        report = replace(report, affected=affected_of(facts, bundle=bundle, ldif=ldif,
                                                      config_path=ctx.obj.get("config_path"),
                                                      live=not (bundle or evtx or ldif)))
    if affected:
        _write_affected(report.affected, affected)
    if output:
        write_output(output, lambda out: write(report, fmt, out))
        error_console.print(f"wrote {fmt} report to {markup(output, one_line=True)}")
    else:
        with delivered():
            if fmt == "table":
                print_table(report, console)
            else:
                write(report, fmt, sys.stdout)
    sys.exit(report.worst.exit_code)


def _write_affected(recipients, path: str) -> None:
    from exops.reports.csv import write_affected
    if recipients is None:
        error_console.print("no affected-recipients list: the evidence holds no recipients (a bundle "
                            "collected live keeps counts: run --affected with --config against the "
                            "directory), or the directory facts cannot tell which administrative "
                            "groups are missing (see the UNKNOWN findings)")
        return
    with open(path, "w", encoding="utf-8", newline="") as out:
        written = write_affected(recipients, out)
    error_console.print(f"wrote {written} of {recipients.total} affected recipients to {path}")


@cli.command()
@click.option("-o", "--output", required=True, type=click.Path(),
              help="Bundle to write: a folder, or a .zip to send to someone.")
@click.option("--evtx", "evtx", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Also pack this exported event log; repeat for more.")
@click.option("--force", is_flag=True, help="Replace a previous bundle at OUTPUT (never anything else).")
@click.pass_context
@friendly(exit_code=1)
def collect(ctx, output: str, evtx: tuple[str, ...], force: bool) -> None:
    """Collect the live environment into an evidence bundle.

    `exops check --bundle` and `exops tui --bundle` read it anywhere, no servers needed. It
    holds no passwords. OUTPUT must be new or an empty folder; --force replaces a bundle an
    earlier collect wrote there, and nothing else.
    """
    from exops.collect import gather_facts
    from exops.facts.directory import DirectoryFacts
    from exops.sources.bundle_writer import check_replaceable, write_bundle
    check_replaceable(Path(output), force)     # before minutes of collecting, not after
    with error_console.status("collecting...") as status:
        facts, source = gather_facts(config_path=ctx.obj.get("config_path"),
                                     progress=lambda line: status.update(markup(line, one_line=True)))
    for reason in facts.unavailable.values():
        error_console.print(f"[yellow]not collected:[/] {markup(reason, one_line=True)}", highlight=False)
    path = write_bundle(output, facts=facts, files={"events": list(evtx)}, source=source, force=force)
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


@config_group.command("init")
@click.option("--force", is_flag=True, help="Replace an existing file.")
@click.pass_context
@friendly(exit_code=3)
def config_init(ctx, force: bool) -> None:
    """Write a commented exops.yaml (or the --config path) to fill in."""
    from exops.config import ConfigError
    from exops.config_template import TEMPLATE
    path = Path(ctx.find_root().obj.get("config_path") or "exops.yaml")
    if path.exists() and not force:
        raise ConfigError(f"{path} exists; edit it, or say --force to replace it with the template")
    path.write_text(TEMPLATE, encoding="utf-8")
    click.echo(f"wrote {path}: fill in the directory section, export EXOPS_LDAP_PASSWORD, then run "
               f"'exops config check'")


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
    click.echo(printable(f"{path}: OK ({', '.join(p for p in parts if p) or 'empty'})"))
    for warning in config.warnings:
        error_console.print(f"[bold yellow]warning:[/] {markup(warning)}", soft_wrap=True)


@cli.group("lab")
def lab_group() -> None:
    """The lab: scenarios built for real (Samba AD, logs) to try exops on."""


@lab_group.command("up")
@click.option("--scenario", default="litware", show_default=True, help="Scenario name or path.")
@friendly(exit_code=1)
def lab_up_command(scenario: str) -> None:
    """Start the scenario's lab (a real Samba AD DC seeded from it, and its balancer) and write exops.lab.yaml."""
    from exops.lab.control import PASSWORD_ENV, lab_up
    from exops.lab.samba import LAB_ADMIN_PASSWORD
    with error_console.status(f"starting the {scenario} lab (the first time builds its directory)..."):
        status, config = lab_up(scenario, Path.cwd())
    click.echo(f"lab {status.scenario} up on ldaps://{status.address}; wrote {config}\n"
               f"try:  export {PASSWORD_ENV}='{LAB_ADMIN_PASSWORD}'\n"
               f"      exops --config {config.name} check"
               + (f"\n      exops --config {config.name} lb status" if "loadbalancers:" in config.read_text() else ""))


@lab_group.command("status")
@click.option("--scenario", default="litware", show_default=True)
@friendly(exit_code=3)
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
@friendly(exit_code=1)
def lab_down_command(scenario: str) -> None:
    """Stop the scenario's lab."""
    from exops.lab.control import lab_down
    click.echo(f"lab {scenario}: " + ("stopped" if lab_down(scenario) else "was not running"))


@lab_group.command("bundle")
@click.option("--scenario", default="litware", show_default=True, help="Scenario name or path.")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Folder to write the bundle into: new or empty.")
@click.option("--force", is_flag=True, help="Replace a previous bundle in OUTPUT (never anything else).")
@friendly(exit_code=1)
def lab_bundle(scenario: str, output: str, force: bool) -> None:
    """Write a scenario's offline evidence: an ldifde export, .evtx logs and a bundle."""
    from exops.lab.fixtures import build_bundle
    path = build_bundle(scenario, Path(output), force=force)
    click.echo(printable(f"wrote bundle {path}"))


for _command in (*CHANGE_COMMANDS, *LB_COMMANDS):
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="exops")
