"""The stream reader's own decoding of what ends a search, against ldap3's decoding of the same
bytes, and its framing of messages however the socket cuts them (a real socket pair)."""
from __future__ import annotations

import socket
import threading

import pytest
from ldap3.core import exceptions as lx
from ldap3.strategy.base import BaseStrategy
from ldap3.utils.asn1 import decode_message_fast, ldap_result_to_dict_fast

from exops.sources.ldap_stream import StreamCancelled, _search_done, _Wire
from tests.unit.test_ldap_entry_decoding import ATTRIBUTES, ber, entry

PAGED = b"1.2.840.113556.1.4.319"


def done(message_id: int, code: int, message: bytes = b"", referrals=(), cookie: bytes | None = None,
         critical: bool = False) -> bytes:
    result = ber(0x0A, bytes([code])) + ber(0x04, b"") + ber(0x04, message)
    if referrals:
        result += ber(0xA3, b"".join(ber(0x04, r) for r in referrals))
    body = ber(0x02, message_id.to_bytes(2, "big")) + ber(0x65, result)
    if cookie is not None:
        value = ber(0x30, ber(0x02, b"\x00") + ber(0x04, cookie))
        other = ber(0x30, ber(0x04, b"1.2.840.113556.1.4.1339") + ber(0x04, b""))
        paged = ber(0x30, ber(0x04, PAGED) + (ber(0x01, b"\xff") if critical else b"") +
                    ber(0x04, value))
        body += ber(0xA0, other + paged)
    return ber(0x30, body)


@pytest.mark.parametrize("raw", [
    done(2, 0),
    done(3, 0, cookie=b"\x01\x02" * 200, critical=True),            # a cookie over 255 bytes
    done(4, 0, cookie=b""),                                        # the last page
    done(5, 4, b"size limit exceeded", cookie=b"7"),
    done(6, 10, b"Referral", referrals=[b"ldap://other.litware.com/DC=other,DC=com"]),
    done(7, 32, "no such object: Zoë".encode()),
])
def test_the_end_of_a_search_reads_as_ldap3_reads_it(raw):
    ours = _search_done(raw)
    reference = decode_message_fast(raw)
    result = ldap_result_to_dict_fast(reference["payload"])
    assert ours.description == result["description"]
    assert ours.message == result["message"]
    assert list(ours.referrals) == (result["referrals"] or [])
    cookie = b""
    for control in reference["controls"] or ():
        oid, decoded = BaseStrategy.decode_control_fast(control[3])
        if oid == PAGED.decode():
            cookie = decoded["value"]["cookie"]
    assert ours.cookie == cookie


def test_messages_are_framed_however_the_socket_cuts_them():
    messages = [entry(n, f"CN=User {n},DC=litware,DC=com".encode(), ATTRIBUTES) for n in range(1, 40)]
    messages.append(done(40, 0, cookie=b"x" * 300))
    wire_bytes = b"".join(messages)
    ours, theirs = socket.socketpair()

    def send():
        for start in range(0, len(wire_bytes), 97):          # cut anywhere, lengths included
            theirs.sendall(wire_bytes[start:start + 97])
        theirs.close()
    sender = threading.Thread(target=send)
    sender.start()
    try:
        frames = _Wire(ours).messages()
        assert [next(frames) for _ in messages] == messages
        with pytest.raises(lx.LDAPSessionTerminatedByServerError):
            next(frames)                                     # then the server closed
    finally:
        sender.join()
        ours.close()


def test_bytes_that_are_not_ldap_end_the_stream():
    ours, theirs = socket.socketpair()
    try:
        theirs.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        with pytest.raises(lx.LDAPSocketReceiveError):
            next(_Wire(ours).messages())
    finally:
        ours.close()
        theirs.close()


@pytest.mark.parametrize("cut", [3, 9, 14, -3])
def test_a_cut_end_of_search_is_an_error_not_a_traceback(cut):
    raw = bytearray(done(9, 0, cookie=b"abc"))
    with pytest.raises(lx.LDAPSocketReceiveError):
        _search_done(bytes(raw[:cut]))


def test_a_silent_server_yields_to_cancel_and_to_the_timeout():
    ours, theirs = socket.socketpair()
    try:
        cancel = threading.Event()
        cancel.set()
        with pytest.raises(StreamCancelled):
            next(_Wire(ours, cancel, timeout=60).messages())
        with pytest.raises(lx.LDAPSocketReceiveError, match="timed out"):
            next(_Wire(ours, threading.Event(), timeout=0.2).messages())
    finally:
        ours.close()
        theirs.close()
