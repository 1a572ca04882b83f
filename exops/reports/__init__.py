"""Report writers: one module per format, all rendering the same `Report` in the same order.

JSON is the source of truth (schema-versioned, see `exops.reports.json`); the others are views of
it for people (table, markdown, html) and for other tools (csv, junit). Format modules are
imported only when asked for, so the CLI does not pay for rich or xml.etree it does not use.
"""
from __future__ import annotations

import importlib
from typing import Any

from exops.model import Report

FORMATS = ("table", "json", "md", "html", "csv", "junit")
_MODULES = {"table": "table", "json": "json", "md": "markdown", "html": "html", "csv": "csv",
            "junit": "junit"}


def render(report: Report, fmt: str) -> str:
    """The report as text in one of `FORMATS` (the table as plain text, without colour)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return importlib.import_module(f"exops.reports.{_MODULES[fmt]}").render(report)


def write(report: Report, fmt: str, out: Any) -> None:
    """The report written to a text stream; JSON streams the affected recipients as it goes."""
    if fmt == "json":
        from exops.reports.json import write as write_json
        write_json(report, out)
    else:
        out.write(render(report, fmt))


def print_table(report: Report, console: Any) -> None:
    """The CLI's default human output, coloured by severity, on a rich Console."""
    from exops.reports.table import print_table as _print_table
    _print_table(report, console)


def load(text: str) -> dict[str, Any]:
    """Read a JSON report back, refusing schema versions this exops does not know."""
    from exops.reports.json import load as _load
    return _load(text)
