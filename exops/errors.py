"""The errors whose message is meant for the user as it is: the CLI prints them as one line
(exit code by command) and the TUI shows them in place; anything else is a bug with a traceback."""
from __future__ import annotations


class OutputError(Exception):
    """exops could not write a report, plan or bundle where it was asked to."""


def user_errors() -> tuple[type[Exception], ...]:
    from exops.config import ConfigError
    from exops.engine import UnknownCheck
    from exops.lab.samba import LabError
    from exops.lab.scenario import ScenarioError
    from exops.plan import PlanError
    from exops.registry import RegistryError
    from exops.remediate import ChangeFailed
    from exops.sources.bundle import BundleError
    from exops.sources.directory import DirectoryError
    from exops.sources.directory_writer import DirectoryWriteError
    from exops.sources.eventlog import EventLogError
    from exops.sources.ldif import LdifError
    return (OutputError, ConfigError, BundleError, EventLogError, LdifError, ScenarioError, UnknownCheck,
            LabError, PlanError, RegistryError, ChangeFailed, DirectoryError, DirectoryWriteError)
