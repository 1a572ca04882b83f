"""One emulated Client Access server's endpoints on a loopback address, for the lab balancer.

HTTPS with `/owa` (and `/owa/healthcheck.htm`, what balancers probe) answered from a
certificate of the lab CA; RPC, the address book and the endpoint mapper as line services that
answer each line with the server's name, so a client through the balancer sees which real server
it reached. It is lab equipment: enough for health checks and client load, nothing of MAPI.

Run as `python -m exops.lab.cas_backend NAME ADDRESS --cert C --key K --https PORT --tcp PORT...`;
it prints "ready" once every port listens and stops on SIGTERM.
"""
from __future__ import annotations

import argparse
import signal
import socketserver
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_LINE = 4096
IDLE_TIMEOUT = 30.0
HEALTH_PATHS = ("/owa", "/owa/", "/owa/healthcheck.htm")


class _Listener(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class LineService(socketserver.StreamRequestHandler):
    """Answers every line with `<server> <port> <line>` until the client closes."""

    timeout = IDLE_TIMEOUT

    def handle(self) -> None:
        name = self.server.exchange_server
        port = self.server.server_address[1]
        while line := self.rfile.readline(MAX_LINE):
            self.wfile.write(f"{name} {port} ".encode() + line.rstrip(b"\r\n")[:MAX_LINE] + b"\r\n")


class OwaHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT

    def do_GET(self) -> None:
        known = self.path.split("?", 1)[0] in HEALTH_PATHS
        body = (f"{self.server.exchange_server} Outlook Web App\r\n" if known else "not found\r\n").encode()
        self.send_response(200 if known else 404)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_OPTIONS = do_HEAD = do_GET

    def log_message(self, *args) -> None:  # the lab keeps no access log
        pass


class TLSHTTPServer(ThreadingHTTPServer):
    """HTTPS, one thread a connection; the handshake runs in that thread, so a slow or TCP-only
    client holds up no one else."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler, context: ssl.SSLContext):
        self.context = context
        super().__init__(address, handler)

    def get_request(self):
        conn, peer = super().get_request()
        conn.settimeout(IDLE_TIMEOUT)
        return self.context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False), peer

    def finish_request(self, request, client_address) -> None:
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError):
            return   # a TCP-only probe or a client giving up: nothing to answer
        super().finish_request(request, client_address)


def serve(name: str, address: str, cert: str, key: str, https: list[int], tcp: list[int]) -> list:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    servers = [TLSHTTPServer((address, port), OwaHandler, context) for port in https]
    servers += [_Listener((address, port), LineService) for port in tcp]
    for server in servers:
        server.exchange_server = name
        threading.Thread(target=server.serve_forever, daemon=True).start()
    return servers


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("address")
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--https", type=int, action="append", default=[])
    parser.add_argument("--tcp", type=int, action="append", default=[])
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    servers = serve(args.name, args.address, args.cert, args.key, args.https, args.tcp)
    print("ready", flush=True)
    stop.wait()
    for server in servers:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
