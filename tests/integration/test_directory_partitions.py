"""The partitioned and the streamed recipient scans read exactly what the single paged search
reads, on litware and on a generated 1,000-mailbox directory (the benchmark's smallest; built
once into the lab cache)."""
from __future__ import annotations

import threading
from collections import Counter

import pytest

from exops.lab.samba import fresh_copy, golden_dc
from exops.lab.scale import scaled_litware
from exops.sources.directory import RECIPIENT_FILTER, DirectoryCancelled, DirectorySource
from exops.sources.entries import ATTRIBUTES

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


def _read(source: DirectorySource, base: str, stream: bool) -> Counter:
    entries = source.stream(base, RECIPIENT_FILTER, ATTRIBUTES) if stream else \
        source.search(base, RECIPIENT_FILTER, ATTRIBUTES)
    return Counter((e.dn, repr(sorted(e.attrs.items()))) for e in entries)


@pytest.mark.parametrize("dc_name", ["litware_dc", "thousand_dc"])
def test_streamed_scan_reads_exactly_the_paged_search(dc_name, request):
    """collect's reader (unpaged from Samba, or paged with the next page asked for early) gives
    the entries ldap3's paged search gives, each once, in pages of any size."""
    dc = request.getfixturevalue(dc_name)
    with DirectorySource(dc.directory_settings(), dc.admin_password, unpaged=False) as paged:
        expected = _read(paged, dc.base_dn, stream=False)
        facts = paged.collect()
    assert set(expected.values()) == {1}
    for unpaged in (True, False):
        for page_size in (1000, 7):
            source = DirectorySource(dc.directory_settings(), dc.admin_password, page_size,
                                     unpaged=unpaged)
            with source:
                assert _read(source, dc.base_dn, stream=True) == expected, (unpaged, page_size)
                assert source.collect() == facts
    with DirectorySource(dc.directory_settings(), dc.admin_password) as source:
        assert source.unpaged    # Samba answers unpaged searches in full


@pytest.mark.parametrize("unpaged", [True, False])
def test_a_stream_left_early_closes_its_connection_and_the_source_reads_again(thousand_dc, unpaged):
    source = DirectorySource(thousand_dc.directory_settings(), thousand_dc.admin_password, 100,
                             unpaged=unpaged)
    with source:
        stream = source.stream(thousand_dc.base_dn, RECIPIENT_FILTER, ["cn"])
        next(stream)
        stream.close()                     # a response is still on the wire
        assert source._conn is None
        cancel = threading.Event()

        def page(progress):
            if progress.phase == "recipients":
                cancel.set()
        with pytest.raises(DirectoryCancelled):
            source.collect(cancel=cancel, progress=page)
        assert source._conn is None
        assert source.collect().recipients_scanned == 1000
