"""exops reads search entries straight from the LDAP message bytes; ldap3's own decoder of the
same bytes is the reference (the live directory tests read real Samba messages through both)."""
from __future__ import annotations

import pytest
from ldap3.utils.asn1 import decode_message_fast

from exops.sources.ldap_stream import search_entry


def ber(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + content


def entry(message_id: int, dn: bytes, attributes: list[tuple[bytes, list[bytes]]]) -> bytes:
    attrs = b"".join(ber(0x30, ber(0x04, name) + ber(0x31, b"".join(ber(0x04, v) for v in values)))
                     for name, values in attributes)
    return ber(0x30, ber(0x02, message_id.to_bytes(2, "big")) +
               ber(0x64, ber(0x04, dn) + ber(0x30, attrs)))


ATTRIBUTES = [(b"objectClass", [b"top", b"person", b"user"]),
              (b"legacyExchangeDN", [b"/o=EUROPE/ou=First Administrative Group/cn=Recipients/cn=x" * 5]),
              (b"proxyAddresses", [b"SMTP:a@litware.com"] * 40),          # a set over 255 bytes
              (b"objectGUID", [bytes(range(0xF0, 0x100))]),                 # not UTF-8
              (b"cn", ["Zoë Ørsted".encode()])]


def test_an_entry_reads_as_ldap3_reads_it():
    raw = entry(300, "CN=Zoë Ørsted,OU=Exchange Users,DC=litware,DC=com".encode(), ATTRIBUTES)
    message_id, lean = search_entry(raw)
    reference = decode_message_fast(raw)
    assert message_id == reference["messageID"] == 300
    payload = reference["payload"]
    assert lean["dn"] == payload[0][3].decode()
    assert list(lean["attributes"]) == [a[3][0][3].decode().lower() for a in payload[1][3]]
    assert lean["attributes"]["objectguid"] == [bytes(range(0xF0, 0x100))]
    assert lean["attributes"]["cn"] == ["Zoë Ørsted"]
    assert len(lean["attributes"]["proxyaddresses"]) == 40


def test_an_entry_without_attributes():
    assert search_entry(entry(7, b"DC=litware,DC=com", []))[1]["attributes"] == {}


@pytest.mark.parametrize("raw", [
    ber(0x30, ber(0x02, b"\x05") + ber(0x65, ber(0x0A, b"\x00") + ber(0x04, b"") + ber(0x04, b""))),
    entry(5, b"DC=x", ATTRIBUTES)[:-3],                       # cut short
    entry(5, b"\xff\xfe", ATTRIBUTES),                        # a DN that is not UTF-8
    b"",
], ids=["searchResDone", "truncated", "non-UTF-8 DN", "empty"])
def test_anything_else_is_left_to_ldap3(raw):
    assert search_entry(raw) is None
