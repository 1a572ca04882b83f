"""Property-based fuzzing of the LDIF reader: any bytes, and LDIF-shaped text, read or refused."""
from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from exops.sources.ldif import read_ldif_facts
from tests.hostile.fuzz import FUZZ, file_read_or_refused

NAMES = st.sampled_from(["dn", "objectClass", "legacyExchangeDN", "cn", "changetype", "version",
                         "proxyAddresses", "siteFolderServer", "msExchOwningPFTree", "x;binary",
                         "", " dn", "dn ", "a b"])
VALUES = st.text(max_size=60) | st.sampled_from([
    "user", "msExchAdminGroup", "add", "modify", "/o=X/ou=Y/cn=z", "CN=A,DC=x", "1"])


@st.composite
def ldif_lines(draw) -> str:
    kind = draw(st.sampled_from(["plain", "base64", "url", "fold", "comment", "blank", "junk"]))
    name, value = draw(NAMES), draw(VALUES)
    if kind == "plain":
        return f"{name}: {value}"
    if kind == "base64":
        raw = draw(st.binary(max_size=40)) if draw(st.booleans()) else value.encode("utf-8", "replace")
        encoded = base64.b64encode(raw).decode()
        return f"{name}:: {encoded if draw(st.booleans()) else encoded[:-1] + '*'}"
    if kind == "url":
        return f"{name}:< file:///etc/passwd"
    if kind == "fold":
        return " " + value
    if kind == "comment":
        return "#" + value
    if kind == "blank":
        return ""
    return value


@st.composite
def ldif_files(draw) -> bytes:
    lines = draw(st.lists(ldif_lines(), max_size=60))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = end.join(lines)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1"]))
    return text.encode(encoding, errors="replace")


@FUZZ
@given(data=ldif_files())
def test_ldif_shaped_text_is_read_or_refused(tmp_path_factory, data):
    file_read_or_refused(tmp_path_factory, "f.ldf", data, read_ldif_facts)


@FUZZ
@given(data=st.binary(max_size=4096))
def test_any_bytes_are_read_or_refused(tmp_path_factory, data):
    file_read_or_refused(tmp_path_factory, "b.ldf", data, read_ldif_facts)
