"""HAProxy through its runtime API (the admin socket, UNIX or TCP), read by column name.

`show stat` gives health, sessions and weights; `show servers state` the admin state (bits:
drain 0x08/0x10, maintenance 0x01/0x02/0x04/0x20/0x40); `show sess` the clients of each
server; `show table` the clients persistence (`stick on src`) sends where. What the runtime
API does not say (the service's address, the health check URL, slow start) comes from the
configuration file when the settings name it (`config:`); without it those read as unknown.

A change set over the socket is lost when HAProxy reloads unless the configuration keeps a
`server-state-file` that is loaded at start: when it does and the file is writable here, every
change is saved to it at once; when not, the balancer's notes say the drain will not survive.
"""
from __future__ import annotations

import csv
import os
import re
import socket
from collections import defaultdict
from pathlib import Path

from exops.config import BalancerSettings
from exops.facts.loadbalancer import UNKNOWN, Balancer, RealServer, VirtualService
from exops.sources.loadbalancers.base import BalancerDriver, BalancerError, BalancerUnreachable, NotFound
from exops.sources.loadbalancers.haproxy_config import HAProxyConfig, read_config, scheduling

TIMEOUT = 5.0
MAX_REPLY = 32 * 1024 * 1024
MAINT_BITS, DRAIN_BITS = 0x01 | 0x02 | 0x04 | 0x20 | 0x40, 0x08 | 0x10
COMMANDS = {"ready": "ready", "drain": "drain", "maint": "maint"}
_SESSION = re.compile(r"\bsrc=(\S+?)(?::\d+)?\s.*?\bbe=(\S+)\s+srv=(\S+)")
_TABLE = re.compile(r"^# table: (\S+), type: (\S+)")
_ENTRY = re.compile(r"\bkey=(\S+).*?\bserver_id=(\d+)")


class RuntimeAPI:
    """One command per connection, as HAProxy's CLI expects without `prompt` mode."""

    def __init__(self, where: str):
        self.where = where

    def __call__(self, command: str) -> str:
        try:
            with self._connect() as conn:
                conn.settimeout(TIMEOUT)
                conn.sendall(command.encode() + b"\n")
                chunks, size = [], 0
                while chunk := conn.recv(65536):
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > MAX_REPLY:
                        raise BalancerError(f"HAProxy {self.where}: reply to {command!r} over {MAX_REPLY >> 20} MiB")
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise BalancerUnreachable(f"HAProxy runtime API {self.where}: {exc.strerror}; is HAProxy "
                                      "running with 'stats socket ... level admin'?") from None
        except PermissionError:
            raise BalancerUnreachable(f"HAProxy runtime API {self.where}: permission denied "
                                      "(run as a user allowed on the socket)") from None
        except OSError as exc:
            raise BalancerUnreachable(f"HAProxy runtime API {self.where}: {exc}") from None
        return b"".join(chunks).decode("utf-8", "replace")

    def _connect(self) -> socket.socket:
        if self.where.startswith("tcp://"):
            host, _, port = self.where[6:].rstrip("/").rpartition(":")
            return socket.create_connection((host.strip("[]"), int(port)), timeout=TIMEOUT)
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(TIMEOUT)
        try:
            conn.connect(self.where)
        except OSError:
            conn.close()
            raise
        return conn


def parse_stat(text: str) -> list[dict[str, str]]:
    """`show stat` CSV as rows keyed by column name (the header line starts with '# ')."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("# "):
        raise BalancerError(f"HAProxy: 'show stat' did not answer with its CSV header ({text[:80]!r})")
    return list(csv.DictReader([lines[0][2:], *lines[1:]]))


def parse_servers_state(text: str) -> list[dict[str, str]]:
    """`show servers state`: a version line, a '# ' header of names, then space-separated rows."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = next((line[2:].split() for line in lines if line.startswith("# ")), None)
    if header is None:
        raise BalancerError(f"HAProxy: 'show servers state' gave no header ({text[:80]!r})")
    return [dict(zip(header, line.split())) for line in lines if not line.startswith("#") and " " in line]


def admin_state(bits: int) -> str:
    return "maint" if bits & MAINT_BITS else "drain" if bits & DRAIN_BITS else "ready"


def status_word(status: str) -> str:
    """`UP 1/2` (going down) and `DOWN 1/2` (coming up) are still UP and DOWN; `no check` stays."""
    return status if status.startswith("no ") else status.split(" ", 1)[0]


def number(value: str | None, default: int = -1) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


class HAProxyDriver(BalancerDriver):
    kind = "haproxy"
    capabilities = frozenset({"drain", "maint", "ready", "weight", "shutdown"})

    def __init__(self, settings: BalancerSettings):
        super().__init__(settings)
        where = settings.socket or settings.url or ""
        self.api = RuntimeAPI(where)
        self.config_path = settings.config

    def config(self) -> HAProxyConfig | None:
        if not self.config_path:
            return None
        try:
            return read_config(self.config_path)
        except OSError as exc:
            raise BalancerError(f"HAProxy configuration {self.config_path}: {exc.strerror}") from None

    # ------------------------------------------------------------ reading

    def read(self) -> Balancer:
        config = self.config()
        rows = parse_stat(self.api("show stat"))
        admin = {(r["be_name"], r["srv_name"]): r for r in parse_servers_state(self.api("show servers state"))}
        clients = self._clients()
        sticky = self._sticky(admin)
        members: dict[str, list[RealServer]] = defaultdict(list)
        backends: dict[str, dict[str, str]] = {}
        for row in rows:
            if row["svname"] == "BACKEND":
                backends[row["pxname"]] = row
            elif row["svname"] != "FRONTEND":
                key = (row["pxname"], row["svname"])
                state = admin.get(key, {})
                members[row["pxname"]].append(RealServer(
                    name=row["svname"], address=row.get("addr", ""), status=status_word(row["status"]),
                    admin=admin_state(number(state.get("srv_admin_state"), 0)),
                    sessions=number(row["scur"], 0),
                    weight=number(state.get("srv_uweight"), number(row["weight"])),   # stat shows 0 in MAINT
                    total=number(row["stot"]), check=row.get("check_status", ""),
                    since=number(row.get("lastchg")),
                    clients=tuple(sorted(clients.get(key, ()))), sticky_clients=tuple(sorted(sticky.get(key, ())))))
        services = self._services(config, backends, members)
        return Balancer(
            name=self.name, kind=self.kind, admin_address=self._admin_address(config),
            source_nat=None if config is None else not any(p.transparent for p in config.proxies),
            keeps_runtime_state=None if config is None else config.keeps_runtime_state,
            services=tuple(services), notes=self._notes(config))

    def _services(self, config: HAProxyConfig | None, backends: dict, members: dict) -> list[VirtualService]:
        if config is None:   # the runtime API alone: one service per backend, address unknown
            return [VirtualService(name=name, scheduling=scheduling(row.get("algo")),
                                   health_check=_check_kind(members.get(name, [])),
                                   servers=tuple(members.get(name, ())))
                    for name, row in backends.items()]
        out = []
        for listener, backend in config.services():
            host, _, port = listener.binds[0].rpartition(":")
            be = backend or listener
            out.append(VirtualService(
                name=listener.name, address=host, port=number(port), persistence=be.persistence,
                scheduling=scheduling(be.balance), health_check=be.health_check, slow_ramp=be.slowstart,
                servers=tuple(members.get(be.name, ()))))
        return out

    def _clients(self) -> dict[tuple[str, str], set[str]]:
        out: dict[tuple[str, str], set[str]] = defaultdict(set)
        for match in _SESSION.finditer(self.api("show sess")):
            out[(match.group(2), match.group(3))].add(match.group(1))
        return out

    def _sticky(self, admin: dict) -> dict[tuple[str, str], set[str]]:
        """Stick-table keys by the server they stick to (tables are named after their proxy)."""
        ids = {(be, row["srv_id"]): srv for (be, srv), row in admin.items()}
        out: dict[tuple[str, str], set[str]] = defaultdict(set)
        for line in self.api("show table").splitlines():
            match = _TABLE.match(line)
            if not match:
                continue
            table = match.group(1).rstrip(",")
            for entry in _ENTRY.finditer(self.api(f"show table {table}")):
                server = ids.get((table, entry.group(2)))
                if server:
                    out[(table, server)].add(entry.group(1))
        return out

    def _admin_address(self, config: HAProxyConfig | None) -> str:
        where = self.settings.url or ""
        if where.startswith("tcp://"):
            return where[6:].rstrip("/")
        if config is not None and (config.stats_binds or config.admin_sockets):
            return (config.stats_binds or config.admin_sockets)[0]
        return ""

    def _notes(self, config: HAProxyConfig | None) -> tuple[str, ...]:
        if config is None:
            return ("no configuration file given (config:): service addresses, health check URLs "
                    "and slow start are unknown, and whether a drain survives a reload",)
        if not config.keeps_runtime_state:
            return ("a drain or maintenance set over the runtime API is lost when HAProxy reloads: "
                    "its configuration has no server-state-file loaded at start",)
        return ()

    # ------------------------------------------------------------ changing

    def backend_of(self, service: str) -> str:
        config = self.config()
        if config is None:
            return service
        for listener, backend in config.services():
            if listener.name.casefold() == service.casefold():
                return (backend or listener).name
        raise NotFound(f"{self.name}: no virtual service {service!r} in {self.config_path}")

    def _set(self, command: str) -> None:
        reply = self.api(command).strip()
        if reply:
            raise BalancerError(f"HAProxy refused {command!r}: {reply.splitlines()[0][:200]}")
        self._save_state()

    def set_admin(self, service: str, server: str, state: str) -> None:
        self.check_state(state)
        self._set(f"set server {self.backend_of(service)}/{server} state {COMMANDS[state]}")

    def set_weight(self, service: str, server: str, weight: int) -> None:
        self._set(f"set server {self.backend_of(service)}/{server} weight {int(weight)}")

    def shutdown_sessions(self, service: str, server: str) -> None:
        self._set(f"shutdown sessions server {self.backend_of(service)}/{server}")

    def _save_state(self) -> None:
        """Keep runtime changes across a reload: write `show servers state` where HAProxy loads it."""
        config = self.config()
        if config is None or not config.keeps_runtime_state:
            return
        path = Path(config.state_file)
        if not path.is_absolute() and self.config_path:
            path = Path(self.config_path).parent / path
        if not os.access(path.parent, os.W_OK):
            return
        state = self.api("show servers state")
        tmp = path.with_name(path.name + ".exops")
        tmp.write_text(state)
        tmp.replace(path)


def _check_kind(servers: list[RealServer]) -> str:
    checks = {s.check[:2] for s in servers if s.check}
    if not checks:
        return "none" if servers else UNKNOWN
    return "http" if "L7" in checks else "tls" if "L6" in checks else "tcp"
