"""The CLI's edge: where a user-facing error becomes one line and an exit code."""
from __future__ import annotations

import functools
import sys

import click
from rich.markup import escape

from exops.console import error_console
from exops.errors import ExopsError


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
                error_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
                sys.exit(exit_code)
        return run
    return wrap
