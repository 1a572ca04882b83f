"""Event log scans of `wevtutil qe /f:xml` exports: free/busy grouping, formats, bad input."""
from __future__ import annotations

import threading
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

import pytest

from exops.sources.eventlog import EventLogError, ScanCancelled, scan_log

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "xml"
WEVTUTIL = FIXTURES / "freebusy-wevtutil.xml"
RENDERED = FIXTURES / "freebusy-rendered.xml"
EUROPE = "/o=EUROPE/ou=First Administrative Group"


def group(scan, event_id, computer, dn=EUROPE):
    matches = [g for g in scan.groups if (g.event_id, g.dn.casefold(), g.computer.casefold())
               == (event_id, dn.casefold(), computer.casefold())]
    assert len(matches) == 1, [(g.event_id, g.dn, g.computer) for g in scan.groups]
    return matches[0]


def test_14031_groups_by_admin_group_and_server():
    scan = scan_log(WEVTUTIL)
    assert scan.backend == "xml"
    on_ex1 = group(scan, 14031, "L12EX1.litware.com")
    on_ex2 = group(scan, 14031, "L12EX2.litware.com")
    assert (on_ex1.count, on_ex2.count) == (3, 1)
    assert on_ex1.provider == "MSExchange FreeBusy Assistant"
    assert [e.record_id for e in on_ex1.examples] == [101, 102, 103]


def test_dn_and_server_in_another_case_join_the_same_group():
    on_ex1 = group(scan_log(WEVTUTIL), 14031, "L12EX1.litware.com")
    assert on_ex1.dn == EUROPE                       # the first spelling seen is kept
    assert on_ex1.computer == "L12EX1.litware.com"
    assert [e.dns for e in on_ex1.examples] == [
        (EUROPE,), ("/o=europe/ou=first administrative group",), (EUROPE,)]


def test_dn_is_found_in_any_data_item_or_inside_a_longer_value():
    examples = group(scan_log(WEVTUTIL), 14031, "L12EX1.litware.com").examples
    assert examples[2].message.startswith("bwayne | /o=EUROPE/ou=First Administrative Group/cn=")
    assert examples[2].dns == (EUROPE,)


def test_first_last_seen_and_per_day_are_utc():
    on_ex1 = group(scan_log(WEVTUTIL), 14031, "L12EX1.litware.com")
    assert on_ex1.first_seen == datetime(2011, 8, 9, 10, 0, tzinfo=timezone.utc)
    # 7 or 9 fraction digits are cut, not rounded, to microseconds
    assert on_ex1.examples[1].time == datetime(2011, 8, 9, 16, 30, 0, 123456, tzinfo=timezone.utc)
    assert on_ex1.last_seen == datetime(2011, 8, 10, 8, 0, tzinfo=timezone.utc)
    assert on_ex1.per_day == {"2011-08-09": 2, "2011-08-10": 1}


def test_8207_carries_its_error_codes_and_groups_under_an_empty_dn():
    publish = group(scan_log(WEVTUTIL), 8207, "L12EX2.litware.com", dn="")
    assert publish.provider == "MSExchangeFBPublish"
    assert publish.count == 2
    assert publish.error_codes == ("0x80004005", "0x80070005")
    assert [e.error_code for e in publish.examples] == ["0x80004005", "0x80070005"]


def test_3047_names_the_recreated_folder():
    created = group(scan_log(WEVTUTIL), 3047, "L12EX1.litware.com")
    assert created.provider == "MSExchangeIS Public Store"
    assert created.examples[0].dns == (EUROPE,)


def test_free_busy_id_from_another_provider_is_read_but_not_grouped():
    scan = scan_log(WEVTUTIL)
    assert scan.records_read == 9                    # every event but the one without an ID
    assert all(g.provider.startswith("MSExchange") for g in scan.groups)
    assert sum(g.count for g in scan.groups) == 7


def test_event_without_a_numeric_id_is_skipped_with_its_reason():
    assert scan_log(WEVTUTIL).skipped == {"event without a readable EventID": 1}


def test_rendered_export_in_a_root_element_takes_the_dn_from_the_message():
    scan = scan_log(RENDERED)
    assert scan.records_read == 2
    missing = group(scan, 14031, "L12EX1.litware.com")
    assert missing.examples[0].dns == (EUROPE,)
    assert "could not be found" in missing.examples[0].message
    publish = group(scan, 8207, "L12EX2.litware.com", dn="")
    assert publish.examples[0].message.startswith("Error updating public folder")
    assert publish.error_codes == ("0x80004005",)


def test_utf16_export_written_by_powershell_redirection(tmp_path):
    utf16 = tmp_path / "Application.xml"
    utf16.write_bytes(WEVTUTIL.read_text(encoding="utf-8").encode("utf-16"))   # with a BOM
    assert _summary(scan_log(utf16)) == _summary(scan_log(WEVTUTIL))


def test_format_is_detected_by_content_not_name(tmp_path):
    renamed = tmp_path / "Application.evtx"
    renamed.write_bytes(WEVTUTIL.read_bytes())
    assert _summary(scan_log(renamed)) == _summary(scan_log(WEVTUTIL))


def _summary(scan):
    return scan.records_read, scan.skipped, [
        (g.event_id, g.dn, g.computer, g.count, g.first_seen, g.error_codes, g.per_day,
         [(e.record_id, e.dns, e.message) for e in g.examples]) for g in scan.groups]


def test_malformed_export_names_the_file_and_line():
    with pytest.raises(EventLogError, match=r"malformed\.xml: malformed XML at line 3\b"):
        scan_log(FIXTURES / "malformed.xml")


def test_export_cut_short_is_an_error(tmp_path):
    cut = tmp_path / "cut.xml"
    cut.write_bytes(WEVTUTIL.read_bytes()[:700])
    with pytest.raises(EventLogError, match=r"cut\.xml: malformed XML at line 1"):
        scan_log(cut)


def test_xml_without_events_is_not_an_export(tmp_path):
    other = tmp_path / "settings.xml"
    other.write_text("<configuration><appSettings/></configuration>")
    with pytest.raises(EventLogError, match=r"settings\.xml: XML without <Event> elements"):
        scan_log(other)


def test_progress_reaches_the_file_size_and_cancel_stops_the_scan(tmp_path):
    export = _long_export(tmp_path, 3000)
    calls = []
    scan_log(export, progress=lambda done, total: calls.append((done, total)))
    assert len(calls) > 1
    assert calls[-1] == (export.stat().st_size, export.stat().st_size)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ScanCancelled):
        scan_log(export, cancel=cancel)


def test_memory_does_not_grow_with_the_export(tmp_path):
    small, large = _long_export(tmp_path, 500, "small"), _long_export(tmp_path, 10_000, "large")
    peaks = []
    for export, events in ((small, 500), (large, 10_000)):
        tracemalloc.start()
        scan = scan_log(export)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert scan.records_read == events
    assert peaks[1] < 2 * peaks[0], peaks


def _long_export(folder: Path, events: int, name: str = "long") -> Path:
    """The fixture's events repeated to `events` events (the broken one left out)."""
    lines = [e + "</Event>" for e in WEVTUTIL.read_text().split("</Event>") if "<EventID" in e
             and "not-a-number" not in e]
    path = folder / f"{name}.xml"
    with path.open("w") as out:
        for i in range(events):
            out.write(lines[i % len(lines)] + "\n")
    return path
