"""Lab equipment: a KEMP LoadMaster RESTful API (v1 `/access/...`, XML; v2 `/accessv2`, JSON for
`listvs` and `stats`) over HTTPS with a lab-CA certificate, driving the lab's real HAProxy, so
the sessions and health it reports are real.

Faithful to the public "RESTful API Interface Description" where exops relies on it, quirks
included and pinned by golden tests: `showvs` real servers carry `RsIndex` and `Enable` Y/N,
`stats` real servers `RSIndex`, `Enable` 1/0 and `ActivConns` while virtual services say
`ActiveConns`; errors are `<Response stat="400" code="fail">` with the same HTTP status.
What it cannot be is a LoadMaster: one `enable=n` maps to HAProxy maintenance (KEMP's disabled
real server takes no new clients, persistent ones included), weights are HAProxy's times ten.

Run as `python -m exops.lab.kemp_emulator BALANCER_DIR ADDRESS PORT` (user `bal`, password from
$EXOPS_LAB_PASSWORD); it prints "ready" when it listens.
"""
from __future__ import annotations

import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from exops.facts.loadbalancer import Balancer, RealServer, VirtualService
from exops.lab.api_emulator import basic_auth_ok, run_detached, serve_api
from exops.lab.cas_backend import TLSHTTPServer
from exops.lab.haproxy import LabState
from exops.sources.loadbalancers.base import BalancerError
from exops.sources.loadbalancers.haproxy import HAProxyDriver

XML_HEAD = '<?xml version="1.0" encoding="ISO-8859-1"?>'
USER = "bal"
PERSIST = {"http": "super", "source-ip": "src", "none": "none"}
SCHEDULE = {"round-robin": "rr", "least-connection": "lc"}
STATUS = {"UP": "Up", "DOWN": "Down", "MAINT": "Disabled", "DRAIN": "Up"}
PARAMS = {"finalpersist": "0", "dropatdrainend": "N", "slowstart": "0", "droponfail": "N"}
MAX_BODY = 64 * 1024


class KempError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def success(data: str) -> bytes:
    return (f'{XML_HEAD}<Response stat="200" code="ok"><Success><Data>{data}</Data></Success>'
            "</Response>").encode("iso-8859-1", "xmlcharrefreplace")


def failure(status: int, message: str) -> bytes:
    return (f'{XML_HEAD}<Response stat="{status}" code="fail"><Error>{escape(message)}</Error>'
            "</Response>").encode("iso-8859-1", "xmlcharrefreplace")


def _tags(**values: object) -> str:
    return "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in values.items())


class Model:
    """The LoadMaster's view of the lab HAProxy: indexes, names and KEMP's words."""

    def __init__(self, balancer: Balancer, domain: str, params: dict[str, str]):
        self.balancer, self.domain, self.params = balancer, domain, params

    def indexed(self):
        """(VSIndex, service, [(RsIndex, member)]) in a stable order."""
        rs_index = 0
        for vs_index, vs in enumerate(self.balancer.services, 1):
            members = []
            for member in vs.servers:
                rs_index += 1
                members.append((rs_index, member))
            yield vs_index, vs, members

    def rs_element(self, vs_index: int, rs_index: int, member: RealServer) -> str:
        host, _, port = member.address.rpartition(":")
        return "<Rs>" + _tags(Status=STATUS.get(member.status, "Down"), VSIndex=vs_index, RsIndex=rs_index,
                              Addr=host, Port=port, DnsName=f"{member.name.lower()}.{self.domain}",
                              Forward="nat", Weight=max(member.weight, 0) * 10, Limit=0, Follow=0,
                              Enable="N" if member.admin == "maint" else "Y", Critical="N") + "</Rs>"

    def vs_element(self, vs_index: int, vs: VirtualService, members) -> str:
        method, _, url = vs.health_check.partition(" ")
        check = ("https" if vs.port == 443 else "http") if url else vs.health_check
        up = any(m.status == "UP" and m.admin != "maint" for _, m in members)
        return "<VS>" + _tags(
            Status="Up" if up else "Down", Index=vs_index, VSAddress=vs.address, VSPort=vs.port,
            NickName=vs.name, Enable="Y", Transparent="N", Protocol="tcp",
            Schedule=SCHEDULE.get(vs.scheduling, vs.scheduling), Persist=PERSIST.get(vs.persistence, "none"),
            PersistTimeout=1800 if vs.persistence != "none" else 0, CheckType=check, CheckUrl=url,
            CheckUseGet={"HEAD": 0, "GET": 1, "POST": 2}.get(method, 0), CheckPort=0,
            NumberOfRSs=len(members)) + "".join(self.rs_element(vs_index, i, m) for i, m in members) + "</VS>"

    def find(self, query: dict[str, str]):
        for vs_index, vs, members in self.indexed():
            wanted = query.get("vs", "")
            if wanted == str(vs_index) or wanted == vs.address and query.get("port") == str(vs.port):
                return vs_index, vs, members
        raise KempError(400, "Unknown VS")

    def find_rs(self, query: dict[str, str]):
        vs_index, vs, members = self.find(query)
        rs = query.get("rs", "")
        for rs_index, member in members:
            host, _, port = member.address.rpartition(":")
            if rs == f"!{rs_index}" or rs == host and query.get("rsport", port) == port:
                return vs_index, vs, rs_index, member
        raise KempError(400, "Unknown Real Server")

    def stats(self) -> str:
        out = []
        for vs_index, vs, members in self.indexed():
            out.append("<Vs>" + _tags(VSAddress=vs.address, VSPort=vs.port, VSProt="tcp", Index=vs_index,
                                      ErrorCode=0, Enable=1, TotalConns=sum(max(m.total, 0) for _, m in members),
                                      ActiveConns=sum(m.sessions for _, m in members), ConnsPerSec=0) + "</Vs>")
        for vs_index, vs, members in self.indexed():
            for rs_index, m in members:
                host, _, port = m.address.rpartition(":")
                out.append("<Rs>" + _tags(VSIndex=vs_index, RSIndex=rs_index, Addr=host, Port=port,
                                          Enable=0 if m.admin == "maint" else 1, Weight=max(m.weight, 0) * 10,
                                          ActivConns=m.sessions, Persist=len(m.sticky_clients),
                                          Conns=max(m.total, 0), ConnsPerSec=0) + "</Rs>")
        return "".join(out)


class KempAPI:
    """Answers one command; changes go to the lab HAProxy through its runtime API."""

    def __init__(self, state: LabState, password: str, apikey: str = ""):
        self.driver = HAProxyDriver(state.settings())
        self.domain = state.fqdn.partition(".")[2] or "lab"
        self.password, self.apikey = password, apikey
        self.params = dict(PARAMS)
        self.lock = threading.Lock()

    def authorised(self, header: str | None, query: dict[str, str]) -> bool:
        if self.apikey and hmac.compare_digest(query.get("apikey", ""), self.apikey):
            return True
        return basic_auth_ok(header, USER, self.password)

    def model(self) -> Model:
        return Model(self.driver.read(), self.domain, self.params)

    def command(self, name: str, query: dict[str, str]) -> str:
        with self.lock:
            model = self.model()
            if name == "listvs":
                return "".join(model.vs_element(i, vs, ms) for i, vs, ms in model.indexed())
            if name == "showvs":
                vs_index, vs, members = model.find(query)
                return model.vs_element(vs_index, vs, members)[4:-5]
            if name == "showrs":
                vs_index, _, rs_index, member = model.find_rs(query)
                return model.rs_element(vs_index, rs_index, member)
            if name == "modrs":
                vs_index, vs, rs_index, member = model.find_rs(query)
                self._modify(vs, member, query)
                vs_index, _, rs_index, member = self.model().find_rs({**query, "rs": f"!{rs_index}"})
                return self.model().rs_element(vs_index, rs_index, member)
            if name in ("disablers", "enablers"):
                return self._all_services(model, query, name == "enablers")
            if name == "stats":
                return model.stats()
            if name == "get":
                param = query.get("param", "")
                if param not in self.params:
                    raise KempError(400, f"Unknown parameter {param}")
                return _tags(**{param: self.params[param]})
            if name == "set":
                param = query.get("param", "")
                if param not in self.params or "value" not in query:
                    raise KempError(400, "Unknown parameter or value missing")
                self.params[param] = query["value"]
                return ""
        raise KempError(400, f"Unknown command {name}")

    def _modify(self, vs: VirtualService, member: RealServer, query: dict[str, str]) -> None:
        if "enable" in query:
            if query["enable"].lower() not in ("y", "n"):
                raise KempError(400, "Invalid enable value")
            self.driver.set_admin(vs.name, member.name, "ready" if query["enable"].lower() == "y" else "maint")
        if "weight" in query:
            if not query["weight"].isdigit() or not 1 <= int(query["weight"]) <= 65535:
                raise KempError(400, "Invalid weight")
            self.driver.set_weight(vs.name, member.name, max(1, int(query["weight"]) // 10))

    def _all_services(self, model: Model, query: dict[str, str], enable: bool) -> str:
        """disablers / enablers: every virtual service that uses that real server address."""
        found = False
        for _, vs, members in model.indexed():
            for _, member in members:
                if member.address.rpartition(":")[0] == query.get("rs"):
                    self.driver.set_admin(vs.name, member.name, "ready" if enable else "maint")
                    found = True
        if not found:
            raise KempError(400, "Unknown Real Server")
        return ""

    def v2(self, body: dict) -> tuple[int, dict]:
        """v2 (firmware 7.2.50+): JSON in, JSON out; here only listvs and stats."""
        if not (self.apikey and hmac.compare_digest(str(body.get("apikey", "")), self.apikey)):
            return 401, {"code": 401, "message": "Authorization required", "status": "fail"}
        if body.get("cmd") not in ("listvs", "stats"):
            return 400, {"code": 400, "message": f"Unknown command {body.get('cmd')}", "status": "fail"}
        model = self.model()
        if body["cmd"] == "listvs":
            vs = [{"Index": i, "VSAddress": s.address, "VSPort": str(s.port), "NickName": s.name,
                   "Rs": [{"RsIndex": r, "Addr": m.address.rpartition(":")[0], "Enable": m.admin != "maint"}
                          for r, m in ms]} for i, s, ms in model.indexed()]
            return 200, {"code": 200, "message": "OK", "status": "ok", "VS": vs}
        rs = [{"VSIndex": i, "RSIndex": r, "ActivConns": m.sessions} for i, _, ms in model.indexed() for r, m in ms]
        return 200, {"code": 200, "message": "OK", "status": "ok", "Rs": rs}


class KempHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kemp-emulator"

    def _send(self, status: int, body: bytes, kind: str = "text/xml") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="LoadMaster"')
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        api: KempAPI = self.server.api
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if not url.path.startswith("/access/"):
            return self._send(404, failure(404, "Not found"))
        if not api.authorised(self.headers.get("Authorization"), query):
            return self._send(401, failure(401, "Authorization required"))
        try:
            self._send(200, success(api.command(url.path[len("/access/"):], query)))
        except KempError as exc:
            self._send(exc.status, failure(exc.status, str(exc)))
        except BalancerError as exc:
            self._send(400, failure(400, str(exc)))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if self.path != "/accessv2" or not 0 < length <= MAX_BODY:
            return self.do_GET() if self.path.startswith("/access/") else self._send(404, failure(404, "Not found"))
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            body = {}
        status, reply = self.server.api.v2(body if isinstance(body, dict) else {})
        self._send(status, json.dumps(reply).encode(), "application/json")

    def log_message(self, *args) -> None:
        pass


def serve(state: LabState, address: str, port: int, cert: Path, key: Path, password: str,
          apikey: str = "") -> TLSHTTPServer:
    return serve_api(KempHandler, KempAPI(state, password, apikey), address, port, cert, key)


if __name__ == "__main__":
    run_detached("kemp", serve)
