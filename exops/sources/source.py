"""What every source is, and the sources a configuration names.

A source collects facts and, when it can change something, offers executors for the remediation
engine. The directory, a bundle and loose evidence files are sources today; Exchange servers over
WinRM and load balancers join by declaring a source factory for their configuration section in
the `exops.sources` entry-point group, without a change anywhere else.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Protocol

from exops.errors import Cancelled, ExopsError
from exops.facts.store import Facts

if TYPE_CHECKING:
    from exops.config import Config
    from exops.remediation import Executor

SOURCE_GROUP = "exops.sources"
Activity = Callable[[str], None]


class Source(Protocol):
    """A place facts come from (and, optionally, where changes go)."""

    name: str                      # as reports show it: "directory ldaps://dc1", "bundle B", "winrm L12EX1"
    provides: tuple[type, ...]     # the fact types it collects

    def facts(self, *, cancel: threading.Event | None = None, progress: Activity | None = None) -> Facts:
        """Collect; check `cancel` between pages, chunks or calls; report activity as one line."""
        ...

    def executors(self) -> Mapping[str, Executor]:
        """Executors by key (`ldap`, `winrm:L12EX1`); empty for evidence."""
        ...

    def close(self) -> None: ...


def configured_sources(config: Config) -> list[Source]:
    """One source (or several: one per server) for each configuration section a factory claims."""
    sources: list[Source] = []
    for ep in sorted(entry_points(group=SOURCE_GROUP), key=lambda e: e.name):
        if getattr(config, ep.name, None):
            sources.extend(ep.load()(config))
    return sources


def collect_from(sources: list[Source], *, cancel: threading.Event | None = None,
                 progress: Activity | None = None) -> Facts:
    """Every source's facts in one collection. A source that fails (down, refused, unreadable)
    leaves its fact types unavailable with the reason, so its checks say UNKNOWN and the others
    still run; cancelling stops the whole collection."""
    facts = Facts()
    for source in sources:
        try:
            facts = facts.merged(source.facts(cancel=cancel, progress=progress))
        except Cancelled:
            raise
        except ExopsError as exc:
            if not source.provides:
                raise   # a bundle: what it should have held is unknown, so its failure is the answer
            facts = facts.merged(Facts(unavailable={t: f"{source.name}: {exc}" for t in source.provides}))
    return facts
