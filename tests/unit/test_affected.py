"""The affected-recipients list: complete, streamed, and in flat memory at 100,000 recipients."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

from exops.affected import affected_recipients, ldif_entries
from exops.collect import gather_facts
from exops.diagnose import run_checks
from exops.reports import write
from exops.reports.csv import write_affected
from tests.conftest import REPO

PARTIAL = REPO / "fixtures" / "scenarios" / "partial"
LITWARE = REPO / "fixtures" / "scenarios" / "litware" / "bundle"


class Sink(io.TextIOBase):
    """Counts what is written and keeps none of it."""

    def __init__(self):
        self.chars = 0

    def write(self, text):
        self.chars += len(text)
        return len(text)


def users_ldif(path, count):
    """`count` mailboxes under 30 orphaned prefixes, each with the attributes a real export has."""
    with path.open("w", encoding="utf-8", newline="") as out:
        for n in range(count):
            ag = f"Old Group {n % 30:02}"
            out.write(f"dn: CN=User {n:06},OU=Migrated,DC=litware,DC=com\r\nchangetype: add\r\n"
                      "objectClass: top\r\nobjectClass: person\r\nobjectClass: user\r\n"
                      f"displayName: User {n:06}\r\nmail: user{n:06}@litware.com\r\n"
                      f"legacyExchangeDN: /o=EUROPE/ou={ag}/cn=Recipients/cn=user{n:06}\r\n"
                      "homeMDB: CN=MDB01,CN=InformationStore,CN=L12EX1,CN=Servers,CN=Exchange Admi\r\n"
                      " nistrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups,CN=EUROPE,CN=Mic\r\n"
                      " rosoft Exchange,CN=Services,CN=Configuration,DC=litware,DC=com\r\n\r\n")
    return path


MEASURE = """
import resource, sys
from tests.unit.test_affected import PARTIAL, Sink
from exops.affected import affected_recipients, ldif_entries
from exops.collect import gather_facts
from exops.diagnose import run_checks
from exops.reports.csv import write_affected
ldifs = (str(PARTIAL / "config-only.ldf"), sys.argv[1])
facts, source = gather_facts(ldif=ldifs)
run_checks(facts, source, workers=1)
affected = affected_recipients(facts, ldif_entries(ldifs), "test")
print(write_affected(affected, Sink()), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_of_a_full_run(tmp_path, count):
    """Peak resident memory (KiB) of a process that reads `count` recipients into facts, runs the
    checks and writes the CSV list of every affected one."""
    ldif = users_ldif(tmp_path / f"users-{count}.ldf", count)
    result = subprocess.run([sys.executable, "-c", MEASURE, str(ldif)], capture_output=True, text=True,
                            cwd=REPO, check=True)
    written, peak = map(int, result.stdout.split())
    assert written == count
    return peak


def test_memory_stays_flat_from_10_000_to_100_000_recipients(tmp_path):
    small, large = peak_of_a_full_run(tmp_path, 10_000), peak_of_a_full_run(tmp_path, 100_000)
    print(f"peak RSS: {small / 1024:.1f} MiB at 10,000 recipients, {large / 1024:.1f} MiB at 100,000")
    # What may grow is the 8-byte digest per DN that counts an entry listed twice once (held twice
    # while merging: under 2 MiB for 90,000 more). Keeping the recipients would cost 30+ MiB.
    assert large - small < 6 * 1024


def test_the_csv_and_the_json_list_every_affected_recipient():
    facts, source = gather_facts(bundle=str(LITWARE))
    report = run_checks(facts, source)
    from exops.collect import affected_of
    affected = affected_of(facts, bundle=str(LITWARE))
    out = io.StringIO()
    write_affected(affected, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == affected.total == 155
    assert {r["kind"] for r in rows} == {"mailbox", "contact", "group"}
    assert sum(r["kind"] == "mailbox" for r in rows) == 152
    user = next(r for r in rows if r["dn"].startswith("CN=Europe User 001,"))
    assert user["mail"] == "eu001@litware.com" and user["display_name"] == "Europe User 001"
    assert user["home"].startswith("CN=MDB01,")
    json_out = io.StringIO()
    write(report.__class__(**{**report.__dict__, "affected": affected}), "json", json_out)
    doc = json.loads(json_out.getvalue())
    assert len(doc["affected_recipients"]["recipients"]) == 155
    [orphan] = [f for f in doc["findings"] if f["id"] == "FB-ORPHAN-DN"]
    assert "5 of 152 shown" in orphan["summary"]


def test_affected_from_the_command_line(tmp_path):
    target = tmp_path / "affected.csv"
    result = subprocess.run([sys.executable, "-m", "exops", "check", "--bundle", str(LITWARE),
                             "--affected", str(target)], capture_output=True, text=True)
    assert result.returncode == 2 and "wrote 155 of 155 affected recipients" in result.stderr
    assert len(target.read_text().splitlines()) == 156


def test_many_orphaned_prefixes_are_grouped_beyond_a_limit(tmp_path):
    ldifs = (str(PARTIAL / "config-only.ldf"), str(users_ldif(tmp_path / "u.ldf", 300)))
    facts, source = gather_facts(ldif=ldifs)
    found = [f for f in run_checks(facts, source).findings if f.check_id == "FB-ORPHAN-DN"]
    assert len(found) == 21 and found[-1].target == "10 more orphaned prefixes"
    assert "100 mailboxes" in found[-1].summary
    assert len(list(affected_recipients(facts, ldif_entries(ldifs), "t"))) == 300


def test_logs_alone_give_a_json_report_without_an_affected_list(tmp_path):
    result = subprocess.run([sys.executable, "-m", "exops", "check", "--evtx",
                             str(LITWARE / "logs" / "L12EX1-Application.evtx"), "--format", "json"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "affected_recipients" not in json.loads(result.stdout)


def test_a_bundle_collected_live_says_it_holds_counts_not_recipients(tmp_path):
    from exops.sources.bundle_writer import write_bundle
    facts, _ = gather_facts(bundle=str(LITWARE))
    bundle = write_bundle(tmp_path / "live", facts=facts)
    result = subprocess.run([sys.executable, "-m", "exops", "check", "--bundle", str(bundle), "--format", "json",
                             "--affected", str(tmp_path / "a.csv")], capture_output=True, text=True)
    assert result.returncode == 2 and "collected live keeps counts" in result.stderr
    assert "affected_recipients" not in json.loads(result.stdout)
