"""One WinRM endpoint of the lab: HTTPS with a certificate from the lab CA, Basic or NTLM.

Lab equipment, loopback only. The WS-Management shell protocol itself is `wsman.ShellService`;
this module is the transport around it as pywinrm meets it on Windows: POST to `/wsman` with
`application/soap+xml`, 401 with `WWW-Authenticate` when credentials are missing or wrong, and
NTLM as a challenge-response on one keep-alive connection (pyspnego is the acceptor; over HTTPS
pywinrm does not seal messages, and the client's channel binding is checked against this
server's certificate, as Extended Protection does). `delay` adds latency to every request, for
the fan-out benchmark.
"""
from __future__ import annotations

import atexit
import base64
import hashlib
import os
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from exops.lab.wsman import MAX_ENVELOPE, ShellService

AUTH_METHODS = ("basic", "ntlm")
_USER_FILE_LOCK = threading.Lock()
_user_file: Path | None = None


def _accept_ntlm(account: Account) -> None:
    """pyspnego's NTLM acceptor reads the accounts it accepts only from the file `$NTLM_USER_FILE`
    names, for the whole process: the lab keeps one such file per process, adds each account,
    and removes it when the process exits (it holds the lab's passwords)."""
    global _user_file
    with _USER_FILE_LOCK:
        if _user_file is None:
            descriptor, name = tempfile.mkstemp(prefix="exops-lab-ntlm-")   # mode 0600
            os.close(descriptor)
            _user_file = Path(name)
            atexit.register(_user_file.unlink, missing_ok=True)
        os.environ["NTLM_USER_FILE"] = str(_user_file)
        if account.ntlm_line() not in _user_file.read_text().splitlines(keepends=True):
            with open(_user_file, "a") as users:
                users.write(account.ntlm_line())


@dataclass(frozen=True)
class Account:
    """The one account an endpoint accepts: `DOMAIN\\user` (or a UPN) and its password."""

    user: str
    password: str

    def ntlm_line(self) -> str:
        """The account as pyspnego's NTLM_USER_FILE holds it: DOMAIN:USER:PASSWORD."""
        domain, _, user = self.user.rpartition("\\")
        return f"{domain}:{user}:{self.password}\n"

    def matches(self, user: str, password: str) -> bool:
        return _normal_user(user) == _normal_user(self.user) and password == self.password


def _normal_user(user: str) -> str:
    """LITWARE\\Administrator, Administrator@litware.com and Administrator are one lab account."""
    user = user.split("\\")[-1].split("@")[0]
    return user.casefold()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True     # headers and body go out as two writes: no 40 ms delayed-ACK stall
    server: WinRMEndpoint

    def log_message(self, format: str, *args) -> None:   # the lab is quiet; the transcript records
        pass

    def do_POST(self) -> None:
        endpoint = self.server
        if endpoint.delay:
            time.sleep(endpoint.delay)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_ENVELOPE or self.path.rstrip("/").lower() != "/wsman":
            self._reply(400 if length > MAX_ENVELOPE else 404, b"")
            self.close_connection = True
            return
        body = self.rfile.read(length)
        if not self._authenticated():
            return
        if not self.headers.get("Content-Type", "").lower().startswith("application/soap+xml"):
            self._reply(415, b"")
            return
        status, reply = endpoint.service.handle(body)
        endpoint.record(body, status, reply)
        self._reply(status, reply, "application/soap+xml;charset=UTF-8")

    def _reply(self, status: int, body: bytes, content_type: str | None = None,
               headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    # ------------------------------------------------------------ authentication

    def _authenticated(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        method = self.server.auth
        if method == "basic" and scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(token).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                user = password = ""
            if self.server.account.matches(user, password):
                return True
        elif method == "ntlm" and scheme.lower() in ("negotiate", "ntlm"):
            return self._ntlm_step(scheme, token)
        elif method == "ntlm" and not header and getattr(self, "_ntlm", None) is not None and self._ntlm.complete:
            return True      # NTLM authenticates the connection, as HTTP.sys does: no header needed again
        self._challenge()
        return False

    def _challenge(self, token: str | None = None, scheme: str = "Negotiate") -> None:
        if token:
            offers = [("WWW-Authenticate", f"{scheme} {token}")]
        elif self.server.auth == "basic":
            offers = [("WWW-Authenticate", 'Basic realm="WSMAN"')]
        else:
            offers = [("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "NTLM")]
        self.send_response(401)
        for name, value in offers:
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _ntlm_step(self, scheme: str, token: str) -> bool:
        """Negotiate → challenge (401) → authenticate on this connection; the last one carries
        the request body, answered once the acceptor says the password was right."""
        import spnego
        from spnego.exceptions import SpnegoError

        try:
            data = base64.b64decode(token)
        except ValueError:
            data = b""
        context = getattr(self, "_ntlm", None)
        if context is None or data[8:12] == b"\x01\x00\x00\x00":     # a new NTLM NEGOTIATE message
            self._ntlm = context = spnego.server(protocol="ntlm", channel_bindings=self.server.channel_bindings)
        try:
            answer = context.step(data)
        except SpnegoError:
            self._ntlm = None
            self._challenge()
            return False
        if context.complete:
            return True
        self._challenge(base64.b64encode(answer).decode("ascii") if answer else None, scheme)
        return False


class WinRMEndpoint(ThreadingHTTPServer):
    """`https://<address>:<port>/wsman` for one emulated Exchange server."""

    daemon_threads = True

    def __init__(self, service: ShellService, account: Account, *, cert_file: Path, key_file: Path,
                 address: str = "127.0.0.1", port: int = 0, auth: str = "ntlm", delay: float = 0.0,
                 transcript: list | None = None):
        if auth not in AUTH_METHODS:
            raise ValueError(f"auth must be one of {', '.join(AUTH_METHODS)}")
        super().__init__((address, port), _Handler)
        self.service, self.account, self.auth, self.delay = service, account, auth, delay
        self.transcript = transcript
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert_file, key_file)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.channel_bindings = _channel_bindings(cert_file)
        if auth == "ntlm":
            _accept_ntlm(account)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"https://{host}:{port}/wsman"

    def record(self, request: bytes, status: int, reply: bytes) -> None:
        if self.transcript is not None:
            self.transcript.append((request, status, reply))

    def start(self) -> WinRMEndpoint:
        self._thread = threading.Thread(target=self.serve_forever, name=f"winrm-{self.url}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def _channel_bindings(cert_file: Path):
    """tls-server-end-point (RFC 5929) of this server's certificate, as NTLMv2 clients send it."""
    from cryptography import x509
    from spnego.channel_bindings import GssChannelBindings

    cert = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
    algorithm = cert.signature_hash_algorithm
    name = "sha256" if algorithm is None or algorithm.name in ("md5", "sha1") else algorithm.name
    digest = hashlib.new(name, cert.public_bytes(_der())).digest()
    return GssChannelBindings(application_data=b"tls-server-end-point:" + digest)


def _der():
    from cryptography.hazmat.primitives.serialization import Encoding
    return Encoding.DER
