"""Bundles: written, zipped, read back; every malformed one gets a clear BundleError."""
from __future__ import annotations

import json
import shutil
import zipfile

import pytest

from exops.facts.directory import DirectoryFacts
from exops.facts.events import EventFacts
from exops.facts.store import Facts
from exops.lab.directory_layout import all_entries
from exops.lab.ldif_export import write_ldif
from exops.lab.scenario import load_scenario
from exops.sources.bundle import BundleError, open_bundle
from exops.sources.bundle_writer import write_bundle
from exops.sources.ldif import read_ldif_facts
from tests.conftest import REPO

LITWARE = REPO / "fixtures" / "scenarios" / "litware" / "bundle"


@pytest.fixture(scope="module")
def litware_facts(tmp_path_factory):
    ldif = tmp_path_factory.mktemp("ldif") / "litware.ldf"
    write_ldif(ldif, all_entries(load_scenario("litware")))
    return read_ldif_facts(ldif)


def test_directory_facts_round_trip_through_a_zip_bundle(tmp_path, litware_facts):
    path = write_bundle(tmp_path / "evidence.zip", facts=Facts(litware_facts), source="test")
    assert zipfile.is_zipfile(path)
    assert open_bundle(path).get(DirectoryFacts) == litware_facts


def test_the_demo_bundle_matches_its_scenario(litware_facts):
    facts = open_bundle(LITWARE)
    assert facts.get(DirectoryFacts).recipient_prefixes == litware_facts.recipient_prefixes
    assert sum(s.records_read for s in facts.get(EventFacts).scans) == 10_000 + 119


def test_a_version_1_bundle_reads_as_its_version_2_rewrite(tmp_path):
    """The demo bundle is kept at schema 1 on purpose: it proves old bundles migrate on read."""
    assert json.loads((LITWARE / "manifest.json").read_text())["schema_version"] == 1
    logs = sorted((LITWARE / "logs").glob("*.evtx"))
    rewritten = write_bundle(tmp_path / "v2", files={"directory": [LITWARE / "directory.ldf"], "events": logs})
    manifest = json.loads((rewritten / "manifest.json").read_text())
    assert manifest["schema_version"] == 2
    assert manifest["facts"] == {"directory": ["directory.ldf"], "events": [f"logs/{p.name}" for p in logs]}
    old, new = open_bundle(LITWARE), open_bundle(rewritten)
    assert old.get(DirectoryFacts) == new.get(DirectoryFacts)
    def counts(facts):
        return [(g.event_id, g.dn, g.computer, g.count) for g in facts.get(EventFacts).groups]
    assert counts(old) == counts(new) and counts(old)


def test_a_bundle_with_facts_this_exops_does_not_know_is_refused(tmp_path, litware_facts):
    bundle = write_bundle(tmp_path / "b", facts=Facts(litware_facts))
    _edit(bundle, facts={"directory": ["directory.json"], "quantum": ["quantum.json"]})
    with pytest.raises(BundleError, match="'quantum' facts, which this exops does not know"):
        open_bundle(bundle)


def copy(tmp_path):
    target = tmp_path / "bundle"
    shutil.copytree(LITWARE, target)
    return target


@pytest.mark.parametrize("damage, says", [
    (lambda b: (b / "manifest.json").unlink(), "manifest.json is missing"),
    (lambda b: (b / "manifest.json").write_text("{not json"), "manifest.json: not valid JSON"),
    (lambda b: (b / "manifest.json").write_text('{"format": "other"}'), '"format": "exops-bundle"'),
    (lambda b: _edit(b, schema_version=99), "schema_version 99 is not one this exops reads"),
    (lambda b: _edit(b, logs=["logs/missing.evtx"]), "lists 'logs/missing.evtx', which is not in the bundle"),
    (lambda b: _edit(b, logs=["../../etc/passwd"]), "which is not a path inside the bundle"),
    (lambda b: (b / "logs" / "L12EX1-Application.evtx").write_bytes(b"MZ not a log"), "L12EX1-Application.evtx"),
    (lambda b: (b / "directory.ldf").write_text("cn: no dn\n"), "directory.ldf:1: expected 'dn:"),
])
def test_malformed_bundles_are_refused_with_the_reason(tmp_path, damage, says):
    bundle = copy(tmp_path)
    damage(bundle)
    with pytest.raises(BundleError) as caught:
        open_bundle(bundle)
    assert says in str(caught.value) and str(bundle) in str(caught.value)


def test_a_zip_with_unsafe_member_names_is_refused_and_writes_nothing_outside(tmp_path):
    path = tmp_path / "inner" / "evil.zip"
    path.parent.mkdir()
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("../escape.txt", "x")
        z.writestr("manifest.json", json.dumps({"format": "exops-bundle", "schema_version": 1,
                                                "logs": ["../escape.txt"]}))
    with pytest.raises(BundleError, match="not a path inside the bundle"):
        open_bundle(path)
    assert not (tmp_path / "escape.txt").exists()


def test_bad_directory_json_names_the_field(tmp_path, litware_facts):
    bundle = write_bundle(tmp_path / "b", facts=Facts(litware_facts))
    data = json.loads((bundle / "directory.json").read_text())
    data["admin_groups"][0]["dn"] = 42
    (bundle / "directory.json").write_text(json.dumps(data))
    with pytest.raises(BundleError, match=r"AdminGroup\.dn: expected str"):
        open_bundle(bundle)


def _edit(bundle, **changes):
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest.update(changes)
    (bundle / "manifest.json").write_text(json.dumps(manifest))
