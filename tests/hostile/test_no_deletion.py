"""exops never deletes what it did not write (issue 9.2, 9.3).

`-o DIR` refuses a non-empty folder, `--force` replaces only a previous bundle, and scenario
names that would become paths outside the lab home are refused before anything is touched.
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from exops.cli import cli
from exops.facts.directory import DirectoryFacts
from exops.lab.control import lab_down, lab_status, lab_up
from exops.lab.scenario import ScenarioError, load_scenario
from exops.sources.bundle import BundleError, open_bundle
from exops.sources.bundle_writer import write_bundle
from tests.conftest import SCENARIOS

LITWARE_LDIF = SCENARIOS / "litware" / "bundle" / "directory.ldf"


def _precious(folder):
    folder.mkdir(exist_ok=True)
    (folder / "thesis.docx").write_text("four years of work")
    return folder


def _run(*args):
    return CliRunner().invoke(cli, list(args))


def test_lab_bundle_refuses_a_folder_with_other_files_even_with_force(tmp_path):
    folder = _precious(tmp_path / "home")
    for extra in ((), ("--force",)):
        result = _run("lab", "bundle", "-o", str(folder), *extra)
        assert result.exit_code == 1, result.output
        assert (folder / "thesis.docx").read_text() == "four years of work"
    assert "not empty" in result.output or "not a bundle" in result.output


def test_force_replaces_a_previous_bundle_and_only_that(tmp_path):
    folder = tmp_path / "evidence"
    write_bundle(folder, files={"directory": [LITWARE_LDIF]}, source="first")
    with pytest.raises(BundleError, match="not empty"):
        write_bundle(folder, files={"directory": [LITWARE_LDIF]}, source="second")
    write_bundle(folder, files={"directory": [LITWARE_LDIF]}, source="second", force=True)
    assert json.loads((folder / "manifest.json").read_text())["source"] == "second"

    (folder / "notes.txt").write_text("mine")       # a bundle folder someone added to
    with pytest.raises(BundleError, match=r"does not list \(notes.txt\)"):
        write_bundle(folder, files={"directory": [LITWARE_LDIF]}, force=True)
    assert (folder / "notes.txt").read_text() == "mine"


def test_an_empty_folder_or_a_new_name_is_written(tmp_path):
    (tmp_path / "empty").mkdir()
    assert open_bundle(write_bundle(tmp_path / "empty", files={"directory": [LITWARE_LDIF]})).get(DirectoryFacts)
    assert open_bundle(write_bundle(tmp_path / "new.zip", files={"directory": [LITWARE_LDIF]})).get(DirectoryFacts)


def test_a_zip_is_replaced_only_when_it_is_a_bundle(tmp_path):
    other = tmp_path / "holiday.zip"
    other.write_bytes(b"PK\x05\x06" + b"\0" * 18)      # an empty zip that is not a bundle
    with pytest.raises(BundleError, match="is not a bundle exops wrote"):
        write_bundle(other, files={"directory": [LITWARE_LDIF]}, force=True)
    assert other.read_bytes().startswith(b"PK")
    bundle = write_bundle(tmp_path / "b.zip", files={"directory": [LITWARE_LDIF]}, source="one")
    with pytest.raises(BundleError, match="exists"):
        write_bundle(bundle, files={"directory": [LITWARE_LDIF]})
    write_bundle(bundle, files={"directory": [LITWARE_LDIF]}, source="two", force=True)


def test_collect_refuses_the_current_folder_before_collecting(tmp_path, monkeypatch):
    monkeypatch.chdir(_precious(tmp_path / "cwd"))
    result = _run("collect", "-o", ".")
    assert result.exit_code == 1 and "not empty" in result.output
    assert (tmp_path / "cwd" / "thesis.docx").exists()


def _evil_scenario(tmp_path, name):
    text = (SCENARIOS / "litware" / "scenario.yaml").read_text()
    path = tmp_path / "evil" / "scenario.yaml"
    path.parent.mkdir()
    path.write_text(text.replace("name: litware", f"name: {json.dumps(name)}", 1))
    return path


@pytest.mark.parametrize("name", ["../../victim", "a/b", "..", "*", ""])
def test_scenario_names_that_would_be_paths_are_refused(tmp_path, monkeypatch, name):
    monkeypatch.setenv("EXOPS_LAB_HOME", str(tmp_path / "lab"))
    victim = _precious(tmp_path / "victim")
    with pytest.raises(ScenarioError, match="names folders"):
        lab_up(str(_evil_scenario(tmp_path, name)), tmp_path)
    with pytest.raises(ScenarioError):
        load_scenario(tmp_path / "evil")
    assert (victim / "thesis.docx").exists()


@pytest.mark.parametrize("call", [lab_status, lab_down])
def test_lab_status_and_down_refuse_a_path_as_scenario_name(tmp_path, monkeypatch, call):
    monkeypatch.setenv("EXOPS_LAB_HOME", str(tmp_path / "lab"))
    with pytest.raises(ScenarioError):
        call("../../etc")
    assert _run("lab", "down", "--scenario", "../x").exit_code == 1
