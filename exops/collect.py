"""Where a run's facts come from: a bundle, loose evidence files, or the configured sources."""
from __future__ import annotations

import threading
from collections.abc import Callable

from exops.config import Config, ConfigError, find_config, load_config
from exops.facts.store import Facts, kind_named
from exops.sources.bundle import BundleSource
from exops.sources.evidence import EvidenceFile
from exops.sources.source import Source, collect_from, configured_sources


def evidence_sources(*, bundle: str | None = None, evtx: tuple[str, ...] = (),
                     ldif: tuple[str, ...] | str = ()) -> list[Source]:
    """The sources of an offline run: a bundle, or one source per loose evidence file."""
    if bundle:
        if evtx or ldif:
            raise ConfigError("--bundle already holds the evidence; do not add --evtx or --ldif")
        return [BundleSource(bundle)]
    sources: list[Source] = [EvidenceFile(kind_named("events"), path) for path in evtx]
    for path in (ldif,) if isinstance(ldif, str) else ldif:
        sources.append(EvidenceFile(kind_named("directory"), path))
    return sources


def gather_facts(*, bundle: str | None = None, evtx: tuple[str, ...] = (), ldif: tuple[str, ...] | str = (),
                 config_path: str | None = None, cancel: threading.Event | None = None,
                 progress: Callable[[str], None] | None = None) -> tuple[Facts, str]:
    """Facts plus a one-line description of where they came from (shown in every report)."""
    sources = evidence_sources(bundle=bundle, evtx=evtx, ldif=ldif)
    if sources:
        return collect_from(sources, cancel=cancel, progress=progress), describe(sources)
    config = load_live_config(config_path, purpose="nothing to check: give --bundle, or --evtx/--ldif, or")
    sources = live_sources(config)
    try:
        return collect_from(sources, cancel=cancel, progress=progress), describe(sources)
    finally:
        for source in sources:
            source.close()


def live_sources(config: Config) -> list[Source]:
    sources = configured_sources(config)
    if not sources:
        raise ConfigError(f"{config.path}: no section exops can read from (directory, ...)")
    return sources


def describe(sources: list[Source]) -> str:
    """`bundle B`, `files a.evtx, b.ldf`, `directory ldaps://dc1`: the report's source line."""
    files = [s.path.name for s in sources if isinstance(s, EvidenceFile)]
    others = [s.name for s in sources if not isinstance(s, EvidenceFile)]
    return ", ".join(others + ([f"files {', '.join(files)}"] if files else []))


def load_live_config(config_path: str | None, purpose: str = "no configuration:") -> Config:
    path = find_config(config_path)
    if path is None:
        raise ConfigError(f"{purpose} pass --config FILE, set $EXOPS_CONFIG, or create ./exops.yaml ")
    return load_config(path)


def affected_of(facts: Facts, *, bundle: str | None = None, ldif: tuple[str, ...] = (),
                config_path: str | None = None, live: bool = False):
    """Every affected recipient, read again from where the facts came from (streamed); None when
    that holds no recipients (logs alone)."""
    from exops.affected import affected_recipients, bundle_entries, directory_entries, ldif_entries
    if bundle:
        return affected_recipients(facts, bundle_entries(bundle), f"bundle {bundle}")
    if ldif:
        return affected_recipients(facts, ldif_entries(ldif), "ldif " + ", ".join(ldif))
    if not live:
        return None
    from exops.sources.directory import DirectorySource
    config = load_live_config(config_path)
    if config.directory is None:
        return None
    source = DirectorySource.from_settings(config.directory)
    return affected_recipients(facts, directory_entries(source), source.name)
