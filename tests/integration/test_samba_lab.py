"""The lab's Samba AD DC: golden directories, isolated fresh copies, TLS, clean stops."""
from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ldap3 import BASE, MODIFY_REPLACE, SUBTREE

from exops.dn import admin_group_dn, is_deleted_reference
from exops.lab.exchange_schema import extend_schema
from exops.lab.lab_ldap import admin_connection
from exops.lab.samba import DCInfo, golden_dc, golden_key
from exops.lab.scenario import load_scenario
from exops.lab.seed import RECIPIENTS_OU

pytestmark = pytest.mark.samba


def _count(conn, base: str, query: str) -> int:
    conn.search(base, query, SUBTREE, attributes=["cn"])
    return sum(1 for e in conn.response if e["type"] == "searchResEntry")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


def test_golden_directory_is_built_once_and_reused(litware, litware_golden):
    started = time.monotonic()
    assert golden_dc(litware) == litware_golden
    assert time.monotonic() - started < 1
    assert DCInfo.load(litware_golden).pid is None     # a golden copy is never "running"


def test_golden_key_follows_the_scenario_file(litware, tmp_path):
    changed = tmp_path / "scenario.yaml"
    changed.write_text(litware.path.read_text().replace("generate: 140", "generate: 141"))
    assert golden_key(load_scenario(changed)) != golden_key(litware)
    same = tmp_path / "same" / "scenario.yaml"
    same.parent.mkdir()
    same.write_text(litware.path.read_text())
    assert golden_key(load_scenario(same)) == golden_key(litware)


def test_seeded_directory_holds_the_scenario(litware_dc, litware):
    conn = admin_connection(litware_dc)
    users = f"OU={RECIPIENTS_OU},{litware_dc.base_dn}"
    assert _count(conn, users, "(&(objectClass=user)(homeMDB=*))") == 552
    assert _count(conn, users, "(objectClass=contact)") == 2
    assert _count(conn, users, "(objectClass=group)") == 1
    config = f"CN=Configuration,{litware_dc.base_dn}"
    assert _count(conn, config, "(objectClass=msExchAdminGroup)") == 2
    assert _count(conn, config, "(objectClass=msExchPublicMDB)") == 2
    assert _count(conn, config, "(objectClass=msExchPFTree)") == 1


def test_schema_extension_is_idempotent(litware_dc):
    assert extend_schema(litware_dc) == []


def test_substring_match_on_legacy_dn_ignores_case(litware_dc):
    conn = admin_connection(litware_dc)
    upper = _count(conn, litware_dc.base_dn, "(legacyExchangeDN=/O=EUROPE/OU=FIRST ADMINISTRATIVE GROUP/*)")
    lower = _count(conn, litware_dc.base_dn, "(legacyExchangeDN=/o=europe/ou=first administrative group/*)")
    assert upper == lower == 140 + 12 + 2 + 1


def test_fresh_copies_are_isolated(fresh_dc):
    first = fresh_dc()
    conn = admin_connection(first.running)
    dn = f"CN=Only In First,OU={RECIPIENTS_OU},{first.running.base_dn}"
    assert conn.add(dn, ["top", "person", "organizationalPerson", "contact"]), conn.result
    first.stop()

    second = fresh_dc()
    conn = admin_connection(second.running)
    conn.search(dn, "(objectClass=*)", BASE)
    assert conn.result["description"] == "noSuchObject"
    conf = (second.target / "etc" / "smb.conf").read_text()
    assert str(first.target) not in conf and str(second.target) in conf


def test_two_copies_run_side_by_side(litware_dc, fresh_dc):
    other = fresh_dc().running
    assert other.address != litware_dc.address
    for dc in (litware_dc, other):
        assert admin_connection(dc).bound


def test_ldaps_certificate_is_issued_for_the_address(litware_dc):
    context = ssl.create_default_context(cafile=litware_dc.ca_file)
    with socket.create_connection((litware_dc.address, 636), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname=litware_dc.address) as tls:
        san = tls.getpeercert()["subjectAltName"]
    assert ("IP Address", litware_dc.address) in san
    assert ("DNS", "dc1.litware.com") in san


def test_stop_ends_samba_and_frees_the_address(fresh_dc):
    dc = fresh_dc()
    pid, address = dc.running.pid, dc.running.address
    dc.stop()
    assert not _alive(pid)
    with pytest.raises(OSError):
        socket.create_connection((address, 636), timeout=1).close()


def test_killed_owner_takes_its_dc_along(litware_golden, tmp_path):
    """Samba reads its stdin from a pipe the owner holds: even `kill -9` of the owner ends it."""
    owner = ("import os, sys; from pathlib import Path; from exops.lab.samba import fresh_copy; "
             "dc = fresh_copy(Path(sys.argv[1]), Path(sys.argv[2])); "
             "print(dc.start().pid, flush=True); os.kill(os.getpid(), 9)")
    done = subprocess.run([sys.executable, "-c", owner, str(litware_golden), str(tmp_path / "dc")],
                          capture_output=True, text=True, timeout=60)
    pid = int(done.stdout.split()[0])
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)


def test_deleted_site_folder_server_reads_back_mangled(fresh_dc, litware):
    """What a stale siteFolderServer looks like: AD's (and Samba's) `\\0ADEL:<guid>` form."""
    dc = fresh_dc().running
    conn = admin_connection(dc)
    ag = admin_group_dn(dc.base_dn, litware.org, "Amsterdam")
    conn.search(ag, "(objectClass=*)", BASE, attributes=["siteFolderServer"])
    store = conn.response[0]["attributes"]["siteFolderServer"][0]
    assert conn.delete(store), conn.result

    conn.search(ag, "(objectClass=*)", BASE, attributes=["siteFolderServer"])
    stale = conn.response[0]["attributes"]["siteFolderServer"][0]
    assert "\\0ADEL:" in stale and ",CN=Deleted Objects,CN=Configuration," in stale
    assert is_deleted_reference(stale)


def test_missing_site_folder_server_target_is_refused(fresh_dc, litware):
    dc = fresh_dc().running
    conn = admin_connection(dc)
    ag = admin_group_dn(dc.base_dn, litware.org, "Amsterdam")
    missing = f"CN=Nowhere,CN=Configuration,{dc.base_dn}"
    assert not conn.modify(ag, {"siteFolderServer": [(MODIFY_REPLACE, [missing])]})
    assert conn.result["description"] == "constraintViolation"
