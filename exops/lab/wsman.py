"""The WS-Management shell protocol as pywinrm 0.5 speaks it (REFERENCE.md §8), server side.

Lab equipment: `ShellService` keeps shells and commands and turns one SOAP request into one
reply (status, body); the HTTP, TLS and authentication around it live in `winrm_server.py`. A
command runs in a thread while Receive waits for it at most the client's `w:OperationTimeout`,
answering with the timeout fault (WSManFault 2150858793) when it has nothing yet, as Windows
does; output is returned in chunks, so a large answer takes several Receive rounds. Shells idle
longer than `idle_timeout` are dropped: pywinrm sends neither Signal nor Delete after an error.
"""
from __future__ import annotations

import base64
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

SOAP = "http://www.w3.org/2003/05/soap-envelope"
ADDRESSING = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
FAULT = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
CMD_RESOURCE = f"{SHELL}/cmd"
ANONYMOUS = f"{ADDRESSING}/role/anonymous"

CREATE, DELETE = f"{TRANSFER}/Create", f"{TRANSFER}/Delete"
COMMAND, RECEIVE, SIGNAL = f"{SHELL}/Command", f"{SHELL}/Receive", f"{SHELL}/Signal"
TERMINATE = f"{SHELL}/signal/terminate"
DONE, RUNNING = f"{SHELL}/CommandState/Done", f"{SHELL}/CommandState/Running"

MAX_ENVELOPE = 153_600              # bytes, what pywinrm announces in w:MaxEnvelopeSize
CHUNK = 32 * 1024                   # stdout bytes per Receive reply
MAX_COMMAND_LINE = 8191             # characters; cmd.exe's limit, which WinRS commands run through

# WSManFault codes (MS-WSMV; the ones Windows returns for these conditions).
TIMED_OUT = 2150858793
SHELL_NOT_FOUND = 2150858843
BAD_REQUEST = 2150858817


@dataclass(frozen=True)
class CommandResult:
    stdout: bytes
    stderr: bytes
    exit_code: int


Runner = Callable[[str, str], CommandResult]    # (command, arguments) -> result


class Fault(Exception):
    """A SOAP fault to send back: HTTP 500 with the WSManFault detail pywinrm reads."""

    def __init__(self, code: int, subcode: str, reason: str, sender: bool = True):
        super().__init__(reason)
        self.code, self.subcode, self.reason, self.sender = code, subcode, reason, sender


@dataclass
class _Command:
    id: str
    thread: threading.Thread | None
    result: CommandResult | None = None
    sent: int = 0                   # stdout bytes already returned
    stderr_sent: bool = False


@dataclass
class _Shell:
    id: str
    touched: float
    commands: dict[str, _Command] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    action: str
    message_id: str
    shell_id: str | None
    timeout: float
    body: ET.Element


def parse_request(data: bytes) -> Request:
    """The parts of a request the shell protocol needs; `a:To` is pywinrm's placeholder, ignored."""
    if len(data) > MAX_ENVELOPE:
        raise Fault(BAD_REQUEST, "w:EncodingLimit", "the request is larger than MaxEnvelopeSize")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise Fault(BAD_REQUEST, "w:InvalidMessageInformationHeader", f"not XML: {exc}") from None
    header, body = root.find(f"{{{SOAP}}}Header"), root.find(f"{{{SOAP}}}Body")
    if root.tag != f"{{{SOAP}}}Envelope" or header is None or body is None:
        raise Fault(BAD_REQUEST, "w:InvalidMessageInformationHeader", "not a SOAP 1.2 envelope")
    action = header.findtext(f"{{{ADDRESSING}}}Action", "").strip()
    message_id = header.findtext(f"{{{ADDRESSING}}}MessageID", "").strip()
    resource = header.findtext(f"{{{WSMAN}}}ResourceURI", "").strip()
    if not message_id:
        raise Fault(BAD_REQUEST, "w:InvalidMessageInformationHeader", "no a:MessageID")
    if resource != CMD_RESOURCE:
        raise Fault(BAD_REQUEST, "w:DestinationUnreachable", f"unsupported ResourceURI {resource!r}")
    shell_id = None
    for selector in header.iter(f"{{{WSMAN}}}Selector"):
        if selector.get("Name") == "ShellId":
            shell_id = (selector.text or "").strip()
    return Request(action, message_id, shell_id, _duration(header.findtext(f"{{{WSMAN}}}OperationTimeout")),
                   body)


def _duration(text: str | None, default: float = 60.0) -> float:
    """An xs:duration such as PT20S or PT20.000S, in seconds."""
    match = re.fullmatch(r"PT(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?", (text or "").strip())
    if not match or not any(match.groups()):
        return default
    return int(match.group(1) or 0) * 60 + float(match.group(2) or 0)


class ShellService:
    """Shells and commands of one endpoint; `handle` answers one request (thread-safe)."""

    def __init__(self, runner: Runner, machine: str, *, idle_timeout: float = 120.0):
        self.runner = runner
        self.machine = machine
        self.idle_timeout = idle_timeout
        self._shells: dict[str, _Shell] = {}
        self._lock = threading.Lock()

    @property
    def open_shells(self) -> int:
        with self._lock:
            return len(self._shells)

    def handle(self, data: bytes) -> tuple[int, bytes]:
        relates_to = ""
        try:
            request = parse_request(data)
            relates_to = request.message_id
            self._expire()
            handler = {CREATE: self._create, COMMAND: self._command, RECEIVE: self._receive,
                       SIGNAL: self._signal, DELETE: self._delete}.get(request.action)
            if handler is None:
                raise Fault(BAD_REQUEST, "w:ActionNotSupported", f"action {request.action!r} is not supported")
            action, body = handler(request)
            return 200, envelope(action, relates_to, body)
        except Fault as fault:
            return 500, fault_envelope(fault, relates_to, self.machine)

    # ------------------------------------------------------------ operations

    def _create(self, request: Request) -> tuple[str, str]:
        shell = request.body.find(f"{{{SHELL}}}Shell")
        if shell is None:
            raise Fault(BAD_REQUEST, "w:SchemaValidationError", "Create needs an rsp:Shell body")
        shell_id = str(uuid.uuid4()).upper()
        with self._lock:
            self._shells[shell_id] = _Shell(shell_id, time.monotonic())
        return f"{TRANSFER}/CreateResponse", (
            f'<x:ResourceCreated xmlns:x="{TRANSFER}"><a:Address>https://{escape(self.machine)}/wsman</a:Address>'
            f"<a:ReferenceParameters><w:ResourceURI>{CMD_RESOURCE}</w:ResourceURI><w:SelectorSet>"
            f'<w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet></a:ReferenceParameters>'
            f'</x:ResourceCreated><rsp:Shell xmlns:rsp="{SHELL}"><rsp:ShellId>{shell_id}</rsp:ShellId>'
            f"<rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams>"
            f"</rsp:Shell>")

    def _command(self, request: Request) -> tuple[str, str]:
        shell = self._shell(request)
        line = request.body.find(f"{{{SHELL}}}CommandLine")
        if line is None:
            raise Fault(BAD_REQUEST, "w:SchemaValidationError", "Command needs an rsp:CommandLine body")
        command = (line.findtext(f"{{{SHELL}}}Command") or "").strip()
        arguments = " ".join((a.text or "") for a in line.findall(f"{{{SHELL}}}Arguments"))
        command_id = str(uuid.uuid4()).upper()
        run = _Command(command_id, None)
        if len(command) + 1 + len(arguments) > MAX_COMMAND_LINE:
            run.result = CommandResult(b"", b"The command line is too long.\r\n", 1)
        else:
            run.thread = threading.Thread(target=self._run, args=(run, command, arguments), daemon=True,
                                          name=f"wsman-{command_id[:8]}")
            run.thread.start()
        with self._lock:
            shell.commands[command_id] = run
        return f"{SHELL}/CommandResponse", (
            f'<rsp:CommandResponse xmlns:rsp="{SHELL}"><rsp:CommandId>{command_id}</rsp:CommandId>'
            "</rsp:CommandResponse>")

    def _run(self, run: _Command, command: str, arguments: str) -> None:
        try:
            run.result = self.runner(command, arguments)
        except Exception as exc:  # the lab must answer, as Windows would, with an error and exit 1
            run.result = CommandResult(b"", f"{type(exc).__name__}: {exc}\r\n".encode(), 1)

    def _receive(self, request: Request) -> tuple[str, str]:
        shell = self._shell(request)
        stream = request.body.find(f"{{{SHELL}}}Receive/{{{SHELL}}}DesiredStream")
        command_id = stream.get("CommandId", "") if stream is not None else ""
        run = shell.commands.get(command_id)
        if run is None:
            raise Fault(BAD_REQUEST, "w:InvalidParameter", f"no command {command_id!r} in this shell")
        if run.result is None and run.thread is not None:
            run.thread.join(max(0.0, min(request.timeout, 600.0)))
        if run.result is None:
            raise Fault(TIMED_OUT, "w:TimedOut", "The WS-Management service cannot complete the operation "
                        "within the time specified in OperationTimeout.", sender=False)
        result = run.result
        chunk = result.stdout[run.sent:run.sent + CHUNK]
        run.sent += len(chunk)
        streams = []
        if chunk:
            streams.append(_stream("stdout", command_id, chunk))
        if not run.stderr_sent and result.stderr:
            streams.append(_stream("stderr", command_id, result.stderr))
        run.stderr_sent = True
        done = run.sent >= len(result.stdout)
        if done:
            streams += [_stream("stdout", command_id, b"", end=True), _stream("stderr", command_id, b"", end=True)]
            state = (f'<rsp:CommandState CommandId="{command_id}" State="{DONE}">'
                     f"<rsp:ExitCode>{result.exit_code}</rsp:ExitCode></rsp:CommandState>")
        else:
            state = f'<rsp:CommandState CommandId="{command_id}" State="{RUNNING}"/>'
        return f"{SHELL}/ReceiveResponse", (
            f'<rsp:ReceiveResponse xmlns:rsp="{SHELL}">{"".join(streams)}{state}</rsp:ReceiveResponse>')

    def _signal(self, request: Request) -> tuple[str, str]:
        shell = self._shell(request)
        signal = request.body.find(f"{{{SHELL}}}Signal")
        if signal is None or (signal.findtext(f"{{{SHELL}}}Code") or "").strip() != TERMINATE:
            raise Fault(BAD_REQUEST, "w:InvalidParameter", "only the terminate signal is supported")
        with self._lock:
            shell.commands.pop(signal.get("CommandId", ""), None)
        return f"{SHELL}/SignalResponse", f'<rsp:SignalResponse xmlns:rsp="{SHELL}"/>'

    def _delete(self, request: Request) -> tuple[str, str]:
        shell = self._shell(request)
        with self._lock:
            self._shells.pop(shell.id, None)
        return f"{TRANSFER}/DeleteResponse", ""

    # ------------------------------------------------------------ shells

    def _shell(self, request: Request) -> _Shell:
        with self._lock:
            shell = self._shells.get(request.shell_id or "")
            if shell is None:
                raise Fault(SHELL_NOT_FOUND, "w:InvalidSelectors",
                            f"The request for the Windows Remote Shell with ShellId {request.shell_id} failed "
                            "because the shell was not found on the server.")
            shell.touched = time.monotonic()
            return shell

    def _expire(self) -> None:
        limit = time.monotonic() - self.idle_timeout
        with self._lock:
            for shell_id in [s.id for s in self._shells.values() if s.touched < limit]:
                del self._shells[shell_id]


def _stream(name: str, command_id: str, data: bytes, end: bool = False) -> str:
    text = base64.b64encode(data).decode("ascii")
    return (f'<rsp:Stream Name="{name}" CommandId="{command_id}"'
            + (' End="true"/>' if end else f">{text}</rsp:Stream>"))


def envelope(action: str, relates_to: str, body: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP}" xmlns:a="{ADDRESSING}" '
            f'xmlns:w="{WSMAN}"><s:Header><a:To>{ANONYMOUS}</a:To><a:Action s:mustUnderstand="true">{action}'
            f"</a:Action><a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
            f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo></s:Header><s:Body>{body}</s:Body></s:Envelope>"
            ).encode("utf-8")


def fault_envelope(fault: Fault, relates_to: str, machine: str) -> bytes:
    side = "s:Sender" if fault.sender else "s:Receiver"
    body = (f"<s:Fault><s:Code><s:Value>{side}</s:Value><s:Subcode><s:Value>{escape(fault.subcode)}"
            f'</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">{escape(fault.reason)}'
            f'</s:Text></s:Reason><s:Detail><f:WSManFault xmlns:f="{FAULT}" Code="{fault.code}" '
            f'Machine="{escape(machine)}"><f:Message>{escape(fault.reason)}</f:Message></f:WSManFault>'
            "</s:Detail></s:Fault>")
    return envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, body)
