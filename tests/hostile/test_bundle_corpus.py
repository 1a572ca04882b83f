"""Crafted bundles (issue 9.7, 9.14, 8.15): each is read, or refused in one line with exit 3.

Only the project's BundleError may come out of open_bundle, and `exops check --bundle` turns it
into one `error:` line and exit code 3 (UNKNOWN), never a traceback.
"""
from __future__ import annotations

import json
import zipfile

import pytest
from click.testing import CliRunner

from exops.cli import cli
from exops.facts.directory import DirectoryFacts
from exops.sources.bundle import MAX_MANIFEST, BundleError, open_bundle
from tests.hostile import crafted
from tests.hostile.crafted import MANIFEST, bundle_zip, patched


def _manifest(**changes):
    return {**MANIFEST, **changes}


REFUSED = {
    "bad-crc": (lambda: patched(bundle_zip(), "directory.ldf", crc=0xDEADBEEF), "directory.ldf is damaged"),
    "encrypted-member": (lambda: patched(bundle_zip(), "directory.ldf", flags=1), "encrypted"),
    "unknown-compression": (lambda: patched(bundle_zip(), "directory.ldf", method=99), "compression method 99"),
    "long-listed-name": (lambda: bundle_zip(_manifest(logs=["logs/" + "x" * 300 + ".evtx"])), "not a path inside"),
    "nested-manifest": (lambda: bundle_zip(crafted.deep_json(100_000)), "nested too deeply"),
    "huge-number-manifest": (lambda: bundle_zip('{"format": "exops-bundle", "schema_version": 1' + "0" * 5000 + "}"),
                             "not valid JSON"),
    "huge-manifest": (lambda: bundle_zip(" " * (MAX_MANIFEST + 1)), "larger than"),
    "directory-is-a-list": (lambda: bundle_zip(_manifest(directory=["a"])), '"directory" must be'),
    "logs-is-a-string": (lambda: bundle_zip(_manifest(logs="logs/a.evtx")), '"logs" must be a list'),
    "logs-hold-numbers": (lambda: bundle_zip(_manifest(logs=[1, 2])), '"logs" must be a list'),
    "schema-version-true": (lambda: bundle_zip(_manifest(schema_version=True)), "schema_version True"),
    "schema-version-negative": (lambda: bundle_zip(_manifest(schema_version=-5)), "schema_version -5"),
    "schema-version-text": (lambda: bundle_zip(_manifest(schema_version="1")), "schema_version '1'"),
    "source-is-an-object": (lambda: bundle_zip(_manifest(source={"a": 1})), '"source" must be text'),
    "nothing-listed": (lambda: bundle_zip(_manifest(directory=None)), "nothing to check"),
    "empty-directory": (lambda: bundle_zip(**{"directory.ldf": "# nothing\n"}), "no entries"),
    "manifest-not-utf8": (lambda: bundle_zip(b"\xff\xfe{\x00"), "not valid JSON"),
    "not-a-zip": (lambda: b"PK\x03\x04 garbage", "expected a bundle folder or a .zip"),
    "directory-json-nested": (lambda: bundle_zip(_manifest(directory="directory.json"),
                                                 **{"directory.json": crafted.deep_json(100_000)}),
                              "nested too deeply"),
    "directory-json-wrong-type": (lambda: bundle_zip(_manifest(directory="directory.json"),
                                                     **{"directory.json": "[1, 2]"}), "directory.json"),
    "two-top-level-folders": (lambda: crafted.zip_bytes({"a/manifest.json": json.dumps(MANIFEST),
                                                         "b/directory.ldf": crafted.ENTRY}),
                              "manifest.json is missing"),
}


@pytest.fixture
def write(tmp_path):
    def make(name: str, data: bytes):
        path = tmp_path / f"{name}.zip"
        path.write_bytes(data)
        return path
    return make


def test_every_refused_bundle_names_what_is_wrong(write):
    for name, (build, says) in REFUSED.items():
        path = write(name, build())
        with pytest.raises(BundleError) as caught:
            open_bundle(path)
        message = str(caught.value)
        assert says in message and str(path) in message and "\n" not in message, (name, message)


@pytest.mark.parametrize("name", ["bad-crc", "encrypted-member", "nested-manifest",
                                  "schema-version-true", "empty-directory"])
def test_check_on_a_refused_bundle_is_one_line_and_unknown(write, name):
    path = write(name, REFUSED[name][0]())
    result = CliRunner().invoke(cli, ["check", "--bundle", str(path)])
    assert result.exit_code == 3, result.output
    assert result.output.count("error:") == 1 and "Traceback" not in result.output


def test_a_zip_bomb_is_refused_before_it_is_expanded(write, tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    path = write("bomb", crafted.zip_bomb(48 << 20))
    assert path.stat().st_size < 1 << 20
    with pytest.raises(BundleError, match="zip bomb"):
        open_bundle(path)
    assert list(scratch.iterdir()) == []


def test_members_nobody_lists_are_never_expanded(write):
    facts = open_bundle(write("junk", crafted.many_empty_members(100_000)))
    assert facts.get(DirectoryFacts).recipients_scanned == 1


@pytest.mark.parametrize("folder", ["evidence", "Beweise für Müller"])
def test_a_zip_whose_files_sit_in_one_folder_reads_like_a_flat_one(write, folder):
    members = {f"{folder}/manifest.json": json.dumps(MANIFEST),
               f"{folder}/directory.ldf": crafted.ENTRY,
               f"__MACOSX/{folder}/._manifest.json": b"\0\5\26\7"}
    facts = open_bundle(write("wrapped", crafted.zip_bytes(members)))
    assert facts.get(DirectoryFacts).recipients_scanned == 1


def test_a_folder_holding_the_bundle_folder_reads_like_the_bundle(tmp_path):
    inner = tmp_path / "outer" / "evidence"
    inner.mkdir(parents=True)
    (inner / "manifest.json").write_text(json.dumps(MANIFEST))
    (inner / "directory.ldf").write_text(crafted.ENTRY)
    assert open_bundle(tmp_path / "outer").get(DirectoryFacts).recipients_scanned == 1


def test_a_stored_zip_reads_too(write):
    data = crafted.zip_bytes({"manifest.json": json.dumps(MANIFEST), "directory.ldf": crafted.ENTRY},
                             method=zipfile.ZIP_STORED)
    assert open_bundle(write("stored", data)).get(DirectoryFacts).recipients_scanned == 1
