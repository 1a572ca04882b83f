"""A directory whose recipients were cloned offline (exops.lab.seed.add_clones) is the directory
LDAP seeding makes: entry for entry on what exops reads, with indexes Samba can search, SIDs and
USNs of its own, and room for the DC to go on adding."""
from __future__ import annotations

import pytest

from exops.lab.exchange_schema import extend_schema
from exops.lab.lab_ldap import admin_connection
from exops.lab.samba import fresh_copy, golden_dc
from exops.lab.scale import scaled_litware
from exops.lab.seed import add_clones, seed_directory
from exops.sources.directory import RECIPIENT_FILTER, DirectorySource
from exops.sources.entries import ATTRIBUTES

pytestmark = pytest.mark.samba
USERS = 40


def _over_ldap(dc, scenario):
    extend_schema(dc)
    assert seed_directory(dc, scenario, offline=False).cloned == 0


def _cloned(dc, scenario):
    extend_schema(dc)
    assert seed_directory(dc, scenario, offline=True).cloned == USERS - 2   # one template a group
    return lambda target: add_clones(target, scenario)


@pytest.fixture(scope="module")
def two_dcs(tmp_path_factory):
    """The same scenario seeded both ways, each in a cache of its own, started."""
    started = []
    with pytest.MonkeyPatch.context() as patch:
        for name, build in (("ldap", _over_ldap), ("cloned", _cloned)):
            root = tmp_path_factory.mktemp(name)
            patch.setenv("EXOPS_LAB_CACHE", str(root / "cache"))
            dc = fresh_copy(golden_dc(scaled_litware(USERS), build), root / "dc")
            started.append((dc, dc.start()))
    yield [running for _dc, running in started]
    for dc, _running in started:
        dc.stop()


def _recipients(dc, attributes) -> dict[str, dict]:
    with DirectorySource(dc.directory_settings(), dc.admin_password) as source:
        return {entry.dn: entry.attrs for entry in source.search(dc.base_dn, RECIPIENT_FILTER, attributes)}


def test_cloned_recipients_read_as_seeded_ones(two_dcs):
    seeded, cloned = two_dcs
    expected = _recipients(seeded, ATTRIBUTES)
    assert len(expected) == USERS
    assert _recipients(cloned, ATTRIBUTES) == expected
    with DirectorySource(seeded.directory_settings(), seeded.admin_password) as one, \
            DirectorySource(cloned.directory_settings(), cloned.admin_password) as other:
        assert one.collect().recipient_prefixes == other.collect().recipient_prefixes


def test_cloned_recipients_have_their_own_identity_and_indexes(two_dcs):
    _seeded, cloned = two_dcs
    ids = _recipients(cloned, ["objectSid", "objectGUID", "uSNCreated", "sAMAccountName"])
    for name in ("objectsid", "objectguid", "usncreated"):
        assert len({bytes(v[name][0]) if isinstance(v[name][0], bytes) else v[name][0]
                    for v in ids.values()}) == USERS, name
    with DirectorySource(cloned.directory_settings(), cloned.admin_password) as source:
        # equality and one-level searches are answered from the rebuilt indexes
        last = max(ids.values(), key=lambda attrs: int(attrs["usncreated"][0]))
        found = list(source.search(cloned.base_dn, f"(sAMAccountName={last['samaccountname'][0]})", ["cn"]))
        assert len(found) == 1
        one_level = list(source.search(f"OU=Exchange Users,{cloned.base_dn}", "(objectClass=user)",
                                       ["cn"], scope="one"))
        assert len(one_level) == USERS
    conn = admin_connection(cloned)
    try:
        assert conn.add(f"CN=Added Later,OU=Exchange Users,{cloned.base_dn}",
                        ["top", "person", "organizationalPerson", "user"], {"sAMAccountName": "later"})
        conn.search(cloned.base_dn, "(sAMAccountName=later)", attributes=["objectSid", "uSNCreated"])
        added = conn.response[0]["raw_attributes"]
    finally:
        conn.unbind()
    assert added["objectSid"][0] not in {v["objectsid"][0] for v in ids.values()}
    assert int(added["uSNCreated"][0]) > max(int(v["usncreated"][0]) for v in ids.values())
