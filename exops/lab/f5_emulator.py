"""Lab equipment: an F5 BIG-IP iControl REST subset over HTTPS (lab-CA certificate), driving the
lab's real HAProxy so member connections and health are real.

What exops uses, in the shapes public module code (Ansible's bigip_pool_member, f5-sdk) reads:
`POST /mgmt/shared/authn/login` for a token sent as `X-F5-Auth-Token` (or Basic auth);
`GET /mgmt/tm/ltm/virtual`, `/pool`, `/pool/~Common~<pool>/members`,
`/members/~Common~<member>/stats` (counters under `entries` keyed by the member's stats URL,
then `nestedStats.entries`, numbers as `value` and words as `description`: the quirk golden
tests pin), `/monitor/<type>/~Common~<name>`; `PATCH` a member with `session` and `state`
(user-disabled: drain; user-down: forced offline; user-up/user-enabled: back); `DELETE` a
token to log out. Not checked on a device; nodes are named after the Exchange servers.

Run as `python -m exops.lab.f5_emulator BALANCER_DIR ADDRESS PORT` (user `admin`, password from
$EXOPS_LAB_PASSWORD).
"""
from __future__ import annotations

import hmac
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import unquote, urlsplit

from exops.facts.loadbalancer import Balancer, RealServer, VirtualService
from exops.lab.api_emulator import basic_auth_ok, run_detached, serve_api
from exops.lab.cas_backend import TLSHTTPServer
from exops.lab.haproxy import LabState
from exops.sources.loadbalancers.base import BalancerError
from exops.sources.loadbalancers.haproxy import HAProxyDriver

USER = "admin"
MODES = {"round-robin": "round-robin", "least-connection": "least-connections-member"}
PERSIST = {"source-ip": "source_addr", "http": "cookie"}
MAX_BODY = 64 * 1024
TM = "/mgmt/tm/ltm"
REASONS = {"available": "Pool member is available", "offline": "Pool member has been marked down by a monitor",
           "disabled": "Pool member is available, user disabled"}


def monitor_name(vs: VirtualService) -> tuple[str, str]:
    """(monitor type, name) for a service's health check."""
    if vs.health_check.startswith(("GET", "HEAD", "OPTIONS")):
        return ("https" if vs.port == 443 else "http"), f"{'https' if vs.port == 443 else 'http'}_exchange{vs.port}"
    return ("tcp", "tcp") if vs.health_check != "none" else ("", "")


def member_json(pool: str, m: RealServer) -> dict:
    host, _, port = m.address.rpartition(":")
    name = f"{m.name}:{port}"
    state = "user-down" if m.admin == "maint" else "up" if m.status in ("UP", "DRAIN") else "down"
    session = "user-disabled" if m.admin in ("drain", "maint") else "monitor-enabled"
    return {"kind": "tm:ltm:pool:members:membersstate", "name": name, "partition": "Common",
            "fullPath": f"/Common/{name}", "selfLink": f"https://localhost{TM}/pool/~Common~{pool}/members/~Common~{name}",
            "address": host, "ratio": max(m.weight, 1), "session": session, "state": state}


def member_stats(pool: str, m: RealServer) -> dict:
    host, _, port = m.address.rpartition(":")
    name = f"{m.name}:{port}"
    link = f"https://localhost{TM}/pool/~Common~{pool}/members/~Common~{name}/stats"
    available = "available" if m.status in ("UP", "DRAIN") else "offline"
    enabled = "disabled" if m.admin in ("drain", "maint") else "enabled"
    return {"kind": "tm:ltm:pool:members:membersstats", "selfLink": link, "entries": {link: {"nestedStats": {
        "entries": {"addr": {"description": host}, "port": {"value": int(port)},
                    "serverside.curConns": {"value": m.sessions}, "serverside.totConns": {"value": max(m.total, 0)},
                    "status.availabilityState": {"description": available},
                    "status.enabledState": {"description": enabled},
                    "status.statusReason": {"description": REASONS[available if enabled == "enabled" else enabled]}}}}}}


def virtual_json(vs: VirtualService) -> dict:
    persist = PERSIST.get(vs.persistence)
    return {"kind": "tm:ltm:virtual:virtualstate", "name": vs.name, "partition": "Common",
            "fullPath": f"/Common/{vs.name}", "destination": f"/Common/{vs.address}:{vs.port}",
            "ipProtocol": "tcp", "pool": f"/Common/{vs.name}",
            "sourceAddressTranslation": {"type": "automap"},
            **({"persist": [{"name": persist, "partition": "Common", "tmDefault": "yes"}]} if persist else {})}


def pool_json(vs: VirtualService) -> dict:
    kind, name = monitor_name(vs)
    return {"kind": "tm:ltm:pool:poolstate", "name": vs.name, "partition": "Common", "fullPath": f"/Common/{vs.name}",
            "loadBalancingMode": MODES.get(vs.scheduling, vs.scheduling),
            "monitor": f"/Common/{name}" if name else "", "slowRampTime": max(vs.slow_ramp, 0)}


def collection(kind: str, items: list[dict]) -> dict:
    return {"kind": f"tm:ltm:{kind}:{kind.split(':')[-1]}collectionstate", "items": items}


class F5API:
    def __init__(self, state: LabState, password: str):
        self.driver = HAProxyDriver(state.settings())
        self.password = password
        self.tokens: set[str] = set()
        self.lock = threading.Lock()

    def login(self, body: dict) -> tuple[int, dict]:
        if body.get("username") != USER or not hmac.compare_digest(str(body.get("password", "")), self.password):
            return 401, {"code": 401, "message": "Authentication failed.", "errorStack": []}
        token = secrets.token_hex(16).upper()
        self.tokens.add(token)
        return 200, {"username": USER, "loginProviderName": "tmos",
                     "token": {"token": token, "name": token, "userName": USER, "timeout": 1200}}

    def authorised(self, headers) -> bool:
        if headers.get("X-F5-Auth-Token") in self.tokens:
            return True
        return basic_auth_ok(headers.get("Authorization"), USER, self.password)

    def get(self, path: str) -> tuple[int, dict]:
        balancer = self.driver.read()
        parts = [unquote(p) for p in path[len(TM) + 1:].split("/")] if path.startswith(TM + "/") else []
        if parts == ["virtual"]:
            return 200, collection("virtual", [virtual_json(vs) for vs in balancer.services])
        if parts == ["pool"]:
            return 200, collection("pool", [pool_json(vs) for vs in balancer.services])
        if len(parts) == 3 and parts[0] == "monitor":
            return self._monitor(balancer, parts[1], parts[2])
        if len(parts) >= 3 and parts[0] == "pool" and parts[2] == "members":
            vs = self._pool(balancer, parts[1])
            if vs is None:
                return 404, _not_found(path)
            if len(parts) == 3:
                return 200, collection("pool:members", [member_json(vs.name, m) for m in vs.servers])
            member = self._member(vs, parts[3])
            if member is None or len(parts) > 5 or len(parts) == 5 and parts[4] != "stats":
                return 404, _not_found(path)
            return 200, member_stats(vs.name, member) if len(parts) == 5 else member_json(vs.name, member)
        return 404, _not_found(path)

    def patch(self, path: str, body: dict) -> tuple[int, dict]:
        parts = [unquote(p) for p in path[len(TM) + 1:].split("/")] if path.startswith(TM + "/") else []
        with self.lock:
            balancer = self.driver.read()
            vs = self._pool(balancer, parts[1]) if len(parts) == 4 and parts[0] == "pool" else None
            member = self._member(vs, parts[3]) if vs else None
            if member is None:
                return 404, _not_found(path)
            state, session = body.get("state"), body.get("session")
            if state == "user-down":
                self.driver.set_admin(vs.name, member.name, "maint")
            elif session == "user-disabled":
                self.driver.set_admin(vs.name, member.name, "drain")
            elif state == "user-up" or session == "user-enabled":
                self.driver.set_admin(vs.name, member.name, "ready")
            if "ratio" in body:
                if not isinstance(body["ratio"], int) or not 1 <= body["ratio"] <= 256:
                    return 400, {"code": 400, "message": "ratio must be 1 to 256", "errorStack": []}
                self.driver.set_weight(vs.name, member.name, body["ratio"])
            return 200, member_json(vs.name, self.driver.member(vs.name, member.name))

    def _monitor(self, balancer: Balancer, kind: str, name: str) -> tuple[int, dict]:
        for vs in balancer.services:
            if monitor_name(vs) == (kind, name.removeprefix("~Common~")):
                method, _, url = vs.health_check.partition(" ")
                send = f"{method} {url} HTTP/1.1\\r\\nHost: {vs.address}\\r\\nConnection: Close\\r\\n\\r\\n" if url else ""
                return 200, {"kind": f"tm:ltm:monitor:{kind}:{kind}state", "name": name.removeprefix("~Common~"),
                             "interval": 5, "timeout": 16, "send": send, "recv": "200 OK" if url else ""}
        return 404, _not_found(f"{TM}/monitor/{kind}/{name}")

    @staticmethod
    def _pool(balancer: Balancer, name: str) -> VirtualService | None:
        return next((vs for vs in balancer.services if f"~Common~{vs.name}" == name), None)

    @staticmethod
    def _member(vs: VirtualService, name: str) -> RealServer | None:
        return next((m for m in vs.servers if f"~Common~{m.name}:{m.address.rpartition(':')[2]}" == name), None)


def _not_found(path: str) -> dict:
    return {"code": 404, "message": f"Object not found - {path}", "errorStack": [], "apiError": 1}


class F5Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "f5-emulator"

    def _send(self, status: int, reply: dict) -> None:
        body = json.dumps(reply, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            return {}
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def _guarded(self, action) -> None:
        api: F5API = self.server.api
        if not api.authorised(self.headers):
            return self._send(401, {"code": 401, "message": "Authorization failed: no user authentication "
                                    "header or token detected.", "errorStack": []})
        try:
            self._send(*action(api))
        except BalancerError as exc:
            self._send(400, {"code": 400, "message": str(exc), "errorStack": []})

    def do_GET(self) -> None:
        self._guarded(lambda api: api.get(urlsplit(self.path).path))

    def do_PATCH(self) -> None:
        body = self._body()
        self._guarded(lambda api: api.patch(urlsplit(self.path).path, body))

    def do_POST(self) -> None:
        if self.path == "/mgmt/shared/authn/login":
            return self._send(*self.server.api.login(self._body()))
        self._send(404, _not_found(self.path))

    def do_DELETE(self) -> None:
        token = self.path.rpartition("/")[2]
        api: F5API = self.server.api
        if self.path.startswith("/mgmt/shared/authz/tokens/") and token in api.tokens:
            api.tokens.discard(token)
            return self._send(200, {"token": token})
        self._send(404, _not_found(self.path))

    def log_message(self, *args) -> None:
        pass


def serve(state: LabState, address: str, port: int, cert: Path, key: Path, password: str) -> TLSHTTPServer:
    return serve_api(F5Handler, F5API(state, password), address, port, cert, key)


if __name__ == "__main__":
    run_detached("f5", serve)
