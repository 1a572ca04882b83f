"""The chunk walk spread over a pool of processes: chunks of an .evtx are independent (each
carries its own string and template tables), so batches of them are read in worker processes
and the results merged in file order, giving exactly the LogScan a single process gives.

Workers record the free/busy events they find instead of grouping them; the parent adds them
to its tally in chunk order, so groups, first/last seen and examples come out the same. Only a
few batches are in flight at once, so memory stays flat whatever the log's size. Cancellation
is checked, and progress reported, as each batch comes back in order.
"""
from __future__ import annotations

import multiprocessing
import os
import threading
from collections import Counter, deque
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from exops.sources import evtx_python
from exops.sources.eventtally import Progress, ScanCancelled, ScanTally
from exops.sources.evtx_binxml import TemplateCache
from exops.sources.evtx_format import CHUNK_SIZE
from exops.sources.evtx_walk import (ChunkCounts, Layout, ReadChunk, note_layout, read_layout,
                                     scan_range)

BATCH = 16                           # chunks per task: 1 MiB of log


class PoolUnavailable(Exception):
    """The worker processes could not be started or died (no usable file descriptors for them,
    a main script that cannot be re-imported, a killed worker): the caller reads in one process."""


def chunk_reader(backend: str) -> ReadChunk:
    """The per-chunk reader of an EVTX backend ("python" or "rust")."""
    if backend == "rust":
        from exops.sources import evtx_rust        # imports `evtx`, which may be absent
        return evtx_rust.read_chunk
    return evtx_python.read_chunk


def scan_parallel(path: str, stream: BinaryIO, tally: ScanTally,
                  cancel: threading.Event | None, progress: Progress | None, backend: str,
                  workers: int) -> None:
    """scan_chunks over `workers` processes, which open the log at `path` (`stream`)."""
    layout = read_layout(stream, tally.source)
    batches = [layout.offsets[i:i + BATCH] for i in range(0, len(layout.offsets), BATCH)]
    counts = ChunkCounts()
    try:
        pool = _pool(workers)
    except (OSError, ValueError, RuntimeError) as exc:   # e.g. a stderr with no file descriptor
        raise PoolUnavailable(str(exc)) from None
    waiting = iter(batches)
    pending: deque[tuple[range, Future]] = deque()

    def submit(more: Iterable[range]) -> None:
        for batch in more:
            try:
                future = pool.submit(_scan_batch, path, tally.source, layout, batch, backend,
                                     frozenset(tally.event_ids))
            except (BrokenProcessPool, OSError, ValueError, RuntimeError) as exc:
                _POOLS.pop(workers, None)
                raise PoolUnavailable(str(exc)) from None
            pending.append((batch, future))
    submit(_take(waiting, 2 * workers))
    try:
        while pending:
            batch, future = pending.popleft()
            try:
                result = future.result()
            except BrokenProcessPool as exc:
                _POOLS.pop(workers, None)
                raise PoolUnavailable(str(exc)) from None
            if cancel is not None and cancel.is_set():
                raise ScanCancelled(tally.source)
            result.merge_into(tally, counts)
            submit(_take(waiting, 1))
            if progress is not None:
                progress(min(batch[-1] + CHUNK_SIZE, layout.size), layout.size)
    finally:
        for _, future in pending:        # on cancel or failure: nothing more is started
            future.cancel()
    note_layout(tally, layout, counts)


_POOLS: dict[int, ProcessPoolExecutor] = {}


def _pool(workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` processes, kept for the next log (a bundle holds several): starting
    one costs more than reading a small log. Spawned, not forked: callers run scans in threads.
    """
    if workers not in _POOLS:
        _POOLS[workers] = ProcessPoolExecutor(workers,
                                              mp_context=multiprocessing.get_context("spawn"))
    return _POOLS[workers]


def _take(items, count: int) -> list:
    return [item for _, item in zip(range(count), items)]


@dataclass
class _Batch:
    """What a worker read from its chunks, in order."""

    records_read: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    remarks: Counter[str] = field(default_factory=Counter)
    events: list[dict[str, Any]] = field(default_factory=list)
    counts: ChunkCounts = field(default_factory=ChunkCounts)

    def merge_into(self, tally: ScanTally, counts: ChunkCounts) -> None:
        tally.records_read += self.records_read
        tally.skipped.update(self.skipped)
        tally.remarks.update(self.remarks)
        for fields in self.events:
            tally.add(**fields)
        counts.merge(self.counts)


class _Recorder(ScanTally):
    """A worker's tally: keeps each candidate's fields for the parent to add in order."""

    def __init__(self, source: str, event_ids: frozenset[int]):
        super().__init__(source)
        self.event_ids = event_ids
        self.events: list[dict[str, Any]] = []

    def add(self, **fields: Any) -> None:
        self.events.append(fields)


def _scan_batch(path: str, source: str, layout: Layout, offsets: range, backend: str,
                event_ids: frozenset[int]) -> _Batch:
    recorder = _Recorder(source, event_ids)
    stream, templates = _open_log(path)
    counts = scan_range(stream, layout, offsets, recorder, chunk_reader(backend),
                        templates=templates)
    return _Batch(recorder.records_read, recorder.skipped, recorder.remarks, recorder.events,
                  counts)


_open: tuple[tuple, BinaryIO, TemplateCache] | None = None   # in a worker: the log it reads


def _open_log(path: str) -> tuple[BinaryIO, TemplateCache]:
    """The worker's open log at `path` and the templates parsed from it so far, kept between
    batches (parsing every template again for each batch took a third of the time); a file
    that changed, or another log, is opened afresh and the last one closed."""
    global _open
    status = os.stat(path)
    key = (path, status.st_ino, status.st_size, status.st_mtime_ns)
    if _open is None or _open[0] != key:
        if _open is not None:
            _open[1].close()
        stream = open(path, "rb")                 # noqa: SIM115 - kept open between batches
        _open = (key, stream, TemplateCache(stream))
    return _open[1], _open[2]
