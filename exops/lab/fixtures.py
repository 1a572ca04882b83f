"""Offline evidence for a scenario: what a customer would send a consultant.

An `ldifde` export of the directory and each server's Application log as .evtx, packed as a
bundle, all derived from the scenario file so fixtures are rebuilt, never hand-edited.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from exops.lab.directory_layout import all_entries
from exops.lab.evtx_writer import write_evtx
from exops.lab.ldif_export import write_ldif
from exops.lab.scenario import load_scenario
from exops.sources.bundle_writer import check_replaceable, write_bundle


def build_bundle(scenario_name: str | Path, output: Path, *, force: bool = False) -> Path:
    """The scenario's bundle in `output`: a new or empty folder, or with `force` a previous
    bundle (see `write_bundle`)."""
    check_replaceable(output, force)
    scenario = load_scenario(scenario_name)
    with tempfile.TemporaryDirectory() as tmp:
        ldif = Path(tmp) / "directory.ldf"
        write_ldif(ldif, all_entries(scenario))
        logs = []
        for server, channel in scenario.logs():
            log = Path(tmp) / f"{server}-{channel.replace('/', '%4')}.evtx"   # as Windows names it
            write_evtx(log, scenario.events(server, channel))
            logs.append(log)
        return write_bundle(output, files={"directory": [ldif], "events": list(logs)},
                            source=f"scenario {scenario.name}", force=force)
