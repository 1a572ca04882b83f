"""F5 BIG-IP through iControl REST with token auth (`POST /mgmt/shared/authn/login`, then
`X-F5-Auth-Token`; the token is deleted on close).

Read: virtuals (address, persistence profile, SNAT), pools (load balancing mode, monitor,
slowRampTime), members and their stats (`serverside.curConns`, `status.availabilityState`),
the pool's monitor for its send string (the health URL). Change: PATCH a member, as
`bigip_pool_member` does: drain `{"session":"user-disabled"}` (persistent clients still
accepted), maintenance `{"state":"user-down","session":"user-disabled"}` (forced offline),
ready `{"state":"user-up","session":"user-enabled"}`, weight as `ratio`.
"""
from __future__ import annotations

import json
import re
from urllib.parse import quote

from exops.config import BalancerSettings, secret
from exops.facts.loadbalancer import Balancer, RealServer, VirtualService
from exops.sources.loadbalancers.base import BalancerError, find_member
from exops.sources.loadbalancers.rest import RestDriver

TM = "/mgmt/tm/ltm"
MODES = {"round-robin": "round-robin", "least-connections-member": "least-connection",
         "least-connections-node": "least-connection"}
PERSIST = {"source_addr": "source-ip"}
CHANGES = {"drain": {"session": "user-disabled"},
           "maint": {"state": "user-down", "session": "user-disabled"},
           "ready": {"state": "user-up", "session": "user-enabled"}}
_SEND = re.compile(r"^(GET|HEAD|POST|OPTIONS) (\S+)")


def path_name(full_path: str) -> str:
    """`/Common/Exchange-RPC` -> `~Common~Exchange-RPC`, as iControl REST addresses objects."""
    return quote(full_path.replace("/", "~"), safe="~:")


def nested(stats: dict) -> dict:
    """The counters of a stats answer: under `entries`, keyed by the object's stats URL, then
    `nestedStats.entries` (the shape of BIG-IP v12 and later)."""
    for entry in stats.get("entries", {}).values():
        return entry.get("nestedStats", {}).get("entries", {})
    return {}


class F5Driver(RestDriver):
    kind = "f5"

    def __init__(self, settings: BalancerSettings):
        super().__init__(settings)
        self.token: str | None = None

    def _login(self) -> None:
        password = secret(self.settings.password_env, f"F5 {self.name}") or ""
        body = json.dumps({"username": self.settings.user or "admin", "password": password,
                           "loginProviderName": "tmos"}).encode()
        status, reply = self.client.request("POST", "/mgmt/shared/authn/login",
                                            {"Content-Type": "application/json"}, body)
        if status != 200:
            raise BalancerError(f"F5 {self.name}: login as {self.settings.user or 'admin'} refused ({status})")
        self.token = json.loads(reply)["token"]["token"]

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        for attempt in (1, 2):
            if self.token is None:
                self._login()
            headers = {"X-F5-Auth-Token": self.token or "", "Content-Type": "application/json"}
            status, reply = self.client.request(method, path, headers, json.dumps(body).encode() if body else None)
            if status == 401 and attempt == 1:
                self.token = None          # expired: log in once more
                continue
            try:
                data = json.loads(reply) if reply else {}
            except ValueError:
                raise BalancerError(f"F5 {self.name} {path}: not JSON (HTTP {status})") from None
            if status >= 400:
                raise BalancerError(f"F5 {self.name} {method} {path}: {data.get('message', status)}")
            return data
        raise BalancerError(f"F5 {self.name}: the token was refused twice")

    def read(self) -> Balancer:
        pools = {p["fullPath"]: p for p in self._call("GET", f"{TM}/pool").get("items", [])}
        services, snat = [], []
        for virtual in self._call("GET", f"{TM}/virtual").get("items", []):
            pool = pools.get(virtual.get("pool", ""), {})
            snat.append(virtual.get("sourceAddressTranslation", {}).get("type", "none") != "none")
            services.append(self._service(virtual, pool))
        return Balancer(name=self.name, kind=self.kind, admin_address=f"{self.client.host}:{self.client.port}",
                        source_nat=any(snat) if snat else None, keeps_runtime_state=True, services=tuple(services))

    def _service(self, virtual: dict, pool: dict) -> VirtualService:
        address, _, port = virtual.get("destination", "").rpartition("/")[2].rpartition(":")
        persist = [p.get("name", "") for p in virtual.get("persist", [])]
        servers = []
        if pool:
            base = f"{TM}/pool/{path_name(pool['fullPath'])}/members"
            for member in self._call("GET", base).get("items", []):
                counters = nested(self._call("GET", f"{base}/{path_name(member['fullPath'])}/stats"))
                servers.append(self._member(member, counters))
        return VirtualService(
            name=virtual.get("name", ""), address=address, port=int(port) if port.isdigit() else -1,
            persistence=PERSIST.get(persist[0], "http") if persist else "none",
            scheduling=MODES.get(pool.get("loadBalancingMode", ""), pool.get("loadBalancingMode", "unknown")),
            health_check=self._health(pool.get("monitor", "")), slow_ramp=int(pool.get("slowRampTime", -1)),
            servers=tuple(servers))

    def _member(self, member: dict, counters: dict) -> RealServer:
        name, _, port = member["name"].rpartition(":")
        available = counters.get("status.availabilityState", {}).get("description") == "available"
        admin = ("maint" if member.get("state") == "user-down"
                 else "drain" if member.get("session") == "user-disabled" else "ready")
        status = {"maint": "MAINT", "drain": "DRAIN"}.get(admin, "UP") if available or admin == "maint" else "DOWN"
        return RealServer(
            name=name, address=f"{member.get('address', name)}:{port}", status=status, admin=admin,
            sessions=int(counters.get("serverside.curConns", {}).get("value", 0)), weight=int(member.get("ratio", -1)),
            total=int(counters.get("serverside.totConns", {}).get("value", -1)))

    def _health(self, monitor: str) -> str:
        """The monitor's request line (`GET /owa`) for HTTP(S) monitors; tcp; none."""
        name = monitor.split(" and ")[0].strip()
        if not name:
            return "none"
        for kind in ("https", "http"):
            if kind in name.rsplit("/", 1)[-1]:
                send = self._call("GET", f"{TM}/monitor/{kind}/{path_name(name)}").get("send", "")
                match = _SEND.match(send)
                return f"{match.group(1)} {match.group(2)}" if match else "http"
        return "tcp"

    def _patch(self, service: str, server: str, body: dict) -> None:
        vs, member = find_member(self.read(), service, server)
        port = member.address.rpartition(":")[2]
        self._call("PATCH", f"{TM}/pool/{path_name('/Common/' + vs.name)}/members/"
                            f"{path_name('/Common/' + member.name + ':' + port)}", body)

    def set_admin(self, service: str, server: str, state: str) -> None:
        self.check_state(state)
        self._patch(service, server, CHANGES[state])

    def set_weight(self, service: str, server: str, weight: int) -> None:
        self._patch(service, server, {"ratio": int(weight)})

    def close(self) -> None:
        if self.token:
            try:
                self.client.request("DELETE", f"/mgmt/shared/authz/tokens/{self.token}",
                                    {"X-F5-Auth-Token": self.token})
            except BalancerError:
                pass   # the token times out on its own
            self.token = None
