"""Remote PowerShell over WinRM (pywinrm): exops's own scripts, run on an Exchange server,
answering in JSON, read into facts (the sources that use it are in `exops.sources.exchange`).

A script that fails on a server that answers is recorded in its report (`failures`), not raised:
the rest of that server's evidence stands.

HTTPS with certificate validation (`ca_file`) unless `insecure: true`; the session type is the
Exchange 2010 snap-in, or the `Microsoft.Exchange` endpoint when the transport is CredSSP (the
only one here that carries the credentials for that second hop).
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from xml.etree.ElementTree import ParseError

from exops import powershell
from exops.config import ExchangeSettings, ServerSettings
from exops.errors import Cancelled, ExopsError
from exops.facts.events import EventFacts
from exops.facts.exchange import (CasArray, ExchangeFacts, FreeBusyFolder, MailboxDatabase, OrgServer,
                                  PublicFolderStore, RegistryValue, ServerReport, ServiceState,
                                  VirtualDirectory)
from exops.facts.store import Facts
from exops.sources.eventlog import ScanTally
from exops.terminal import brief

MAX_OUTPUT = 16 * 2**20           # bytes of JSON one script may return
SCRIPT_TIMEOUT = 120.0            # seconds one script may run
EVENT_DAYS = 30
MAX_EVENTS = 5000
Activity = Callable[[str], None]

# What each role's servers are asked; every server says who it is.
ROLE_SCRIPTS = {
    "mailbox": ("public-folders", "mailbox-databases", "services", "events"),
    "cas": ("cas-arrays", "virtual-directories", "rpc-ports", "services"),
}


class ExchangeError(ExopsError):
    """An Exchange server could not be read; the message names it and says what to try."""


class ServerUnreachable(ExchangeError):
    pass


class ServerAuthFailed(ExchangeError):
    pass


class ServerTLSError(ExchangeError):
    pass


class ServerGarbage(ExchangeError):
    """The endpoint answered, but not as WinRM or not as exops's script does."""


class ScriptFailed(ExchangeError):
    """The script ran and failed (exit code, error text); the server itself answers."""


def session_for(transport: str) -> str:
    return "Microsoft.Exchange" if transport == "credssp" else "snap-in"


class RemoteShell:
    """One server's WinRM connection: a shell opened on first use, scripts run in it in turn."""

    def __init__(self, server: ServerSettings, exchange: ExchangeSettings, password: str | None,
                 *, timeout: float = SCRIPT_TIMEOUT, max_output: int = MAX_OUTPUT):
        self.server, self.exchange = server, exchange
        self.session = session_for(exchange.transport)
        self.timeout, self.max_output = timeout, max_output
        self._password = password
        self._protocol = None
        self._shell: str | None = None
        self._lock = threading.Lock()

    def run(self, name: str, parameters: dict[str, Any] | None = None,
            cancel: threading.Event | None = None) -> dict[str, Any]:
        """The script's JSON answer; raises ScriptFailed for a script error, another
        ExchangeError when the server cannot be talked to."""
        command, arguments = powershell.command_line(name, parameters or {}, self.session)
        with self._lock, self._errors():
            protocol = self._connect()
            command_id = protocol.run_command(self._shell, command, arguments)
            try:
                stdout, stderr, code = self._output(protocol, command_id, name, cancel)
            finally:
                protocol.cleanup_command(self._shell, command_id)
        if code != 0:
            raise ScriptFailed(f"{self.server.name}: {name}.ps1 failed (exit {code}): {_first_line(stderr)}")
        return self._answer(name, stdout)

    def _connect(self):
        if self._protocol is None:
            from winrm.protocol import Protocol
            self._protocol = Protocol(
                self.server.url, transport=self.exchange.transport, username=self.exchange.user,
                password=self._password,
                server_cert_validation="ignore" if self.exchange.insecure else "validate",
                ca_trust_path=self.exchange.ca_file or None,
                read_timeout_sec=30, operation_timeout_sec=20, proxy=None)
        if self._shell is None:
            self._shell = self._protocol.open_shell()
        return self._protocol

    def _output(self, protocol, command_id: str, name: str, cancel: threading.Event | None):
        """Receive until done, bounded in time and size, checking for cancellation between rounds."""
        from winrm.exceptions import WinRMOperationTimeoutError
        deadline = time.monotonic() + self.timeout
        stdout, stderr, size = [], [], 0
        while True:
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"{self.server.name}: stopped while {name}.ps1 ran")
            if time.monotonic() > deadline:
                raise ScriptFailed(f"{self.server.name}: {name}.ps1 did not finish within {self.timeout:g} s")
            try:
                out, err, code, done = protocol.get_command_output_raw(self._shell, command_id)
            except WinRMOperationTimeoutError:
                continue
            size += len(out) + len(err)
            if size > self.max_output:
                raise ScriptFailed(f"{self.server.name}: {name}.ps1 answered more than "
                                   f"{self.max_output // 2**20} MiB; nothing of it was used")
            stdout.append(out)
            stderr.append(err)
            if done:
                return b"".join(stdout), b"".join(stderr), code

    def _answer(self, name: str, stdout: bytes) -> dict[str, Any]:
        try:
            answer = json.loads(stdout.decode("ascii"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise ScriptFailed(f"{self.server.name}: {name}.ps1 answered something that is not its JSON "
                               f"({_first_line(stdout)!r:.80})") from None
        if not isinstance(answer, dict) or answer.get("script") != name:
            raise ScriptFailed(f"{self.server.name}: the answer to {name}.ps1 is not that script's")
        return answer

    def _errors(self):
        return _translated(self.server, self.exchange.user or "the configured user")

    def close(self) -> None:
        with self._lock:
            if self._protocol is not None and self._shell is not None:
                try:
                    self._protocol.close_shell(self._shell)
                except Exception:   # closing is a courtesy: the server expires idle shells
                    pass
            self._protocol, self._shell = None, None


class _translated:
    """pywinrm's and requests' exceptions as one-line ExchangeErrors that name the server."""

    def __init__(self, server: ServerSettings, user: str):
        self.server, self.user = server, user

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is None or isinstance(exc, ExopsError):
            return False
        import requests
        from winrm.exceptions import InvalidCredentialsError, WinRMError, WinRMTransportError, WSManFaultError
        name, url = self.server.name, self.server.url
        if isinstance(exc, requests.exceptions.SSLError):
            raise ServerTLSError(f"{name}: the certificate of {url} is not trusted ({brief(exc)}); give "
                                 "the issuing CA as exchange.ca_file") from None
        if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
            raise ServerUnreachable(f"{name}: {url} does not answer ({brief(exc)})") from None
        if isinstance(exc, InvalidCredentialsError):
            raise ServerAuthFailed(f"{name}: {url} refused the credentials of {self.user}") from None
        if isinstance(exc, (WinRMTransportError, WSManFaultError)):
            raise ServerGarbage(f"{name}: {url} answered an error: {brief(exc)}") from None
        if isinstance(exc, WinRMError):      # raised before anything was sent: this machine's setup
            raise ExchangeError(f"{name}: pywinrm cannot connect this way: {brief(exc)} (Kerberos needs "
                                "'pip install pywinrm[kerberos]', CredSSP 'pywinrm[credssp]')") from None
        if isinstance(exc, (ParseError, StopIteration, KeyError, ValueError, AssertionError)):
            raise ServerGarbage(f"{name}: {url} did not answer as a WinRM endpoint does") from None
        return False


def _first_line(data: bytes) -> str:
    text = data.decode("utf-8", "replace").strip()
    return (text.splitlines() or ["(no error text)"])[0][:200]


# ---------------------------------------------------------------- collecting one server

def read_server(shell: RemoteShell, roles: tuple[str, ...], *, now: datetime | None = None,
                cancel: threading.Event | None = None, progress: Activity | None = None) -> Facts:
    """Every script the server's roles call for; one failing script is recorded, not fatal."""
    now = now or datetime.now(timezone.utc)
    wanted = ["server"] + sorted({s for role, scripts in ROLE_SCRIPTS.items()
                                  if role in roles or not roles for s in scripts})
    answers: dict[str, dict] = {}
    failures: dict[str, str] = {}
    for name in wanted:
        if progress:
            progress(f"{shell.server.name}: {name}.ps1")
        parameters = {"since": (now - timedelta(days=EVENT_DAYS)).isoformat(),
                      "max_events": MAX_EVENTS} if name == "events" else {}
        try:
            answers[name] = shell.run(name, parameters, cancel)
        except ScriptFailed as exc:
            failures[name] = str(exc)
    report = ServerReport(server=shell.server.name, url=shell.server.url, session=shell.session, read_at=now,
                          roles=tuple(roles), scripts=tuple(answers), failures=failures,
                          **_parts(answers, failures))
    events = EventFacts(scans=(_event_scan(shell.server.name, shell.session, answers["events"]),)) \
        if "events" in answers else None
    return Facts(ExchangeFacts(servers=(report,)), events)


def _parts(answers: dict[str, dict], failures: dict[str, str]) -> dict[str, Any]:
    """ServerReport fields from the scripts' JSON; a malformed answer becomes a failure."""
    readers = {
        "server": lambda a: {"organization": tuple(OrgServer(**_pick(s, OrgServer)) for s in a["servers"])},
        "public-folders": lambda a: {
            "folders": tuple(FreeBusyFolder(identity=f["identity"], name=f["name"], replicas=tuple(f["replicas"]))
                             for f in a["folders"]),
            "public_folder_stores": tuple(PublicFolderStore(**_pick(d, PublicFolderStore)) for d in a["databases"])},
        "mailbox-databases": lambda a: {"mailbox_databases": tuple(
            MailboxDatabase(**_pick(d, MailboxDatabase)) for d in a["databases"])},
        "cas-arrays": lambda a: {"cas_arrays": tuple(
            CasArray(name=c["name"], fqdn=c["fqdn"], site=c["site"], members=tuple(c["members"]),
                     addresses=tuple(c.get("addresses") or ())) for c in a["arrays"])},
        "virtual-directories": lambda a: {"virtual_directories": tuple(
            VirtualDirectory(**_pick(d, VirtualDirectory)) for d in a["directories"])},
        "rpc-ports": lambda a: {"registry": tuple(RegistryValue(**_pick(v, RegistryValue)) for v in a["values"]),
                                "listening": tuple(sorted({int(p) for p in a["listening"]}))},
        "services": lambda a: {"services": tuple(
            ServiceState(name=s["name"], state=s["state"], started=parse_time(s.get("started"))) for s in a["services"])},
    }
    parts: dict[str, Any] = {}
    for name, read in readers.items():
        if name in answers:
            try:
                parts.update(read(answers[name]))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                failures[name] = f"{name}.ps1 answered JSON of the wrong shape ({type(exc).__name__}: {exc})"
    return parts


def _pick(data: dict, kind: type) -> dict[str, Any]:
    """The fields a fact type has, as text (PowerShell gives every value as a string here)."""
    from dataclasses import fields
    out = {}
    for f in fields(kind):
        if f.name in data:
            value = data[f.name]
            out[f.name] = value if isinstance(value, bool) else ("" if value is None else str(value))
    return out


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _event_scan(server: str, session: str, answer: dict):
    """Live events folded exactly as the log files' are, so the event checks see both alike; the
    scan's name says where they came from (server, script, session), as evidence must."""
    tally = ScanTally(f"winrm://{server}/Application?script=events.ps1&session={session}")
    for event in answer.get("events", ()):
        try:
            tally.add(event_id=int(event["id"]), provider=str(event["provider"]), time=parse_time(event["time"]),
                      computer=str(event["computer"]), record_id=int(event["record_id"] or 0),
                      data=tuple(str(d) for d in event.get("data", ())), message=str(event.get("message") or ""))
            tally.records_read += 1
        except (KeyError, TypeError, ValueError):
            tally.skip("malformed event in the events.ps1 answer")
    if tally.records_read >= int(answer.get("limit") or MAX_EVENTS):
        tally.note(f"the newest {tally.records_read} events were read; older ones were not")
    return tally.result("winrm")
