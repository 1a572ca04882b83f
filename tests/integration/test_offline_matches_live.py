"""The offline fixture (ldifde export) and the live lab are made from one description: the
facts exops collects from the running Samba DC equal those it reads from the export."""
from __future__ import annotations

import pytest

from exops.sources.directory import DirectorySource
from exops.sources.ldif import read_ldif_facts
from tests.conftest import REPO

pytestmark = pytest.mark.samba


def test_live_litware_collects_the_same_facts_as_its_export(litware_dc):
    with DirectorySource(litware_dc.directory_settings(), litware_dc.admin_password) as source:
        live = source.collect()
    offline = read_ldif_facts(REPO / "fixtures" / "scenarios" / "litware" / "bundle" / "directory.ldf")
    for field in ("organizations", "admin_groups", "servers", "public_folder_databases",
                  "public_folder_trees", "containers", "recipient_prefixes", "recipients_scanned"):
        assert getattr(live, field) == getattr(offline, field), field
