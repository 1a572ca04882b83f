"""Exchange servers as sources: one per configured server, read together.

One `ExchangeServerSource` per configured server, so a server that is down, refuses the password
or answers garbage leaves only its own evidence unavailable (its checks say UNKNOWN for it) and
the others still count. The servers are still read at the same time: the sources of one
configuration share a `Fanout`, and the first one asked starts every server's collection on a
bounded pool.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from exops.config import Config, ExchangeSettings, ServerSettings, secret
from exops.facts.events import EventFacts
from exops.facts.exchange import ExchangeFacts
from exops.facts.store import Facts
from exops.sources.exchange_executor import ExchangeExecutor
from exops.sources.powershell import RemoteShell, read_server

MAX_PARALLEL = 48                 # servers read at the same time
Activity = Callable[[str], None]


class Fanout:
    """Reads every server of a configuration at once (at most `limit` at a time) when the first
    of their sources is asked, and hands each source its own result."""

    def __init__(self, limit: int = MAX_PARALLEL):
        self.limit = limit
        self.sources: list[ExchangeServerSource] = []
        self._pending: dict[int, Future] = {}
        self._lock = threading.Lock()

    def result(self, source: ExchangeServerSource, cancel: threading.Event | None,
               progress: Activity | None) -> Facts:
        with self._lock:
            if id(source) not in self._pending:
                pool = ThreadPoolExecutor(max_workers=max(1, min(self.limit, len(self.sources))),
                                          thread_name_prefix="winrm")
                for each in self.sources:
                    if id(each) not in self._pending:
                        self._pending[id(each)] = pool.submit(each.collect, cancel, progress)
                pool.shutdown(wait=False)
            future = self._pending.pop(id(source))
        return future.result()


class ExchangeServerSource:
    """One Exchange server: its facts, and the `winrm:<server>` executor for fix steps."""

    provides = (ExchangeFacts, EventFacts)

    def __init__(self, server: ServerSettings, exchange: ExchangeSettings, password: str | None,
                 fanout: Fanout | None = None):
        self.server = server
        self.name = f"winrm {server.name}"
        self.shell = RemoteShell(server, exchange, password)
        self.fanout = fanout or Fanout()
        self.fanout.sources.append(self)

    def facts(self, *, cancel: threading.Event | None = None, progress: Activity | None = None) -> Facts:
        return self.fanout.result(self, cancel, progress)

    def collect(self, cancel: threading.Event | None = None, progress: Activity | None = None) -> Facts:
        return read_server(self.shell, self.server.roles, cancel=cancel, progress=progress)

    def executors(self) -> dict:
        return {f"winrm:{self.server.name}": ExchangeExecutor(self.shell)}

    def close(self) -> None:
        self.shell.close()


def sources_from_config(config: Config) -> list[ExchangeServerSource]:
    """The `exchange` section's sources (entry point `exops.sources: exchange`), one per server."""
    exchange = config.exchange
    password = secret(exchange.password_env, f"the Exchange user {exchange.user}") \
        if exchange.user and exchange.transport != "kerberos" else None
    fanout = Fanout()
    return [ExchangeServerSource(server, exchange, password, fanout) for server in exchange.servers]
