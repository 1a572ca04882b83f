"""KEMP LoadMaster through its RESTful API v1 (`/access/<command>`, XML), HTTP Basic auth.

Read: `listvs` (services with their real servers), `stats` (sessions: `ActivConns`, and
`Conns`, `Persist`), `get?param=slowstart`. Change: `modrs ... enable=y|n` and `weight=`.
KEMP has no drain state of its own: a disabled real server takes no new clients (persistent
ones included) and its sessions end by themselves, which is KEMP's own drain recipe; so drain
and maintenance both disable it, and the wait for sessions is the engine's.
Real servers are named by their `DnsName`'s first label (L12EX1) when the LoadMaster has one,
else by address.
"""
from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

from exops.config import BalancerSettings, secret
from exops.facts.loadbalancer import Balancer, RealServer, VirtualService
from exops.sources.loadbalancers.base import BalancerError, find_member
from exops.sources.loadbalancers.rest import RestDriver

PERSISTENCE = {"src": "source-ip", "none": "none", "": "none"}     # every other mode is HTTP-level
SCHEDULING = {"rr": "round-robin", "lc": "least-connection", "wrr": "round-robin", "wlc": "least-connection"}
STATUS = {"Up": "UP", "Down": "DOWN", "Disabled": "MAINT"}
METHODS = {"0": "HEAD", "1": "GET", "2": "POST"}


def _text(element: ET.Element, tag: str, default: str = "") -> str:
    found = element.find(tag)
    return (found.text or "").strip() if found is not None else default


def _int(element: ET.Element, tag: str, default: int = -1) -> int:
    value = _text(element, tag)
    return int(value) if value.lstrip("-").isdigit() else default


def parse_response(body: bytes, what: str) -> ET.Element:
    """The `<Data>` of a success, or the `<Error>` of a failure as a BalancerError."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise BalancerError(f"KEMP {what}: not the API's XML ({exc})") from None
    if root.get("code") != "ok":
        raise BalancerError(f"KEMP {what}: {_text(root, 'Error') or root.get('stat', 'failed')}")
    data = root.find("Success/Data")
    return data if data is not None else ET.Element("Data")


class KempDriver(RestDriver):
    kind = "kemp"

    def __init__(self, settings: BalancerSettings):
        super().__init__(settings)
        self._auth: str | None = None

    def _call(self, command: str, **query: object) -> ET.Element:
        if self._auth is None:
            password = secret(self.settings.password_env, f"KEMP {self.name}") or ""
            token = base64.b64encode(f"{self.settings.user or 'bal'}:{password}".encode()).decode()
            self._auth = f"Basic {token}"
        path = f"/access/{command}" + (f"?{urlencode(query)}" if query else "")
        status, body = self.client.request("GET", path, {"Authorization": self._auth})
        if status == 401:
            raise BalancerError(f"KEMP {self.name}: user {self.settings.user or 'bal'} was refused (401)")
        return parse_response(body, command)

    def read(self) -> Balancer:
        stats = {(_text(rs, "VSIndex"), _text(rs, "RSIndex")): rs for rs in self._call("stats").iter("Rs")}
        slowstart = _int(self._call("get", param="slowstart"), "slowstart", 0)
        services, transparent = [], []
        for vs in self._call("listvs").iter("VS"):
            transparent.append(_text(vs, "Transparent") == "Y")
            services.append(self._service(vs, stats, slowstart))
        return Balancer(name=self.name, kind=self.kind, admin_address=f"{self.client.host}:{self.client.port}",
                        source_nat=not all(transparent) if transparent else None, keeps_runtime_state=True,
                        services=tuple(services))

    def _service(self, vs: ET.Element, stats: dict, slowstart: int) -> VirtualService:
        check, url = _text(vs, "CheckType"), _text(vs, "CheckUrl")
        health = (f"{METHODS.get(_text(vs, 'CheckUseGet'), 'HEAD')} {url or '/'}" if check in ("http", "https")
                  else "tcp" if check in ("tcp", "icmp") else check or "none")
        scheduling = SCHEDULING.get(_text(vs, "Schedule"), _text(vs, "Schedule"))
        servers = []
        for rs in vs.iter("Rs"):
            counters = stats.get((_text(rs, "VSIndex"), _text(rs, "RsIndex")), ET.Element("Rs"))
            dns = _text(rs, "DnsName")
            servers.append(RealServer(
                name=dns.split(".", 1)[0].upper() if dns else _text(rs, "Addr"),
                address=f"{_text(rs, 'Addr')}:{_text(rs, 'Port')}", status=STATUS.get(_text(rs, "Status"), "DOWN"),
                admin="ready" if _text(rs, "Enable") == "Y" else "maint", sessions=_int(counters, "ActivConns", 0),
                weight=_int(rs, "Weight"), total=_int(counters, "Conns")))
        return VirtualService(
            name=_text(vs, "NickName") or f"{_text(vs, 'VSAddress')}:{_text(vs, 'VSPort')}",
            address=_text(vs, "VSAddress"), port=_int(vs, "VSPort"),
            persistence=PERSISTENCE.get(_text(vs, "Persist"), "http"), scheduling=scheduling,
            health_check=health, slow_ramp=slowstart, servers=tuple(servers))

    def _modify(self, service: str, server: str, **change: object) -> None:
        vs, member = find_member(self.read(), service, server)
        host, _, port = member.address.rpartition(":")
        self._call("modrs", vs=vs.address, port=vs.port, prot="tcp", rs=host, rsport=port, **change)

    def set_admin(self, service: str, server: str, state: str) -> None:
        self.check_state(state)
        self._modify(service, server, enable="y" if state == "ready" else "n")

    def set_weight(self, service: str, server: str, weight: int) -> None:
        self._modify(service, server, weight=int(weight))
