"""The CLI's edge (issues 9.17, 8.10, 9.10): every mistake and refusal is one line and exit 3.

Run as real processes where the fault is in the process's own stdout (a closed pipe, a full
disk), and through click's runner otherwise.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from exops.cli import cli
from tests.conftest import SCENARIOS

LITWARE = str(SCENARIOS / "litware" / "bundle")
DEVFULL = os.path.exists("/dev/full")


def _run(*args):
    return CliRunner().invoke(cli, list(args))


def _one_error_line(result) -> None:
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert result.output.count("error:") + result.output.count("Error:") == 1, result.output


@pytest.mark.parametrize("args", [
    ("chek",),
    ("check", "--format", "htm"),
    ("check", "--ldif", "/no/such/file.ldf"),
    ("undo", "9223372036854775808"),
    ("undo", "-1"),
    ("history", "--limit", "99999999999999999999999"),
    ("fix", "freebusy-rewrite", "--dn", "/o=X/ou=Y", "--to-ag", "Z", "--dry-run",
     "--users", "(&" * 3000 + "(a=b)" + ")" * 3000),
    ("fix", "freebusy-rewrite", "--dn", "/o=X/ou=Y", "--to-ag", "Z", "--dry-run",
     "--users", "(&" * 40 + "(a=b)" + ")" * 40),
])
def test_usage_and_input_mistakes_are_unknown_not_critical(args):
    _one_error_line(_run(*args))


@pytest.mark.parametrize("target", ["/no/such/folder/report.html", "/proc/report.html"]
                         + (["/dev/full"] if DEVFULL else []))
def test_an_unwritable_report_path_is_one_line(target):
    result = _run("check", "--bundle", LITWARE, "--format", "html", "-o", target)
    _one_error_line(result)
    assert "cannot write" in result.output


def test_an_empty_ldif_is_unknown_with_the_reason(tmp_path):
    empty = tmp_path / "empty.ldf"
    empty.write_text("version: 1\n# nothing exported\n")
    result = _run("check", "--ldif", str(empty))
    _one_error_line(result)
    assert "no entries" in result.output


def _exops(*args, stdout):
    env = {**os.environ, "COLUMNS": "100"}
    return subprocess.run([sys.executable, "-m", "exops", *args], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, env=env, timeout=120)


def _closed_pipe(*args):
    read, write = os.pipe()
    os.close(read)                     # the reader is gone before exops writes a byte
    try:
        return _exops(*args, stdout=write)
    finally:
        os.close(write)


def test_check_keeps_its_exit_code_when_the_reader_stops():
    done = _closed_pipe("check", "--bundle", LITWARE)
    assert done.returncode == 2 and "Traceback" not in done.stderr and done.stderr == ""


def test_other_commands_say_the_output_closed_in_one_line():
    done = _closed_pipe("checks")
    assert done.returncode == 3 and done.stderr.count("\n") == 1
    assert "output was closed" in done.stderr


@pytest.mark.skipif(not DEVFULL, reason="needs /dev/full")
@pytest.mark.parametrize("args", [("check", "--bundle", LITWARE), ("checks",),
                                  ("check", "--bundle", LITWARE, "--format", "json")])
def test_stdout_on_a_full_disk_is_one_line(args):
    with open("/dev/full", "w") as full:
        done = _exops(*args, stdout=full)
    assert done.returncode == 3, done.stderr
    assert "No space left" in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1


@pytest.mark.parametrize("target", ["/no/such/folder/plan.json", "/proc/plan.json"]
                         + (["/dev/full"] if DEVFULL else []))
def test_an_unwritable_plan_path_is_one_line(target):
    result = _run("fix", "freebusy", "--bundle", LITWARE, "--dn",
                  "/o=EUROPE/ou=First Administrative Group", "--plan-out", target)
    assert result.exit_code == 3 and "Traceback" not in result.output
    assert result.output.count("error:") == 1
