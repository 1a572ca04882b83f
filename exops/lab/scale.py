"""litware's organisation at any number of mailboxes: the directories of the scale benchmarks and
of the tests that compare the partitioned recipient scan with the single search.

Only the directory part of litware is kept (domain, organisation, site, administrative groups),
so that edits to litware's events or other keys leave the cached golden DCs valid. One mailbox
in ten keeps the old administrative group in its legacyExchangeDN, as in a half-finished
decommissioning. The scenario file is written under the lab cache (never in the repository): its
content, and so the golden DC's cache key, depends only on the size.
"""
from __future__ import annotations

import yaml

from exops.lab.samba import cache_root
from exops.lab.scenario import Scenario, load_scenario

ORPHAN_SHARE = 10
ORPHANED_PREFIX = "/o=EUROPE/ou=First Administrative Group"
CURRENT_PREFIX = "/o=EUROPE/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"


def scaled_litware(users: int) -> Scenario:
    """litware's organisation with `users` mailboxes, `users // 10` of them orphaned."""
    litware = yaml.safe_load(load_scenario("litware").path.read_text())
    raw = {key: litware[key] for key in ("domain", "organization", "site", "admin_groups")}
    orphans = users // ORPHAN_SHARE
    raw["name"] = f"bench-{users}"
    raw["recipients"] = [
        {"generate": orphans, "alias": "eu{n:05}", "name": "Europe User {n:05}", "kind": "mailbox",
         "home_mdb": "MDB01", "legacy_prefix": ORPHANED_PREFIX},
        {"generate": users - orphans, "alias": "user{n:05}", "name": "Litware User {n:05}",
         "kind": "mailbox", "home_mdb": "MDB02", "legacy_prefix": CURRENT_PREFIX},
    ]
    path = cache_root() / "bench-scenarios" / raw["name"] / "scenario.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(raw, sort_keys=False)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    return load_scenario(path)
