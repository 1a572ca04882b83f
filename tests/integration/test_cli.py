"""The exops command line as scripts use it: the real console script in a subprocess."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import REPO

BUNDLE = REPO / "fixtures" / "scenarios" / "litware" / "bundle"
ORPHAN = "/o=EUROPE/ou=First Administrative Group"


def exops(*args, env=None, cwd=None):
    environment = {k: v for k, v in os.environ.items() if k != "EXOPS_CONFIG"}
    return subprocess.run(["exops", *args], capture_output=True, text=True, timeout=120,
                          env={**environment, **(env or {})}, cwd=cwd or REPO, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("fmt", ["table", "json", "md", "html", "csv", "junit"])
def test_litware_bundle_reports_the_orphan_in_every_format_and_exits_critical(fmt, tmp_path):
    out = tmp_path / f"report.{fmt}"
    result = exops("check", "--bundle", str(BUNDLE), "--format", fmt, "-o", str(out))
    assert result.returncode == 2, result.stderr
    text = out.read_text()
    assert ORPHAN in text and "152 mailboxes" in text
    if fmt == "json":
        report = json.loads(text)
        orphan = next(f for f in report["findings"] if f["id"] == "FB-ORPHAN-DN")
        assert orphan["severity"] == "critical" and orphan["target"] == ORPHAN
        assert any(e["kind"] == "event" and e["data"]["event_id"] == 14031 for e in orphan["evidence"])
        assert report["exit_code"] == 2 and report["schema_version"] == 1
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert any(r["id"] == "FB-ORPHAN-DN" and r["severity"] == "critical" for r in rows)
    elif fmt == "junit":
        assert int(ET.fromstring(text).get("failures")) >= 1
    elif fmt in ("md", "html", "table"):
        assert "14031" in text


def test_loose_evtx_and_ldif_give_the_same_diagnosis():
    logs = sorted(str(p) for p in (BUNDLE / "logs").glob("*.evtx"))
    args = ["check", "--ldif", str(BUNDLE / "directory.ldf"), "--format", "json"]
    for log in logs:
        args += ["--evtx", log]
    result = exops(*args)
    assert result.returncode == 2
    ids = {(f["id"], f["target"]) for f in json.loads(result.stdout)["findings"] if f["severity"] == "critical"}
    assert ("FB-ORPHAN-DN", ORPHAN) in ids and ("FB-EVENT-14031", ORPHAN) in ids


def test_events_json_lists_records_skips_and_free_busy_groups():
    result = exops("events", str(BUNDLE / "logs" / "L12EX1-Application.evtx"), "--format", "json")
    assert result.returncode == 0, result.stderr
    [file] = json.loads(result.stdout)["files"]
    assert file["records_read"] == 6068 and file["records_skipped"] == 0
    [group] = [g for g in file["events"] if g["event_id"] == 14031]
    assert group["dn"] == ORPHAN and group["count"] == 68 and group["computer"] == "l12ex1.litware.com"


def test_events_on_a_damaged_sample_reports_what_was_skipped(samples_dir):
    result = exops("events", str(samples_dir / "omer__sample_with_a_bad_chunk_magic.evtx"), "--format", "json")
    assert result.returncode == 0
    [file] = json.loads(result.stdout)["files"]
    assert file["records_read"] >= 270 and file["skipped"]


def test_unreadable_input_is_one_line_and_exit_unknown(tmp_path):
    junk = tmp_path / "junk.evtx"
    junk.write_bytes(b"this is not an event log")
    result = exops("check", "--evtx", str(junk))
    assert result.returncode == 3
    assert "junk.evtx" in result.stderr and "Traceback" not in result.stderr
    assert exops("check", "--only", "NOPE-1", "--bundle", str(BUNDLE)).returncode == 3
    nothing = exops("check", cwd=tmp_path)
    assert nothing.returncode == 3 and "nothing to check" in nothing.stderr


def test_a_check_stopped_with_ctrl_c_is_unknown_not_a_warning(tmp_path):
    """Interrupted, nothing was decided: exit 3, one line. (A pipe nobody writes to keeps the
    check waiting.)"""
    import signal
    import time
    fifo = tmp_path / "Application.evtx"
    os.mkfifo(fifo)
    run = subprocess.Popen(["exops", "check", "--evtx", str(fifo)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(2)
    os.killpg(run.pid, signal.SIGINT)
    out, err = run.communicate(timeout=30)
    assert run.returncode == 3, err
    assert err.strip() == "Interrupted: nothing was decided." and "Traceback" not in out + err


def test_third_party_check_plugin_runs_through_the_entry_point():
    assert "SAMPLE-AG-COUNT" in exops("checks").stdout
    result = exops("check", "--bundle", str(BUNDLE), "--only", "SAMPLE-AG-COUNT", "--format", "json")
    [finding] = json.loads(result.stdout)["findings"]
    assert finding["summary"] == "2 administrative groups" and result.returncode == 0


def test_config_check_accepts_good_and_names_the_line_of_bad(tmp_path):
    good = tmp_path / "exops.yaml"
    good.write_text("directory:\n  url: ldaps://dc1.litware.com\n  password_env: X\n")
    assert exops("--config", str(good), "config", "check").returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("directory:\n  url: ldaps://dc1\n  auth: digest\n")
    result = exops("--config", str(bad), "config", "check")
    assert result.returncode == 1 and f"{bad}:3: directory.auth" in result.stderr
