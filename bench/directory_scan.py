"""Benchmark: exops's directory collection (the orphan scan) against OpenLDAP's ldapsearch.

Both read the same two paged searches from the same lab Samba AD DC over the same transport
(LDAPS, certificate validated against the lab CA, 1,000 entries a page): the Exchange
configuration subtree and every recipient with a legacyExchangeDN, with the attributes exops asks
for. ldapsearch writes LDIF to /dev/null; exops folds the entries into DirectoryFacts. Each side
runs `--repeat` times, alternating, and the best time of each is compared (goal: exops within
1.5x of ldapsearch). Peak Python memory (tracemalloc) of exops's collect is measured in a
separate, untimed run at 1,000 and at 10,000 users, to show it stays flat.

The directories are seeded once (10,000 users take about half a minute) and cached as golden
copies like the test DCs; set EXOPS_LAB_CACHE to choose where.

    python bench/directory_scan.py [--users 10000] [--small 1000] [--repeat 5]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exops.lab.samba import RunningDC, cache_root, fresh_copy, golden_dc  # noqa: E402
from exops.lab.scenario import load_scenario  # noqa: E402
from exops.sources.directory import RECIPIENT_FILTER, DirectorySource  # noqa: E402
from exops.sources.entries import ATTRIBUTES  # noqa: E402

ORPHAN_SHARE = 10     # one user in ten still carries the old AG in its legacyExchangeDN


def bench_scenario(users: int):
    """litware's organisation with `users` mailboxes, written where the lab cache lives."""
    litware = yaml.safe_load(load_scenario("litware").path.read_text())
    # Only what the directory needs, so that edits elsewhere in litware keep the cached DC valid.
    raw = {key: litware[key] for key in ("domain", "organization", "site", "admin_groups")}
    orphans = users // ORPHAN_SHARE
    raw["name"] = f"bench-{users}"
    raw["recipients"] = [
        {"generate": orphans, "alias": "eu{n:05}", "name": "Europe User {n:05}", "kind": "mailbox",
         "home_mdb": "MDB01", "legacy_prefix": "/o=EUROPE/ou=First Administrative Group"},
        {"generate": users - orphans, "alias": "user{n:05}", "name": "Litware User {n:05}",
         "kind": "mailbox", "home_mdb": "MDB02",
         "legacy_prefix": "/o=EUROPE/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"},
    ]
    path = cache_root() / "bench-scenarios" / raw["name"] / "scenario.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(raw, sort_keys=False)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    return load_scenario(path)


def started_dc(users: int, workdir: Path):
    scenario = bench_scenario(users)
    began = time.monotonic()
    golden = golden_dc(scenario)
    built = time.monotonic() - began
    dc = fresh_copy(golden, workdir / f"dc-{users}")
    dc.start()
    return dc, built


def exops_collect(dc: RunningDC):
    source = DirectorySource(dc.directory_settings(), dc.admin_password)
    began = time.perf_counter()
    with source:
        facts = source.collect()
    return time.perf_counter() - began, facts


def ldapsearch_collect(dc: RunningDC) -> float:
    env = {**os.environ, "LDAPTLS_CACERT": dc.ca_file, "LDAPTLS_REQCERT": "demand"}
    common = ["ldapsearch", "-LLL", "-x", "-H", dc.url_ldaps, "-D", dc.admin_user,
              "-w", dc.admin_password, "-E", "pr=1000/noprompt"]
    exchange = f"CN=Microsoft Exchange,CN=Services,CN=Configuration,{dc.base_dn}"
    began = time.perf_counter()
    for base, query in ((exchange, "(objectClass=*)"), (dc.base_dn, RECIPIENT_FILTER)):
        subprocess.run(common + ["-b", base, query, *ATTRIBUTES], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - began


def peak_memory(dc: RunningDC) -> int:
    tracemalloc.start()
    try:
        exops_collect(dc)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    import tempfile
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="exops-bench-"))

    dcs = {}
    for users in (args.small, args.users):
        dc, built = started_dc(users, workdir)
        dcs[users] = dc
        print(f"{users:>6} users: golden DC ready in {built:.1f} s (cached after the first run)")
    try:
        big = dcs[args.users].running
        exops_times, ldap_times = [], []
        exops_collect(big)            # warm Samba's caches for both sides
        for _ in range(args.repeat):
            seconds, facts = exops_collect(big)
            exops_times.append(seconds)
            ldap_times.append(ldapsearch_collect(big))
        assert facts.recipients_scanned == args.users, facts.recipients_scanned
        best_exops, best_ldap = min(exops_times), min(ldap_times)
        print(f"\ncollect {args.users} recipients + configuration over LDAPS, best of {args.repeat}:")
        print(f"  exops collect (ldap3, paged 1000)   {best_exops:6.2f} s  "
              f"({args.users / best_exops:,.0f} entries/s)")
        print(f"  ldapsearch -E pr=1000/noprompt      {best_ldap:6.2f} s  "
              f"({args.users / best_ldap:,.0f} entries/s)")
        ratio = best_exops / best_ldap
        print(f"  ratio exops / ldapsearch            {ratio:6.2f}x  (goal <= 1.5x)")

        small, large = peak_memory(dcs[args.small].running), peak_memory(big)
        print("\npeak Python memory of exops collect (tracemalloc):")
        print(f"  {args.small:>6} users  {small / 1e6:6.2f} MB")
        print(f"  {args.users:>6} users  {large / 1e6:6.2f} MB  ({large / small:.2f}x for "
              f"{args.users / args.small:.0f}x the users)")
        return 0 if ratio <= 1.5 else 1
    finally:
        for dc in dcs.values():
            dc.stop()


if __name__ == "__main__":
    sys.exit(main())
