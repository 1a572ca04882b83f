"""One large search read straight off a connection's socket, for the scans that fold every entry.

ldap3 asks for a page, waits for all of it, decodes it and returns; the caller folds it; only
then is the next page asked for, so the server and exops take turns. `stream_pages` asks for the
next page as soon as the current page's last message (SearchResultDone, which carries the
paged-results cookie) has arrived, before the page's entries are decoded: the server builds
page k+1 while exops decodes and folds page k. Unpaged (`page_size` None), the whole result is
one answer, read and decoded as it arrives and handed over `chunk` entries at a time.

Either way the connection belongs to the stream until it ends: a request is in flight while the
caller holds a page, so nothing else may be sent on the connection meanwhile. A stream left
before its end (the caller stopped, an error, a cancel) leaves a response unread, so the caller
then closes the connection.

Only the messages exops needs are decoded here (search entries by `search_entry`, the done
message's result and cookie); anything else (an intermediate response, a notice of
disconnection, a message for another request) ends the stream with an error. The bytes are
those ldap3 reads: exops binds with SIMPLE, NTLM or Kerberos without a SASL security layer, so
TLS is the only layer under LDAP.
"""
from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from ldap3 import Connection
from ldap3.core import exceptions as lx
from ldap3.core.results import RESULT_CODES
from ldap3.operation.search import search_operation
from ldap3.protocol.convert import build_controls_list
from ldap3.protocol.rfc2696 import paged_search_control
from ldap3.protocol.rfc4511 import LDAPMessage, MessageID, ProtocolOp
from ldap3.utils.asn1 import encode

PAGED_RESULTS = b"1.2.840.113556.1.4.319"
RECEIVE_SIZE = 65536
POLL = 0.1        # seconds between looks at the cancel event while the server is silent
SEARCH_ENTRY, SEARCH_REFERENCE, SEARCH_DONE = 0x64, 0x73, 0x65

# Decodes one SearchResultEntry message: (message id, {"dn", "attributes"}) or None (`search_entry`).
EntryDecoder = Callable[[bytes], "tuple[int, dict] | None"]


class StreamCancelled(Exception):
    """The cancel event was set while the stream waited for the server."""


@dataclass(frozen=True)
class SearchDone:
    """The end of one search request: the result as ldap3 names it, and the paging cookie."""

    description: str
    message: str
    referrals: tuple[str, ...]
    cookie: bytes


def stream_pages(conn: Connection, decode: EntryDecoder, base: str, filter: str, scope: str,
                 attributes: Sequence[str], page_size: int | None, chunk: int,
                 on_done: Callable[[SearchDone], bool], cancel: threading.Event | None = None,
                 timeout: float = 30.0) -> Iterator[list[tuple[str, dict]]]:
    """Every entry of the search, as lists of (dn, attributes).

    `on_done(done)` is called with each request's result before that request's entries are
    handed over; it returns whether the search goes on (a next page is asked for only if it
    does and the server gave a cookie) or raises to end it. Returns normally only once every
    response has been read; otherwise the connection has unread messages and must be closed.
    While the server is silent (an unpaged search sends nothing until it is done) `cancel` is
    looked at every POLL seconds (StreamCancelled), and `timeout` seconds of silence end it.
    """
    wire = _Wire(conn.socket, cancel, timeout)
    message_id = _send_search(conn, base, filter, scope, attributes, page_size, b"")
    while True:
        frames, done = [], None
        for frame in wire.messages():
            number, op = _header(frame)
            if number != message_id:
                raise lx.LDAPSocketReceiveError(f"unexpected message {number} in search {message_id}")
            if op == SEARCH_ENTRY:
                frames.append(frame)
                if page_size is None and len(frames) >= chunk:
                    yield _decoded(frames, decode)
                    frames = []
            elif op == SEARCH_DONE:
                done = _search_done(frame)
                break
            elif op != SEARCH_REFERENCE:   # continuation references are skipped
                raise lx.LDAPSocketReceiveError(f"unexpected LDAP operation 0x{op:02x} in a search")
        if done is None:
            raise lx.LDAPSessionTerminatedByServerError("the server closed the connection")
        going_on = on_done(done) and page_size is not None and done.cookie
        if going_on:   # before decoding: the server builds the next page meanwhile
            message_id = _send_search(conn, base, filter, scope, attributes, page_size, done.cookie)
        if frames:
            yield _decoded(frames, decode)
        if not going_on:
            return


def _decoded(frames: list[bytes], decode: EntryDecoder) -> list[tuple[str, dict]]:
    entries = []
    for frame in frames:
        entry = decode(frame)
        if entry is None:
            raise lx.LDAPSocketReceiveError("a search entry exops cannot read")
        entries.append((entry[1]["dn"], entry[1]["attributes"]))
    frames.clear()
    return entries


def _send_search(conn: Connection, base: str, filter: str, scope: str, attributes: Sequence[str],
                 page_size: int | None, cookie: bytes) -> int:
    """Send one SearchRequest as ldap3 would, without waiting for its answer; its message id."""
    request = search_operation(base, filter, scope, 3, list(attributes), 0, 0, False,
                               conn.auto_escape, conn.auto_encode, None, check_names=False)
    message = LDAPMessage()
    message_id = conn.server.next_message_id()
    message["messageID"] = MessageID(message_id)
    message["protocolOp"] = ProtocolOp().setComponentByName("searchRequest", request)
    if page_size is not None:
        message["controls"] = build_controls_list([paged_search_control(False, page_size, cookie)])
    try:
        conn.socket.sendall(encode(message))
    except OSError as exc:
        raise lx.LDAPSocketSendError(f"error sending data: {exc}") from None
    return message_id


class _Wire:
    """Complete LDAP messages from a socket, as they arrive."""

    def __init__(self, sock: socket.socket, cancel: threading.Event | None = None,
                 timeout: float = 30.0):
        self.sock, self.buffer, self.start = sock, bytearray(), 0
        self.cancel, self.timeout = cancel, timeout

    def messages(self) -> Iterator[bytes]:
        while True:
            end = self._frame_end()
            if end is None:
                self._receive()
                continue
            frame = bytes(self.buffer[self.start:end])
            self.start = end
            yield frame

    def _frame_end(self) -> int | None:
        buffer, start = self.buffer, self.start
        if len(buffer) - start < 2:
            return None
        if buffer[start] != 0x30:
            raise lx.LDAPSocketReceiveError("the server sent something that is not an LDAP message")
        first = buffer[start + 1]
        if first < 0x80:
            end = start + 2 + first
        else:
            count = first & 0x7F
            if not count or count > 4:
                raise lx.LDAPSocketReceiveError("an LDAP message with an unreadable length")
            if len(buffer) - start < 2 + count:
                return None
            end = start + 2 + count + int.from_bytes(buffer[start + 2:start + 2 + count], "big")
        return end if end <= len(buffer) else None

    def _receive(self) -> None:
        if self.start:
            del self.buffer[:self.start]
            self.start = 0
        self._wait()
        try:
            data = self.sock.recv(RECEIVE_SIZE)
        except OSError as exc:   # ldap3's receive timeout (SO_RCVTIMEO) included
            raise lx.LDAPSocketReceiveError(f"error receiving data: {_why(exc)}") from None
        if not data:
            raise lx.LDAPSessionTerminatedByServerError("the server closed the connection")
        self.buffer += data


    def _wait(self) -> None:
        """Until the socket has something to read (TLS may hold decrypted bytes already)."""
        pending = getattr(self.sock, "pending", None)
        if pending is not None and pending():
            return
        deadline = time.monotonic() + self.timeout
        while True:
            if self.cancel is not None and self.cancel.is_set():
                raise StreamCancelled()
            try:
                if select.select([self.sock], [], [], POLL)[0]:
                    return
            except (OSError, ValueError) as exc:      # closed under us
                raise lx.LDAPSocketReceiveError(f"error receiving data: {exc}") from None
            if time.monotonic() > deadline:
                raise lx.LDAPSocketReceiveError("error receiving data: timed out")


def _why(exc: OSError) -> str:
    if isinstance(exc, (socket.timeout, BlockingIOError)):
        return "timed out"
    return str(exc)


def _header(frame: bytes) -> tuple[int, int]:
    """(message id, protocolOp tag) of one message."""
    _, at, _ = _tlv(frame, 0)
    tag, start, stop = _tlv(frame, at)
    if tag != 0x02 or stop >= len(frame):
        raise lx.LDAPSocketReceiveError("an LDAP message without a message id or operation")
    return int.from_bytes(frame[start:stop], "big"), frame[stop]


def _tlv(data: bytes, at: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the element at `at`."""
    try:
        tag, (size, start) = data[at], _ber_length(data, at + 1)
    except IndexError:
        raise lx.LDAPSocketReceiveError("a cut LDAP message") from None
    if start + size > len(data):
        raise lx.LDAPSocketReceiveError("a cut LDAP message")
    return tag, start, start + size


def _search_done(frame: bytes) -> SearchDone:
    """SearchResultDone (RFC 4511 4.5.2): result code, diagnostic message, referrals and the
    paged-results cookie (RFC 2696) from the message's controls."""
    try:
        return _done_fields(frame)
    except IndexError:
        raise lx.LDAPSocketReceiveError("a SearchResultDone exops cannot read") from None


def _done_fields(frame: bytes) -> SearchDone:
    _, at, end = _tlv(frame, 0)
    _, _, at = _tlv(frame, at)                       # messageID
    tag, at, done_end = _tlv(frame, at)              # [APPLICATION 5] LDAPResult
    if tag != SEARCH_DONE:
        raise lx.LDAPSocketReceiveError("not a SearchResultDone")
    _, start, stop = _tlv(frame, at)                 # resultCode ENUMERATED
    code = int.from_bytes(frame[start:stop], "big")
    _, _, at = _tlv(frame, stop)                     # matchedDN
    _, start, at = _tlv(frame, at)                   # diagnosticMessage
    message = frame[start:at].decode("utf-8", "replace")
    referrals: list[str] = []
    if at < done_end and frame[at] == 0xA3:          # referral [3] SEQUENCE OF URI
        _, inner, stop = _tlv(frame, at)
        while inner < stop:
            _, start, inner = _tlv(frame, inner)
            referrals.append(frame[start:inner].decode("utf-8", "replace"))
    cookie = b""
    at = done_end
    if at < end and frame[at] == 0xA0:               # controls [0] SEQUENCE OF Control
        _, inner, stop = _tlv(frame, at)
        while inner < stop:
            _, start, inner = _tlv(frame, inner)     # Control SEQUENCE
            _, oid_start, oid_end = _tlv(frame, start)
            if frame[oid_start:oid_end] != PAGED_RESULTS:
                continue
            at = oid_end
            if frame[at] == 0x01:                    # criticality BOOLEAN
                _, _, at = _tlv(frame, at)
            _, value, _ = _tlv(frame, at)            # controlValue OCTET STRING
            _, value, _ = _tlv(frame, value)         # realSearchControlValue SEQUENCE
            _, _, value = _tlv(frame, value)         # size INTEGER
            _, start, stop = _tlv(frame, value)      # cookie OCTET STRING
            cookie = bytes(frame[start:stop])
    description = RESULT_CODES.get(code, f"result {code}")
    return SearchDone(description, message, tuple(referrals), cookie)


def search_entry(raw: bytes) -> tuple[int, dict] | None:
    """(message id, lean entry) of a SearchResultEntry message (RFC 4511 4.5.2), or None for any
    other message or one this reader does not take (ldap3 then decodes it)."""
    try:
        size, i = _ber_length(raw, 1)
        if raw[0] != 0x30 or i + size != len(raw):
            return None
        if raw[i] != 0x02:
            return None
        size, i = _ber_length(raw, i + 1)
        message_id, i = int.from_bytes(raw[i:i + size], "big"), i + size
        if raw[i] != 0x64 or raw[_ber_length(raw, i + 1)[1]] != 0x04:
            return None
        size, i = _ber_length(raw, _ber_length(raw, i + 1)[1] + 1)
        dn, i = raw[i:i + size].decode("utf-8"), i + size
        if raw[i] != 0x30:
            return None
        size, i = _ber_length(raw, i + 1)
        attributes, end = {}, i + size
        while i < end:
            if raw[i] != 0x30 or raw[_ber_length(raw, i + 1)[1]] != 0x04:
                return None
            size, i = _ber_length(raw, _ber_length(raw, i + 1)[1] + 1)
            name, i = raw[i:i + size].decode("utf-8").lower(), i + size
            if raw[i] != 0x31:
                return None
            size, i = _ber_length(raw, i + 1)
            values, stop = [], i + size
            while i < stop:
                if raw[i] != 0x04:
                    return None
                size, i = _ber_length(raw, i + 1)
                values.append(attribute_value(raw[i:i + size]))
                i += size
            if i != stop:
                return None
            attributes[name] = values
        if i != end:
            return None
    except (IndexError, UnicodeDecodeError):
        return None
    return message_id, {"type": "searchResEntry", "dn": dn, "attributes": attributes}


def _ber_length(data: bytes, at: int) -> tuple[int, int]:
    """The BER length starting at `at`, and where its content starts."""
    first = data[at]
    if first < 0x80:
        return first, at + 1
    count = first & 0x7F
    if not count or at + 1 + count > len(data):
        raise IndexError("indefinite or cut BER length")
    return int.from_bytes(data[at + 1:at + 1 + count], "big"), at + 1 + count


def attribute_value(value: bytes) -> str | bytes:
    """A value as text, or as bytes where it is not UTF-8 (GUIDs, SIDs)."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return bytes(value)
