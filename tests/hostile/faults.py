"""Fault injection for the tests: a TCP proxy that stalls or cuts, a crash, a full disk.

Built for every source that speaks TCP, not only the directory: `FaultyProxy` sits in front of
any host:port (the Samba DC's LDAPS today; WinRM endpoints and balancer APIs when they land),
`crash()` ends any process the test started, and `small_disk()` is a folder with no room left.
The proxy listens on a loopback address only; give it the address the server's certificate
names (the lab DC's 127.0.0.N) so that TLS validation still holds through it.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

POLL = 0.05     # seconds between looks at the fault switches while forwarding


class FaultyProxy:
    """Forwards connections from (listen_host, port) to `upstream`, with faults on demand.

    - `stall()`: stop forwarding both ways, connections left open (a hung server);
    - `cut()`: close every connection at once (a server that died, a dropped network);
    - `stall_after` / `cut_after`: do that by itself once the server has sent so many bytes
      on one connection (mid-scan, after the bind and the first pages);
    - `delay`: seconds to wait before forwarding each chunk (a slow server).
    """

    def __init__(self, upstream: tuple[str, int], listen_host: str = "127.0.0.1", *,
                 stall_after: int | None = None, cut_after: int | None = None,
                 delay: float = 0.0):
        if not listen_host.startswith("127."):
            raise ValueError("the fault proxy listens on loopback only")
        self.upstream, self.delay = upstream, delay
        self.stall_after, self.cut_after = stall_after, cut_after
        self._stalled, self._cut = threading.Event(), threading.Event()
        self._listener = socket.create_server((listen_host, 0))
        self._listener.settimeout(POLL)
        self._threads: list[threading.Thread] = []
        self._closing = threading.Event()
        self.connections = 0

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    @property
    def address(self) -> str:
        return f"{self._listener.getsockname()[0]}:{self.port}"

    def stall(self) -> None:
        self._stalled.set()

    def cut(self) -> None:
        self._cut.set()

    def __enter__(self) -> FaultyProxy:
        self._spawn(self._accept)
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._cut.set()
        for thread in self._threads:
            thread.join(5)
        self._listener.close()

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            self.connections += 1
            self._spawn(self._pump, client, server, False)
            self._spawn(self._pump, server, client, True)

    def _pump(self, source: socket.socket, sink: socket.socket, from_server: bool) -> None:
        source.settimeout(POLL)
        sent = 0
        try:
            while not self._cut.is_set():
                if self._stalled.is_set():
                    time.sleep(POLL)
                    continue
                try:
                    data = source.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    break
                if self.delay:
                    time.sleep(self.delay)
                sink.sendall(data)
                if from_server:
                    sent += len(data)
                    if self.cut_after is not None and sent >= self.cut_after:
                        self._cut.set()
                    if self.stall_after is not None and sent >= self.stall_after:
                        self._stalled.set()
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()


def crash(pid: int) -> None:
    """SIGKILL the process `pid` (which the test started) and its process group, as a power
    cut or an OOM kill would end it: no cleanup, no goodbye on open connections."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and running(pid):
        time.sleep(POLL)


def running(pid: int) -> bool:
    """Whether `pid` is a live process: not gone, not a zombie (ended, its parent may not reap
    it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@contextmanager
def small_disk(size: str = "64k") -> Iterator[Path]:
    """A folder on a tmpfs of `size`, so that writes fail with ENOSPC part way; skips the test
    where tmpfs cannot be mounted (not root, no mount)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a small tmpfs needs root and mount")
    folder = Path(tempfile.mkdtemp(prefix="exops-small-disk-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs",
                              str(folder)], capture_output=True)
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)
        folder.rmdir()
