"""What the KEMP and F5 API emulators share: HTTPS with a lab-CA certificate, Basic auth checked
in constant time, and running as a detached lab process over a balancer directory."""
from __future__ import annotations

import base64
import hmac
import os
import ssl
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from exops.lab.cas_backend import TLSHTTPServer
from exops.lab.haproxy import LabState


def basic_auth_ok(header: str | None, user: str, password: str) -> bool:
    if not header or not header.startswith("Basic "):
        return False
    try:
        given_user, _, given = base64.b64decode(header[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    return given_user == user and hmac.compare_digest(given, password)


def serve_api(handler: type[BaseHTTPRequestHandler], api: object, address: str, port: int,
              cert: Path, key: Path) -> TLSHTTPServer:
    """Serve in a daemon thread; the handler finds the emulator's state as `self.server.api`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = TLSHTTPServer((address, port), handler, context)
    server.api = api
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_detached(kind: str, serve: Callable[..., TLSHTTPServer], argv: list[str] | None = None) -> None:
    """`python -m exops.lab.<kind>_emulator BALANCER_DIR ADDRESS PORT`, password from
    $EXOPS_LAB_PASSWORD; prints "ready" once it listens and serves until killed."""
    directory, address, port = (argv or sys.argv[1:])[:3]
    certs = Path(directory) / "certs"
    serve(LabState.load(Path(directory)), address, int(port), certs / f"{kind}.pem", certs / f"{kind}.key",
          os.environ.get("EXOPS_LAB_PASSWORD", ""))
    print("ready", flush=True)
    threading.Event().wait()
