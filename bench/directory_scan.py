"""Benchmark: exops's directory collection (the orphan scan) against OpenLDAP's ldapsearch.

Both read the same two paged searches from the same lab Samba AD DC over the same transport
(LDAPS, certificate validated against the lab CA, 1,000 entries a page): the Exchange
configuration subtree and every recipient with a legacyExchangeDN, with the attributes exops asks
for. ldapsearch writes LDIF to /dev/null; exops folds the entries into DirectoryFacts, reading
the recipients as uSNCreated partitions on parallel connections (1 connection = the single
search). Each side runs `--repeat` times, interleaved, and the medians are compared (goal: exops
no slower than ldapsearch). Peak Python memory (tracemalloc) of exops's collect is measured in a
separate, untimed run at every size, to show it stays flat.

The DC runs in Samba's default process model (prefork: connections served by several processes,
as a production DC serves them on several cores) unless `--process-model single` (the tests'
one-process DC, on which parallel connections can only overlap the client's decoding with the
server's work).

The directories (litware's organisation at N mailboxes, exops.lab.scale) are seeded once and
cached as golden copies outside the repository like the test DCs (`$EXOPS_LAB_CACHE`, else
~/.cache/exops/samba); the first build of 100,000 users takes tens of minutes and is timed.

    python bench/directory_scan.py [--users 1000 10000 100000] [--repeat 5] [--connections 1 2 4]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exops.lab.samba import RunningDC, fresh_copy, golden_dc  # noqa: E402
from exops.lab.scale import scaled_litware  # noqa: E402
from exops.sources.directory import (RECIPIENT_FILTER, SEARCH_CONNECTIONS,  # noqa: E402
                                     DirectorySource)
from exops.sources.entries import ATTRIBUTES  # noqa: E402


def exops_collect(dc: RunningDC, connections: int) -> tuple[float, int]:
    source = DirectorySource(dc.directory_settings(), dc.admin_password, connections=connections)
    began = time.perf_counter()
    with source:
        facts = source.collect()
    return time.perf_counter() - began, facts.recipients_scanned


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


def peak_memory(dc: RunningDC, connections: int) -> int:
    """Peak bytes Python allocated (every thread) during one collect."""
    tracemalloc.start()
    try:
        exops_collect(dc, connections)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def measure(users: int, repeat: int, connections: list[int], process_model: str,
            workdir: Path) -> dict:
    """One directory size: build (or find) its golden DC, start a copy, time both sides."""
    began = time.monotonic()
    golden = golden_dc(scaled_litware(users))
    built = time.monotonic() - began
    dc = fresh_copy(golden, workdir / f"dc-{users}")
    running = dc.start(process_model=process_model)
    try:
        exops_collect(running, SEARCH_CONNECTIONS)        # warm Samba's caches for both sides
        times: dict[str, list[float]] = {"ldapsearch": []}
        for _ in range(repeat):
            times["ldapsearch"].append(ldapsearch_collect(running))
            for n in connections:
                seconds, scanned = exops_collect(running, n)
                if scanned != users:
                    raise SystemExit(f"exops read {scanned} recipients of {users}")
                times.setdefault(f"exops x{n}", []).append(seconds)
        memory = peak_memory(running, SEARCH_CONNECTIONS)
    finally:
        dc.stop()
    return {"users": users, "golden_seconds": built, "process_model": process_model,
            "times": times, "peak_bytes": memory, "repeat": repeat}


def report(results: list[dict]) -> list[str]:
    """Markdown table rows: medians and the ratio of each exops run to ldapsearch."""
    lines = ["| users | reader | median s | best s | entries/s | vs ldapsearch |",
             "|---:|---|---:|---:|---:|---:|"]
    for result in results:
        base = statistics.median(result["times"]["ldapsearch"])
        for name, times in result["times"].items():
            median = statistics.median(times)
            lines.append(f"| {result['users']:,} | {name} | {median:.2f} | {min(times):.2f} | "
                         f"{result['users'] / median:,.0f} | {median / base:.2f}x |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--process-model", default="prefork", choices=["prefork", "single"])
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="exops-bench-"))
    results = []
    for users in args.users:
        result = measure(users, args.repeat, args.connections, args.process_model, workdir)
        print(f"{users:>7,} users: golden DC ready in {result['golden_seconds']:.1f} s "
              f"(cached after the first build); peak Python memory of a collect "
              f"{result['peak_bytes'] / 1e6:.2f} MB", flush=True)
        results.append(result)
    print(f"\ncollect over LDAPS, Samba -M {args.process_model}, median of {args.repeat}, "
          f"default {SEARCH_CONNECTIONS} connections:")
    print("\n".join(report(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
