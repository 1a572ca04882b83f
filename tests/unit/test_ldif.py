"""ldifde exports: CRLF, folded lines, base64 values, UTF-16, and clear errors for the rest."""
from __future__ import annotations

import base64

import pytest

from exops.lab.directory_layout import all_entries
from exops.lab.ldif_export import write_ldif
from exops.lab.scenario import load_scenario
from exops.sources.ldif import LdifError, read_ldif, read_ldif_facts

ORPHAN = "/o=EUROPE/ou=First Administrative Group"


def test_folded_crlf_base64_records_read_back(tmp_path):
    name = "Zoë Ångström, Amsterdam"
    path = tmp_path / "x.ldf"
    legacy = f"{ORPHAN}/cn=Recipients/cn=" + "verylongalias" * 8
    path.write_bytes((
        "version: 1\r\n\r\n"
        f"dn: CN=Zoe,OU=Users,DC=litware,DC=com\r\nchangetype: add\r\n"
        f"displayName:: {base64.b64encode(name.encode()).decode()}\r\n"
        f"legacyExchangeDN: {legacy[:50]}\r\n {legacy[50:]}\r\n"
        "# a comment\r\n"
        "proxyAddresses: SMTP:zoe@litware.com\r\nproxyAddresses: X500:/o=OLD/ou=x\r\n").encode())
    [(dn, attrs)] = list(read_ldif(path))
    assert dn == "CN=Zoe,OU=Users,DC=litware,DC=com"
    assert attrs["displayname"] == [name]
    assert attrs["legacyexchangedn"] == [legacy]
    assert len(attrs["proxyaddresses"]) == 2


def test_utf16_export_is_read(tmp_path):
    path = tmp_path / "u.ldf"
    path.write_bytes("dn: CN=A,DC=x\r\nlegacyExchangeDN: /o=X/ou=Y/cn=a\r\n".encode("utf-16"))
    assert list(read_ldif(path)) == [("CN=A,DC=x", {"legacyexchangedn": ["/o=X/ou=Y/cn=a"]})]


@pytest.mark.parametrize("text, says", [
    ("cn: first\r\n", ":1: expected 'dn:"),
    ("dn: CN=A\r\nthis is not ldif\r\n", ":2: expected 'attribute: value'"),
    ("dn: CN=A\r\nphoto:: ***\r\n", ":2: photo: the base64 value"),
    ("dn: CN=A\r\nchangetype: modify\r\n", ":2: changetype 'modify'"),
    ("dn: CN=A\r\njpeg:< file:///etc/passwd\r\n", ":2: jpeg: values by URL"),
])
def test_malformed_ldif_names_the_line(tmp_path, text, says):
    path = tmp_path / "bad.ldf"
    path.write_text(text, newline="")
    with pytest.raises(LdifError, match=f"^{path}{says}"):
        list(read_ldif(path))


def test_not_text_is_refused(tmp_path):
    path = tmp_path / "bin.ldf"
    path.write_bytes(b"dn: \xff\xfe\xfa\x00\x81")
    with pytest.raises(LdifError, match="not UTF-8 or UTF-16"):
        list(read_ldif(path))


def test_litware_export_round_trips_to_the_facts_the_checks_need(tmp_path):
    path = tmp_path / "litware.ldf"
    write_ldif(path, all_entries(load_scenario("litware")))
    facts = read_ldif_facts(path)
    orphan = next(g for g in facts.recipient_prefixes if g.prefix.lower() == ORPHAN.lower())
    assert orphan.counts == {"mailbox": 152, "contact": 2, "group": 1}
    assert {ag.name for ag in facts.admin_groups} == {"Exchange Administrative Group (FYDIBOHF23SPDLT)", "Amsterdam"}
    assert len(facts.public_folder_databases) == 2 and facts.public_folder_trees
