"""exops's directory source against a real Samba AD seeded with litware."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from exops.dn import fold
from exops.lab.samba import issue_ca
from exops.sources.directory import (DirectoryAuthFailed, DirectoryCancelled, DirectoryInsecure,
                                     DirectoryError, DirectorySource, DirectoryTimeout,
                                     DirectoryTLSError, DirectoryUnreachable, InsecureTransport)

pytestmark = pytest.mark.samba

ORPHANED = "/o=EUROPE/ou=First Administrative Group"


def _source(dc_settings, dc, password=None, **overrides) -> DirectorySource:
    settings, admin_password = dc_settings(dc, **overrides)
    return DirectorySource(settings, admin_password if password is None else password)


def test_collect_litware_over_validated_ldaps(litware_dc, dc_settings):
    with _source(dc_settings, litware_dc, base_dn=None) as source:
        facts = source.collect()
        assert source.base_dn == "DC=litware,DC=com"         # from the rootDSE
    assert [o.name for o in facts.organizations] == ["EUROPE"]
    assert {ag.name for ag in facts.admin_groups} == {
        "Exchange Administrative Group (FYDIBOHF23SPDLT)", "Amsterdam"}
    assert {s.name for s in facts.servers} == {"L12EX1", "L12EX2", "EX2003"}
    # msExchVersion as the lab's schema holds it: Exchange 2010 objects carry it, 2003 ones do not
    assert {s.name: s.object_release for s in facts.servers} == {"L12EX1": (14, 0), "L12EX2": (14, 0), "EX2003": ()}
    assert {db.name for db in facts.public_folder_databases} == {"PF01", "Public Folder Store (EX2003)"}
    assert len(facts.public_folder_trees) == 1
    assert facts.recipients_scanned == 555
    groups = {fold(g.prefix): g for g in facts.recipient_prefixes}
    assert groups[fold(ORPHANED)].counts == {"mailbox": 152, "contact": 2, "group": 1}
    assert groups[fold("/o=EUROPE/ou=Amsterdam")].counts == {"mailbox": 40}
    amsterdam = next(ag for ag in facts.admin_groups if ag.name == "Amsterdam")
    assert amsterdam.site_folder_server in {db.dn for db in facts.public_folder_databases}


def test_collect_reports_pages_and_stops_when_cancelled(litware_dc, dc_settings):
    source = _source(dc_settings, litware_dc)
    source.page_size = 100
    source.connections = 1   # one search: its pages are 100 entries each, in order
    seen = []
    source.collect(progress=seen.append)
    recipients = [p for p in seen if p.phase == "recipients"]
    assert [p.entries for p in recipients] == [100, 200, 300, 400, 500, 555]

    pages, cancel = [], threading.Event()

    def page(progress):
        pages.append(progress)
        if progress.phase == "recipients":
            cancel.set()   # as the TUI does when the session closes mid-scan
    with pytest.raises(DirectoryCancelled):
        source.collect(cancel=cancel, progress=page)
    assert [p.entries for p in pages if p.phase == "recipients"] == [100]
    source.close()


def test_prefix_search_ignores_case_and_stops_at_the_ag_boundary(litware_dc, dc_settings):
    with _source(dc_settings, litware_dc) as source:
        upper = list(source.recipients_with_prefix(ORPHANED.upper()))
        lower = list(source.recipients_with_prefix(ORPHANED.lower() + "/"))
        assert len(upper) == len(lower) == 155
        assert {e.first("legacyExchangeDN").split("/cn=")[0] for e in upper} == {
            ORPHANED, "/O=Europe/OU=first administrative group"}
        assert list(source.recipients_with_prefix("/o=EUROPE/ou=First Administrative")) == []
        narrowed = list(source.recipients_with_prefix(ORPHANED.upper(), narrow="(mailNickname=EU001)"))
        assert [e.first("mailNickname") for e in narrowed] == ["eu001"]


def test_filter_injection_is_escaped(litware_dc, dc_settings):
    with _source(dc_settings, litware_dc) as source:
        assert list(source.recipients_with_prefix("*)(objectClass=*")) == []
        assert list(source.recipients_with_prefix("*")) == []


def test_start_tls_validates_too(litware_dc, dc_settings):
    with _source(dc_settings, litware_dc, url=litware_dc.url_ldap, start_tls=True) as source:
        assert source.connection.tls_started
        assert source.read(litware_dc.base_dn) is not None


def test_wrong_ca_file_is_a_tls_error_naming_ca_and_certificate(litware_dc, dc_settings, tmp_path):
    other_ca = issue_ca(tmp_path / "other-ca", "not the lab CA")
    with pytest.raises(DirectoryTLSError) as caught:
        _source(dc_settings, litware_dc, ca_file=str(other_ca)).connect()
    message = str(caught.value)
    assert str(other_ca) in message and f"IP:{litware_dc.address}" in message
    assert "\n" not in message
    with pytest.raises(DirectoryTLSError):
        _source(dc_settings, litware_dc, url=litware_dc.url_ldap, start_tls=True,
                ca_file=str(other_ca)).connect()


def test_insecure_never_turns_certificate_validation_off(litware_dc, dc_settings, tmp_path):
    other_ca = issue_ca(tmp_path / "other-ca", "a man in the middle")
    for transport in ({}, {"url": litware_dc.url_ldap, "start_tls": True}):
        with pytest.raises(DirectoryTLSError, match="untrusted certificate"):
            _source(dc_settings, litware_dc, ca_file=str(other_ca), insecure=True,
                    **transport).connect()


def test_credentials_in_the_url_are_refused_without_showing_them(litware_dc, dc_settings):
    url = litware_dc.url_ldaps.replace("ldaps://", "ldaps://admin:Sup3rSecret@")
    with pytest.raises(DirectoryError) as caught:
        _source(dc_settings, litware_dc, url=url).connect()
    assert "credentials" in str(caught.value) and "Sup3rSecret" not in str(caught.value)


def test_missing_ca_file_is_a_tls_error(litware_dc, dc_settings, tmp_path):
    with pytest.raises(DirectoryTLSError, match="does not exist"):
        _source(dc_settings, litware_dc, ca_file=str(tmp_path / "none.pem")).connect()


def test_plain_ldap_only_when_settings_say_insecure(litware_dc, dc_settings):
    with pytest.raises(DirectoryInsecure):
        _source(dc_settings, litware_dc, url=litware_dc.url_ldap).connect()
    with pytest.warns(InsecureTransport, match="clear text"), \
            _source(dc_settings, litware_dc, url=litware_dc.url_ldap, insecure=True) as source:
        assert not source.connection.tls_started
        assert source.collect().recipients_scanned == 555


def test_bad_password_is_auth_failed(litware_dc, dc_settings):
    with pytest.raises(DirectoryAuthFailed, match="refused the credentials"):
        _source(dc_settings, litware_dc, password="not-the-password").connect()


def test_closed_port_is_unreachable_at_once(litware_dc, dc_settings):
    started = time.monotonic()
    with pytest.raises(DirectoryUnreachable, match="refused"):
        _source(dc_settings, litware_dc, url=f"{litware_dc.url_ldaps}:1").connect()
    assert time.monotonic() - started < 1


def test_silent_server_is_a_timeout(litware_dc, dc_settings):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        for url, extra in ((f"ldaps://127.0.0.1:{port}", {}),
                           (f"ldap://127.0.0.1:{port}", {"insecure": True})):
            started = time.monotonic()
            with pytest.raises(DirectoryTimeout):
                _source(dc_settings, litware_dc, url=url, timeout=1.0, **extra).connect()
            assert time.monotonic() - started < 3
