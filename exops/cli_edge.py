"""The CLI's edge: where a user-facing error becomes one line and an exit code."""
from __future__ import annotations

import functools
import sys

import click

from exops.console import error_console
from exops.errors import ExopsError
from exops.terminal import markup


def show_error(message: object) -> None:
    """One line on stderr, whatever the message holds (evidence text is made printable)."""
    error_console.print(f"[bold red]error:[/] {markup(message, one_line=True)}", highlight=False,
                        soft_wrap=True)


def friendly(exit_code: int):
    """Show user errors as one line and exit with `exit_code`; --debug shows the traceback."""

    def wrap(command):
        @functools.wraps(command)
        def run(*args, **kwargs):
            try:
                return command(*args, **kwargs)
            except ExopsError as exc:
                if click.get_current_context().find_root().params.get("debug"):
                    raise
                show_error(exc)
                sys.exit(exit_code)
        return run
    return wrap
