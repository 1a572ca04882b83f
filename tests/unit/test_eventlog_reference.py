"""`--backend python-evtx`: the reference parser as a second opinion. On clean logs it must count
and find exactly what exops's own reader does; where it stops short (damage, a dirty header), the
notes must say so, so that the difference is explained rather than read as lost events."""
from __future__ import annotations

from dataclasses import replace

import pytest
from click.testing import CliRunner

from exops.cli import cli
from exops.sources.eventlog import scan_log
from tests.hostile.evtx_craft import ordinary

CLEAN_SAMPLES = ["omer__Application_no_crc32.evtx", "pyevtx__issue_38.evtx",
                 "pyevtx__issue_39.evtx"]


@pytest.mark.parametrize("name", CLEAN_SAMPLES)
def test_reference_counts_equal_exops_on_clean_samples(samples_dir, name):
    ours, reference = (scan_log(samples_dir / name, backend=b) for b in ("python", "python-evtx"))
    assert reference.records_read == ours.records_read > 0
    assert (reference.skipped, reference.groups) == (ours.skipped, ours.groups)


def test_reference_finds_the_same_free_busy_events_in_a_clean_writer_log(tmp_path):
    path = ordinary(tmp_path / "Application.evtx", 1200)
    ours, reference = (scan_log(path, backend=b) for b in ("python", "python-evtx"))
    assert reference.backend == "python-evtx"
    assert replace(reference, backend="python") == ours
    assert sum(g.count for g in ours.groups if g.event_id == 14031) == 24


def test_reference_says_where_it_stops_short_on_a_dirty_log(tmp_path):
    path = ordinary(tmp_path / "Application.evtx", 1200, dirty=True)
    ours, reference = (scan_log(path, backend=b) for b in ("python", "python-evtx"))
    assert reference.records_read < ours.records_read == 1200
    assert any("python-evtx reads only the 1 chunks the header counts" in n
               for n in reference.notes)


def test_events_command_offers_the_reference_backend(samples_dir):
    runner = CliRunner()
    help_text = " ".join(runner.invoke(cli, ["events", "--help"]).output.split())
    assert "python-evtx" in help_text and "stops at damage" in help_text
    result = runner.invoke(cli, ["events", "--backend", "python-evtx", "--format", "json",
                                 str(samples_dir / "pyevtx__issue_38.evtx")])
    assert result.exit_code == 0, result.output
    assert '"backend": "python-evtx"' in result.output
