"""Read Exchange free/busy events out of an event log: .evtx files or `wevtutil qe /f:xml` exports.

A log is evidence, and damaged logs are common (dirty shutdowns, VSS copies, truncated exports),
so a scan never stops at the first bad record: whatever can be read is read, and whatever cannot
is counted in `LogScan.skipped` under a reason a person can act on. Only a file that is not a log
at all raises `EventLogError`.

The EVTX backends give the same `LogScan`: pure Python (always there) and one built on the
Rust-based `evtx` package (when installed), two independent decoders behind one walk of the
file; and `python-evtx`, the reference parser, for an analyst who wants a second opinion on a
suspicious result (slow, and it stops where the log is damaged). The free/busy matching and
grouping (`eventtally`) is the one place that decides what a free/busy event is, whatever the
backend or file format.
"""
from __future__ import annotations

import os
import select
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from exops.facts.events import LogScan
from exops.sources import eventxml, evtx_reference
from exops.sources.eventtally import (  # noqa: F401  (re-exported: the API callers import)
    FREE_BUSY_EVENT_IDS, EventLogError, Progress, ScanCancelled, ScanTally)
from exops.sources.evtx_format import CHUNK_SIZE, HEADER_SIZE
from exops.sources.evtx_parallel import PoolUnavailable, chunk_reader, scan_parallel
from exops.sources.evtx_walk import scan_chunks

BACKENDS = ("auto", "python", "rust", "python-evtx")
PIPE_TIMEOUT = 30.0                  # seconds a pipe may stay silent before the scan gives up
MAX_PIPED = 4 << 30                  # a pipe is copied to a temporary file, up to this size
# Chunks (256 MiB) from which a log is read by several processes: starting them costs about
# 0.5 s, and the sieve reads about 150 MB/s on one core (docs/performance.md).
PARALLEL_FROM = 4096
_PIPE_BLOCK = 1 << 20


def scan_log(path: str | Path, *, backend: str = "auto", cancel: threading.Event | None = None,
             progress: Progress | None = None, workers: int | None = None) -> LogScan:
    """Count the records of one log and group its free/busy events.

    `backend` chooses the EVTX reader ("python", "rust", "python-evtx", or "auto": Rust when
    importable); XML exports are always read with the standard library. `cancel` is checked
    between chunks (EVTX) or 64 KiB blocks (XML), `progress(done_bytes, total_bytes)` is called
    as often. Raises EventLogError for a file that is not a log, ScanCancelled once `cancel` is
    set. A log that yields no record still returns a LogScan, whose notes say why.

    An .evtx of PARALLEL_FROM chunks or more is read by `workers` processes (every core unless
    told), with the same result as one process gives.
    """
    path = Path(path)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    with open_log(path) as stream:
        kind = _sniff(path, stream)
        tally = ScanTally(str(path))
        if kind == "xml":
            eventxml.scan(stream, tally, cancel, progress)
            return tally.result("xml")
        chosen = _evtx_backend(backend)
        if chosen == "python-evtx":
            evtx_reference.scan(stream, tally, cancel, progress)
        elif _workers(stream, workers) > 1:
            # the workers open the file themselves: the log, or the copy of what a pipe gave
            named = stream.name if isinstance(stream.name, str) else os.path.abspath(path)
            trial = ScanTally(str(path))
            try:
                scan_parallel(named, stream, trial, cancel, progress, chosen, _workers(stream, workers))
                tally = trial
            except PoolUnavailable as exc:   # the same records, read in this process instead
                tally.note(f"read in one process: the worker processes could not run ({exc})")
                scan_chunks(stream, tally, cancel, progress, chunk_reader(chosen))
        else:
            scan_chunks(stream, tally, cancel, progress, chunk_reader(chosen))
        return tally.result(chosen)


def rust_available() -> bool:
    try:
        import evtx  # noqa: F401
    except ImportError:
        return False
    return True


def _evtx_backend(requested: str) -> str:
    """`auto` is exops's own reader: the Rust backend is a cross-check, not a speed-up
    (docs/performance.md), so it runs only when asked for."""
    if requested != "rust":
        return "python" if requested == "auto" else requested
    if not rust_available():
        raise EventLogError("the rust backend needs the `evtx` package (pip install evtx)")
    return "rust"


def _workers(stream: BinaryIO, requested: int | None) -> int:
    if requested is not None:
        return requested
    if os.fstat(stream.fileno()).st_size < HEADER_SIZE + PARALLEL_FROM * CHUNK_SIZE:
        return 1                     # starting the processes would cost more than it saves
    if not _spawnable():
        return 1
    return os.cpu_count() or 1


def _spawnable() -> bool:
    """Spawned workers re-import the main script by its path: a program read from stdin or
    removed since has none, and its pool would break; such a process reads on its own."""
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    return main is None or os.path.isfile(main)


@contextmanager
def open_log(path: Path, timeout: float = PIPE_TIMEOUT) -> Iterator[BinaryIO]:
    """The log, opened once and seekable.

    A pipe or FIFO (`--evtx <(cat log)`, `/dev/stdin`) is copied to a temporary file as it
    arrives: the readers seek, and a pipe read twice loses what the first read took. It is
    opened without blocking, so a FIFO nobody writes to fails after `timeout` seconds of
    silence instead of hanging. Devices and sockets are refused.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise EventLogError(f"{path}: unreadable ({exc.strerror or exc})") from None
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        os.close(fd)
        kind = "Is a directory" if stat.S_ISDIR(mode) else "not a file or a pipe"
        raise EventLogError(f"{path}: unreadable ({kind})")
    if stat.S_ISREG(mode):
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb") as stream:
            yield stream
        return
    with os.fdopen(fd, "rb", buffering=0) as pipe, tempfile.NamedTemporaryFile() as copy:
        _copy_pipe(path, pipe, copy, timeout)
        copy.seek(0)
        yield copy


def _copy_pipe(path: Path, pipe: BinaryIO, copy: BinaryIO, timeout: float) -> None:
    poller = select.poll()
    poller.register(pipe.fileno(), select.POLLIN)
    copied = 0
    while True:
        if not poller.poll(timeout * 1000):
            raise EventLogError(f"{path}: nothing arrived through the pipe for {timeout:g} s "
                                "(does anything write to it?)")
        try:
            block = pipe.read(_PIPE_BLOCK)
        except BlockingIOError:
            continue
        if not block:
            return
        copied += len(block)
        if copied > MAX_PIPED:
            raise EventLogError(f"{path}: more than {MAX_PIPED >> 30} GiB through a pipe; "
                                "save the log to a file and scan that")
        copy.write(block)


def _sniff(path: Path, stream: BinaryIO) -> str:
    """'evtx' or 'xml' from the first bytes, whatever the file is called."""
    try:
        head = stream.read(64)
        stream.seek(0)
    except OSError as exc:
        raise EventLogError(f"{path}: unreadable ({exc.strerror or exc})") from None
    if not head:
        raise EventLogError(f"{path}: empty file; expected an .evtx log or a wevtutil XML export")
    if head.startswith(b"ElfFile\x00"):
        return "evtx"
    if eventxml.looks_like_xml(head):
        return "xml"
    raise EventLogError(f"{path}: not an event log; expected an .evtx file (ElfFile header) "
                        "or a wevtutil XML export (<Event> elements)")
