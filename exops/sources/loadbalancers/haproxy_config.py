"""What HAProxy's configuration file says and its runtime API does not: which address and port
each service listens on, its persistence rules, the URL its health check asks for, slow start,
whether the statistics page shares a service's address, and whether runtime changes are kept
across a reload (`server-state-file`).

A reader, not a validator: it understands the keywords those answers need and skips the rest.
`defaults` sections apply to the proxies that follow them, as in HAProxy.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

SECTIONS = ("global", "defaults", "frontend", "backend", "listen")
MAX_CONFIG_BYTES = 8 * 1024 * 1024
_DURATION = re.compile(r"^(\d+)(us|ms|s|m|h|d)?$")
_UNITS = {"us": 1e-6, "ms": 1e-3, None: 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass
class Proxy:
    kind: str                               # frontend | backend | listen | defaults
    name: str
    binds: list[str] = field(default_factory=list)
    default_backend: str | None = None
    balance: str | None = None
    persistence: str = "none"
    httpchk: str | None = None              # "GET /owa"
    tls_check: bool = False
    checked: bool = False                   # some server has `check`
    slowstart: int = 0
    stats: bool = False                     # the statistics page is served here
    transparent: bool = False               # `source ... usesrc clientip`: servers see the client
    loads_state: bool = False               # load-server-state-from-file

    def inherit(self, defaults: Proxy | None) -> Proxy:
        if defaults is not None:
            self.balance, self.httpchk, self.tls_check = defaults.balance, defaults.httpchk, defaults.tls_check
            self.slowstart, self.transparent = defaults.slowstart, defaults.transparent
            self.loads_state, self.persistence = defaults.loads_state, defaults.persistence
        return self

    @property
    def health_check(self) -> str:
        if not self.checked:
            return "none"
        return self.httpchk or ("tls" if self.tls_check else "tcp")


@dataclass
class HAProxyConfig:
    proxies: list[Proxy] = field(default_factory=list)
    state_file: str | None = None
    admin_sockets: list[str] = field(default_factory=list)   # TCP runtime API listeners

    def backend(self, name: str) -> Proxy | None:
        return next((p for p in self.proxies if p.name == name and p.kind in ("backend", "listen")), None)

    def services(self) -> list[tuple[Proxy, Proxy | None]]:
        """(listener, the backend it sends to) for every frontend or listen section that binds."""
        out = []
        for p in self.proxies:
            if p.stats:
                continue   # the statistics page is the balancer's own, not a service
            if p.kind == "listen" and p.binds:
                out.append((p, p))
            elif p.kind == "frontend" and p.binds:
                out.append((p, self.backend(p.default_backend) if p.default_backend else None))
        return out

    @property
    def keeps_runtime_state(self) -> bool:
        return bool(self.state_file) and any(p.loads_state for p in self.proxies if p.kind != "frontend")

    @property
    def stats_binds(self) -> list[str]:
        return [b for p in self.proxies if p.stats for b in p.binds]


def read_config(path: str | Path) -> HAProxyConfig:
    with open(path, "rb") as file:
        text = file.read(MAX_CONFIG_BYTES).decode("utf-8", "replace")
    return parse_config(text)


def parse_config(text: str) -> HAProxyConfig:
    config = HAProxyConfig()
    current: Proxy | None = None
    defaults: Proxy | None = None
    for raw in text.splitlines():
        words = _words(raw)
        if not words:
            continue
        if words[0] in SECTIONS:
            name = words[1] if len(words) > 1 else ""
            if words[0] == "global":
                current = Proxy("global", "")
            elif words[0] == "defaults":
                current = defaults = Proxy("defaults", name)
            else:
                current = Proxy(words[0], name).inherit(defaults)
                config.proxies.append(current)
            continue
        if current is None:
            continue
        if current.kind == "global":
            _global(config, words)
        else:
            _proxy(current, words)
    return config


def _words(line: str) -> list[str]:
    line = line.split("#", 1)[0].strip()
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


def _global(config: HAProxyConfig, words: list[str]) -> None:
    if words[0] == "server-state-file" and len(words) > 1:
        config.state_file = words[1]
    elif words[:2] == ["stats", "socket"] and len(words) > 2 and words[2].startswith(("ipv4@", "ipv6@")) \
            and "admin" in words:
        config.admin_sockets.append(words[2].split("@", 1)[1])


def _proxy(p: Proxy, words: list[str]) -> None:
    key, args = words[0], words[1:]
    if key == "bind" and args:
        p.binds.append(_address(args[0]))
    elif key in ("default_backend", "use_backend") and args and p.default_backend is None:
        p.default_backend = args[0]
    elif key == "balance" and args:
        p.balance = args[0]
        if args[0] == "source":
            p.persistence = "source-ip"
    elif key == "stick" and len(args) >= 2 and args[0] in ("on", "match"):
        p.persistence = "source-ip" if args[1] == "src" else "http"
    elif key == "cookie" and args:
        p.persistence = "http"
    elif key == "option" and args[:1] == ["httpchk"]:
        rest = args[1:]
        p.httpchk = " ".join(rest[:2]) if len(rest) >= 2 else f"OPTIONS {rest[0] if rest else '/'}"
    elif key == "option" and args[:1] == ["ssl-hello-chk"]:
        p.tls_check = True
    elif key == "http-check" and args[:1] == ["send"]:
        method = args[args.index("meth") + 1] if "meth" in args[:-1] else "GET"
        if "uri" in args[:-1]:
            p.httpchk = f"{method} {args[args.index('uri') + 1]}"
    elif key in ("server", "default-server"):
        _server(p, args if key == "default-server" else args[2:])
    elif key == "source" and "usesrc" in args:
        p.transparent = args[args.index("usesrc") + 1:][:1] in (["client"], ["clientip"])
    elif key == "stats" and args[:1] in (["enable"], ["uri"]):
        p.stats = True
    elif key == "http-request" and "use-service" in args and "prometheus-exporter" in " ".join(args):
        p.stats = True
    elif key == "load-server-state-from-file" and args[:1] != ["none"]:
        p.loads_state = True


def _server(p: Proxy, options: list[str]) -> None:
    if "check" in options:
        p.checked = True
    if "check-ssl" in options:
        p.tls_check = True
    if "slowstart" in options[:-1]:
        p.slowstart = max(p.slowstart, duration(options[options.index("slowstart") + 1]))


def duration(value: str) -> int:
    """HAProxy's time format (`10s`, `500ms`, a bare number is milliseconds) in whole seconds."""
    match = _DURATION.match(value)
    if not match:
        return 0
    return round(int(match.group(1)) * _UNITS[match.group(2)])


def _address(bind: str) -> str:
    """`ipv4@1.2.3.4:443` / `:443` / `*:443` to `1.2.3.4:443` / `0.0.0.0:443`."""
    bind = bind.split("@", 1)[-1]
    host, _, port = bind.rpartition(":")
    return f"{host.strip('[]') if host not in ('', '*') else '0.0.0.0'}:{port}"


def scheduling(balance: str | None) -> str:
    """HAProxy's algorithm in the shared vocabulary; no `balance` line means round robin."""
    balance = balance or "roundrobin"
    return {"roundrobin": "round-robin", "static-rr": "round-robin",
            "leastconn": "least-connection"}.get(balance, balance)
