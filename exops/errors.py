"""The base of every error whose message is meant for the user as it is.

The CLI catches `ExopsError` once at its edge and prints one line (`--debug` shows the
traceback); the TUI catches it once, in its worker-error handler. Anything else is a bug and
keeps its traceback. A new source declares its errors as subclasses and needs nothing else.
"""
from __future__ import annotations


class ExopsError(Exception):
    """A failure the user can act on; str() is one line saying what and, where known, what to do."""


class Cancelled(ExopsError):
    """The user stopped a long read (a scan, a directory search) before it finished."""


class OutputError(ExopsError):
    """exops could not write a report, plan or bundle where it was asked to."""
