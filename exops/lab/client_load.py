"""Bounded client load through the lab balancer, from several loopback client addresses.

Each client thread opens a connection from its own source address (so source-IP persistence
has something to spread), sends a line, reads the answer (which names the CAS it reached),
closes, pauses, and does it again until stopped. Every connection counts as made or failed,
with the reason: the proof that a maintenance run did not cost a client anything.
"""
from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

CLIENT_NET = "127.0.3."


@dataclass
class LoadResult:
    made: int = 0
    failed: int = 0
    reached: Counter = field(default_factory=Counter)     # CAS name -> connections answered
    errors: Counter = field(default_factory=Counter)      # reason -> count


class ClientLoad:
    """`clients` threads against address:port, each from 127.0.3.<n>, `pause` s between connections."""

    def __init__(self, address: str, port: int, clients: int = 8, pause: float = 0.02,
                 timeout: float = 5.0, hold: float = 0.0):
        self.address, self.port, self.clients = address, port, clients
        self.pause, self.timeout, self.hold = pause, timeout, hold
        self.result = LoadResult()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> ClientLoad:
        for n in range(self.clients):
            thread = threading.Thread(target=self._client, args=(f"{CLIENT_NET}{n + 1}",), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 1)

    def _client(self, source: str) -> None:
        while not self._stop.is_set():
            try:
                server = self.connect_once(source)
            except OSError as exc:
                with self._lock:
                    self.result.failed += 1
                    self.result.errors[type(exc).__name__ + ": " + str(exc)[:80]] += 1
            else:
                with self._lock:
                    self.result.made += 1
                    self.result.reached[server] += 1
            self._stop.wait(self.pause)

    def connect_once(self, source: str) -> str:
        with socket.create_connection((self.address, self.port), timeout=self.timeout,
                                      source_address=(source, 0)) as conn:
            conn.sendall(b"hello\r\n")
            if self.hold:
                time.sleep(self.hold)
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = conn.recv(256)
                if not chunk:
                    raise ConnectionResetError("closed before answering")
                reply += chunk
        return reply.split(b" ", 1)[0].decode()
