"""Where a run's facts come from: a bundle, loose evidence files, or the live environment."""
from __future__ import annotations

from pathlib import Path

from exops.config import Config, ConfigError, find_config, load_config
from exops.facts import EventFacts, Facts
from exops.sources.bundle import open_bundle
from exops.sources.eventlog import scan_log
from exops.sources.ldif import read_ldif_facts


def gather_facts(*, bundle: str | None = None, evtx: tuple[str, ...] = (), ldif: str | None = None,
                 config_path: str | None = None) -> tuple[Facts, str]:
    """Facts plus a one-line description of where they came from (shown in every report)."""
    if bundle:
        if evtx or ldif:
            raise ConfigError("--bundle already holds the evidence; do not add --evtx or --ldif")
        return open_bundle(bundle), f"bundle {bundle}"
    if evtx or ldif:
        events = EventFacts(scans=tuple(scan_log(p) for p in evtx)) if evtx else None
        directory = read_ldif_facts(ldif) if ldif else None
        names = [Path(p).name for p in (*evtx, *([ldif] if ldif else []))]
        return Facts(directory=directory, events=events), "files " + ", ".join(names)
    return live_facts(config_path)


def live_facts(config_path: str | None) -> tuple[Facts, str]:
    if find_config(config_path) is None:
        raise ConfigError("nothing to check: give --bundle, or --evtx/--ldif, or a configuration "
                          "(--config, $EXOPS_CONFIG or ./exops.yaml) with a directory section")
    config = load_live_config(config_path)
    source = open_directory(config)
    with source:
        directory = source.collect()
    return Facts(directory=directory), f"directory {config.directory.url}"


def open_directory(config: Config):
    """The live directory of a configuration (not yet connected: it binds on first use)."""
    from exops.sources.directory import DirectorySource
    if config.directory is None:
        raise ConfigError(f"{config.path}: no directory section; exops needs it to work live")
    return DirectorySource.from_settings(config.directory)


def load_live_config(config_path: str | None) -> Config:
    path = find_config(config_path)
    if path is None:
        raise ConfigError("no configuration: pass --config FILE, set $EXOPS_CONFIG, or create ./exops.yaml")
    return load_config(path)
