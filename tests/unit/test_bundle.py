"""Bundles: written, zipped, read back; every malformed one gets a clear BundleError."""
from __future__ import annotations

import json
import shutil
import zipfile

import pytest

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
    path = write_bundle(tmp_path / "evidence.zip", directory=litware_facts, source="test")
    assert zipfile.is_zipfile(path)
    assert open_bundle(path).directory == litware_facts


def test_the_demo_bundle_matches_its_scenario(litware_facts):
    facts = open_bundle(LITWARE)
    assert facts.directory.recipient_prefixes == litware_facts.recipient_prefixes
    assert sum(s.records_read for s in facts.events.scans) == 10_000 + 119


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
    bundle = write_bundle(tmp_path / "b", directory=litware_facts)
    data = json.loads((bundle / "directory.json").read_text())
    data["admin_groups"][0]["dn"] = 42
    (bundle / "directory.json").write_text(json.dumps(data))
    with pytest.raises(BundleError, match=r"AdminGroup\.dn: expected str"):
        open_bundle(bundle)


def _edit(bundle, **changes):
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest.update(changes)
    (bundle / "manifest.json").write_text(json.dumps(manifest))
