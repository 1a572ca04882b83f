"""The uSNCreated ranges and the parallel page reader, without a directory (the lab tests in
tests/integration/test_directory_partitions.py read real ones)."""
from __future__ import annotations

import threading

import pytest

from exops.sources.ldap_partitions import parallel_pages, usn_clause, usn_ranges


SAMPLES = {
    "spread": list(range(0, 14_121, 7)),
    "one bulk import": list(range(4_100, 4_600)),
    "two imports": [*range(4_100, 4_150), *range(90_000, 90_450)],
    "repeated values": [5] * 200 + [9] * 200,
}


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("count", [2, 4, 8])
def test_ranges_hold_every_usn_exactly_once(name, count):
    ranges = usn_ranges(SAMPLES[name], count)
    assert 2 <= len(ranges) <= count
    assert ranges[0][0] is None and ranges[-1][1] is None     # open below and above
    for (_, high), (low, _) in zip(ranges, ranges[1:]):
        assert low == high + 1                                # consecutive: no gap, no overlap
    assert all(low <= high for low, high in ranges[1:-1])   # none empty


def test_ranges_hold_about_as_many_of_the_sample_each():
    sample = SAMPLES["two imports"]
    sizes = [sum(1 for usn in sample if (low is None or usn >= low) and (high is None or usn <= high))
             for low, high in usn_ranges(sample, 4)]
    assert sizes == [125, 125, 125, 125]


@pytest.mark.parametrize("sample,count", [([], 4), ([7] * 50, 4), (list(range(100)), 1)])
def test_nothing_to_split_is_one_search(sample, count):
    assert usn_ranges(sample, count) == []


def test_clauses():
    assert usn_clause(None, 99) == "(uSNCreated<=99)"
    assert usn_clause(100, 199) == "(&(uSNCreated>=100)(uSNCreated<=199))"
    assert usn_clause(200, None) == "(uSNCreated>=200)"


def _reader(pages_per_partition: int, fail_on: str | None = None, gate: threading.Event | None = None):
    """Reads partition `p` as pages [(p, 0)], [(p, 1)]...; raises on `fail_on`; waits for `gate`."""
    def read(clauses, stop):
        for clause in clauses:
            for n in range(pages_per_partition):
                if gate is not None:
                    gate.wait(5)
                if clause == fail_on:
                    raise ValueError(f"cannot read {clause}")
                yield [(clause, n)]
    return read


def _partition_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("ldap-partition-")]


def test_every_page_of_every_partition_arrives_once():
    partitions = [f"p{n}" for n in range(7)]
    got = [entry for page in parallel_pages(_reader(5), partitions, 3) for entry in page]
    assert sorted(got) == sorted((p, n) for p in partitions for n in range(5))
    assert not _partition_threads()


def test_a_reader_error_is_raised_to_the_caller_and_the_others_stop():
    with pytest.raises(ValueError, match="cannot read p3"):
        list(parallel_pages(_reader(50, fail_on="p3"), [f"p{n}" for n in range(6)], 2))
    assert not _partition_threads()


def test_cancel_stops_every_reader_before_returning():
    cancel, gate = threading.Event(), threading.Event()
    pages = parallel_pages(_reader(10_000, gate=gate), ["a", "b", "c"], 3, cancel)
    gate.set()
    next(pages)
    cancel.set()
    assert list(pages) == []           # nothing after the cancel, not even pages already read
    assert not _partition_threads()


def test_a_caller_that_stops_early_stops_the_readers():
    pages = parallel_pages(_reader(10_000), ["a", "b"], 2)
    next(pages)
    pages.close()
    assert not _partition_threads()
