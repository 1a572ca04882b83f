"""One large LDAP search read as disjoint partitions on parallel connections.

A single paged search is a conversation: the client asks for a page, the server builds it, the
client decodes it, then asks for the next. Neither side works while the other does. Split the
same search into partitions that match every object exactly once, read them on several
connections at a time, and the server builds one page while the client decodes another (and a
DC that serves connections on several cores, as Active Directory does, builds several at once).

The partitions are ranges of `uSNCreated`: an integer every Active Directory object carries from
its creation and never changes, so an object created or modified during the scan still falls in
exactly one range; the first range is open below and the last one open above, so together they
hold every value. They are cut at the quantiles of a small sample of the objects' own USNs, so
that each holds about as many objects however the directory grew (one bulk import fills a narrow
band of USNs). An object without `uSNCreated` (none exists in AD or Samba) would match no range;
the lab tests compare the partitioned scan with the single search entry for entry.

Pages go from the connections' threads to the caller through a queue a few pages deep, so memory
stays flat whatever the size of the directory; the caller folds them in its own thread.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing

# Reads the partitions it is handed (clauses to AND to the search filter) on its own connection,
# yielding one list of entries per page, and stops between pages once the event is set.
PartitionReader = Callable[[Iterable[str], threading.Event], Iterator[list]]

_DONE = object()
POLL = 0.05   # seconds between looks at the cancel and stop events while waiting on a queue


def usn_ranges(sample: Sequence[int], count: int) -> list[tuple[int | None, int | None]]:
    """Up to `count` (low, high) uSNCreated ranges, both ends included, cut at the quantiles of
    `sample` (the uSNCreated of some of the objects to split) so that they hold about as many
    objects each: consecutive, the first open below and the last open above (None), so that
    together they hold every integer exactly once, whatever the sample. No split (an empty
    list) when the sample gives nothing to cut at."""
    usns = sorted(sample)
    # A cut at the smallest USN would leave the first range without any of the sample.
    cuts = sorted({usns[len(usns) * i // count] for i in range(1, count)} - {usns[0]}) if usns else []
    if not cuts or count < 2:
        return []
    return list(zip([None, *cuts], [cut - 1 for cut in cuts] + [None]))


def usn_clause(low: int | None, high: int | None) -> str:
    """The filter clause matching uSNCreated in [low, high]."""
    parts = ([f"(uSNCreated>={low})"] if low is not None else []) + \
        ([f"(uSNCreated<={high})"] if high is not None else [])
    return parts[0] if len(parts) == 1 else f"(&{''.join(parts)})"


def usn_partitions(sample: Sequence[int], count: int) -> list[str]:
    """The filter clauses of `usn_ranges`."""
    return [usn_clause(low, high) for low, high in usn_ranges(sample, count)]


def parallel_pages(read: PartitionReader, partitions: Sequence[str], connections: int,
                   cancel: threading.Event | None = None) -> Iterator[list]:
    """Every page of every partition, as they arrive, read by up to `connections` threads.

    Each thread runs `read` on its own connection, taking the next partition when it finishes
    one, so an uneven partition does not leave the others idle. A reader's exception is raised
    here; when `cancel` is set, or the caller stops iterating, the threads stop after their
    current page, close their connections and are joined before this returns.
    """
    todo: queue.SimpleQueue[str] = queue.SimpleQueue()
    for clause in partitions:
        todo.put(clause)
    # At most 2 x connections + 1 pages exist at once: one being read per connection, as many
    # waiting here, one being folded by the caller.
    ready: queue.Queue = queue.Queue(maxsize=connections)
    stop = threading.Event()

    def clauses() -> Iterator[str]:
        while not stop.is_set():
            try:
                yield todo.get_nowait()
            except queue.Empty:
                return

    def hand_over(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=POLL)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            with closing(read(clauses(), stop)) as pages:
                for page in pages:
                    if not hand_over(page):
                        return
            hand_over(_DONE)
        except BaseException as exc:   # raised in the caller's thread, where it belongs
            hand_over(exc)

    threads = [threading.Thread(target=work, name=f"ldap-partition-{n}", daemon=True)
               for n in range(min(connections, len(partitions)))]
    for thread in threads:
        thread.start()
    try:
        running = len(threads)
        while running:
            if cancel is not None and cancel.is_set():
                return
            try:
                item = ready.get(timeout=POLL)
            except queue.Empty:
                continue
            if item is _DONE:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.set()
        for thread in threads:
            thread.join()
