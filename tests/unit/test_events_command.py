"""`exops events A B C`: a file that cannot be read is one error line of its own, the others are
still read and printed, and the exit code is 3 (UNKNOWN) because part of the input was not read."""
from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from exops.cli import cli
from exops.facts.events import EventGroup, LogScan
from exops.lab.evtx_writer import EventSpec, write_evtx
from exops.sources.eventlog import scan_log


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


# ---------------------------------------------------------------- terminal widths

FABRIKAM_LOG = Path(__file__).resolve().parents[2] / "fixtures/scenarios/fabrikam/bundle/logs/FEX01-Application.evtx"
LONG_DN = "/o=FABRIKAM/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"


def in_terminal(columns: int, *args: str) -> str:
    """What `exops ARGS` prints on a real terminal (a pseudo-terminal) `columns` wide, styles
    stripped; stderr goes to a pipe, so no progress bars."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "xterm", "NO_COLOR": "1"}
    with subprocess.Popen([sys.executable, "-m", "exops", *args], stdout=slave,
                          stderr=subprocess.DEVNULL, env=env) as proc:
        os.close(slave)
        out = b""
        while chunk := _read(master):
            out += chunk
    os.close(master)
    assert proc.returncode == 0
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode()).replace("\r", "")


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:          # EIO: the child closed the terminal
        return b""


@pytest.mark.parametrize("columns, moment", [(80, "%Y-%m-%d %H:%M"), (120, "%Y-%m-%d %H:%M:%S"),
                                             (200, "%Y-%m-%d %H:%M:%S")])
def test_events_show_whole_dns_times_and_codes_at_every_width(columns, moment):
    output = in_terminal(columns, "events", str(FABRIKAM_LOG))
    lines = output.splitlines()
    assert max(len(line) for line in lines) <= columns and "…" not in output
    assert any(LONG_DN in line for line in lines)                        # on one line, never wrapped
    groups = scan_log(FABRIKAM_LOG).groups
    assert len(groups) == 4
    for g in groups:
        assert g.first_seen.strftime(moment) in output and g.last_seen.strftime(moment) in output
        assert all(code in output for code in g.error_codes)


def test_a_dn_wider_than_the_room_breaks_between_its_parts_only():
    from exops.console import print_scans
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    user_dn = f"{LONG_DN}/cn=Recipients/cn=Fabrikam Warehouse Shipping Coordinator 01"
    groups = (EventGroup(8207, "MSExchangeFBPublish", user_dn, "fex01.fabrikam.com", 3, when, when,
                         error_codes=("0x80070005", "0x80004005")),)
    for columns in (80, 120, 200):
        out = Console(width=columns, file=io.StringIO(), color_system=None)
        print_scans([LogScan("Application.evtx", "python", 9, groups=groups)], out)
        text = out.file.getvalue()
        cells = [cell.strip() for line in text.splitlines() for cell in re.split("[│┃]", line)]
        assert any(c.startswith(LONG_DN) for c in cells)                    # each part whole...
        assert any("/cn=Fabrikam Warehouse Shipping Coordinator 01" in c for c in cells)
        assert "0x80070005" in text and "0x80004005" in text and "\\x0a" not in text
        assert max(len(line) for line in text.splitlines()) <= columns


def test_piped_output_takes_its_width_from_columns(tmp_path):
    """Into a pipe or a file exops writes 160 columns, or what COLUMNS says."""
    good = logs(tmp_path)[1]
    widths = {}
    for columns in ("60", None):
        env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
        env.update({"COLUMNS": columns} if columns else {})
        out = subprocess.run([sys.executable, "-m", "exops", "events", good], env=env,
                             capture_output=True, text=True).stdout
        widths[columns] = max(map(len, out.splitlines()))
    assert widths["60"] <= 60 < widths[None] <= 160
