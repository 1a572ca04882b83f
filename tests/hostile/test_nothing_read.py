"""Reading nothing is UNKNOWN with the reason, never OK: a log that holds no readable record
makes its events unavailable, alone (exit 3) or beside other evidence (partial, still UNKNOWN)."""
from __future__ import annotations

import json
import shutil

from click.testing import CliRunner

from exops.cli import cli
from exops.facts.events import EventFacts
from exops.sources.bundle import open_bundle
from tests.conftest import SCENARIOS
from tests.hostile import evtx_craft

LITWARE = SCENARIOS / "litware" / "bundle"


def test_a_header_only_log_is_unknown_with_the_reason(tmp_path):
    log = evtx_craft.header_only(tmp_path / "empty.evtx")
    result = CliRunner().invoke(cli, ["check", "--evtx", str(log), "--format", "json"])
    assert result.exit_code == 3
    assert "nothing read" in result.output and "Traceback" not in result.output


def test_an_empty_log_in_a_bundle_leaves_the_others_read_and_the_events_partial(tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(LITWARE, bundle)
    evtx_craft.header_only(bundle / "logs" / "L12EX3-Application.evtx")
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["logs"].append("logs/L12EX3-Application.evtx")
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    facts = open_bundle(bundle)
    assert len(facts.get(EventFacts).scans) == 2
    assert "L12EX3-Application.evtx: nothing read" in facts.unavailable[EventFacts]
    result = CliRunner().invoke(cli, ["check", "--bundle", str(bundle), "--only", "FB-EVENT-14031",
                                      "--format", "json"])
    report = json.loads(result.stdout if hasattr(result, "stdout") else result.output)
    assert [f["severity"] for f in report["findings"] if "partial evidence" in f["summary"]] == ["unknown"]
