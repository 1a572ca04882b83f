"""The partitioned recipient scan reads exactly what the single search reads, on litware and on
a generated 1,000-mailbox directory (the benchmark's smallest; built once into the lab cache)."""
from __future__ import annotations

import threading
from collections import Counter

import pytest

from exops.lab.samba import fresh_copy, golden_dc
from exops.lab.scale import scaled_litware
from exops.sources.directory import RECIPIENT_FILTER, DirectoryCancelled, DirectorySource

pytestmark = pytest.mark.samba


@pytest.fixture(scope="module")
def thousand_dc(tmp_path_factory):
    dc = fresh_copy(golden_dc(scaled_litware(1000)), tmp_path_factory.mktemp("scaled") / "dc")
    yield dc.start()
    dc.stop()


def _source(dc, connections: int, page_size: int = 1000) -> DirectorySource:
    return DirectorySource(dc.directory_settings(), dc.admin_password, page_size, connections)


def _partition_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("ldap-partition-")]


@pytest.mark.parametrize("dc_name", ["litware_dc", "thousand_dc"])
def test_partitioned_scan_reads_exactly_the_single_search(dc_name, request):
    dc = request.getfixturevalue(dc_name)
    with _source(dc, 1) as single:
        expected = single.collect()
        dns = Counter(e.dn for e in single.search(dc.base_dn, RECIPIENT_FILTER, ["cn"]))
        with _source(dc, 3) as three:
            partitions = three.recipient_partitions(dc.base_dn)
        per_partition = [sum(1 for _ in single.search(dc.base_dn, f"(&{RECIPIENT_FILTER}{clause})", ["cn"]))
                         for clause in partitions]
    assert len(partitions) == 6
    assert min(per_partition) > expected.recipients_scanned / 12, per_partition   # about even
    assert sum(per_partition) == expected.recipients_scanned
    # small pages and more connections than cores: many pages cross between the threads
    with _source(dc, 3, page_size=50) as parallel:
        assert parallel.collect() == expected
        assert Counter(e.dn for e in parallel.recipients(dc.base_dn)) == dns   # no duplicates
    assert not _partition_threads()


def test_partitioned_scan_reports_progress_and_stops_when_cancelled(thousand_dc):
    source = _source(thousand_dc, 2, page_size=100)
    seen = []
    facts = source.collect(progress=seen.append)
    recipients = [p.entries for p in seen if p.phase == "recipients"]
    assert recipients == sorted(recipients) and recipients[-1] == facts.recipients_scanned == 1000

    pages, cancel = [], threading.Event()

    def page(progress):
        pages.append(progress)
        if progress.phase == "recipients":
            cancel.set()    # as the TUI does when the session closes mid-scan
    with pytest.raises(DirectoryCancelled):
        source.collect(cancel=cancel, progress=page)
    assert len([p for p in pages if p.phase == "recipients"]) == 1
    assert not _partition_threads()      # every partition's connection stopped and closed
    source.close()
