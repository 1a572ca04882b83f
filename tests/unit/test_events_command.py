"""`exops events A B C`: a file that cannot be read is one error line of its own, the others are
still read and printed, and the exit code is 3 (UNKNOWN) because part of the input was not read."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from click.testing import CliRunner

from exops.cli import cli
from exops.lab.evtx_writer import EventSpec, write_evtx


def logs(folder):
    good = folder / "L12EX1-Application.evtx"
    write_evtx(good, [EventSpec(event_id=14031, provider="MSExchange FreeBusy Assistant",
                                time=datetime(2026, 1, 2, tzinfo=timezone.utc), computer="L12EX1",
                                level=2, data=("/o=EUROPE/ou=First Administrative Group",
                                               "publish failed", "0x8004010F"))])
    notes = folder / "notes.evtx"
    notes.write_text("this is not an event log\n")
    empty = folder / "empty.evtx"
    empty.write_bytes(b"")
    return [str(notes), str(good), str(empty)]


def test_an_unreadable_file_is_one_line_and_the_others_are_still_read(tmp_path):
    paths = logs(tmp_path)
    result = CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["events", *paths])
    assert result.exit_code == 3
    errors = result.stderr.splitlines()
    assert errors == [f"error: {paths[0]}: not an event log; expected an .evtx file (ElfFile header) "
                      "or a wevtutil XML export (<Event> elements)",
                      f"error: {paths[2]}: empty file; expected an .evtx log or a wevtutil XML export"]
    assert f"{paths[1]}  1 records read, 0 skipped" in result.stdout
    assert "14031" in result.stdout and "0x8004010f" in result.stdout
    assert "Traceback" not in result.output


def test_json_lists_the_files_read_and_the_unreadable_ones_with_why(tmp_path):
    paths = logs(tmp_path)
    result = CliRunner().invoke(cli, ["events", "--format", "json", *paths])
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert [f["path"] for f in data["files"]] == [paths[1]]
    assert data["files"][0]["events"][0]["event_id"] == 14031
    assert [u["path"] for u in data["unreadable"]] == [paths[0], paths[2]]
    assert "not an event log" in data["unreadable"][0]["error"]


def test_every_file_read_exits_zero(tmp_path):
    result = CliRunner().invoke(cli, ["events", "--format", "json", logs(tmp_path)[1]])
    assert result.exit_code == 0 and json.loads(result.stdout)["unreadable"] == []
