"""Benchmark: exops's directory collection (the orphan scan) against OpenLDAP's ldapsearch.

Both read the same two searches from the same lab Samba AD DC over the same transport (LDAPS,
certificate validated against the lab CA): the Exchange configuration subtree and every
recipient with a legacyExchangeDN, with the attributes exops asks for (RECIPIENT_ATTRIBUTES for
the recipients: what the facts are made of). The reference is ldapsearch paging 1,000 entries at
a time (`-E pr=1000/noprompt`, what an admin runs against Active Directory); ldapsearch without
paging is measured too, since exops reads Samba unpaged (DirectorySource.unpaged). ldapsearch
writes LDIF to /dev/null; exops folds the entries into DirectoryFacts. Rows: `exops` as it runs
by default, `exops paged` (what it does against Active Directory: pages of 1,000, the next asked
for while this one is folded), `exops xN` the recipients as uSNCreated partitions on N
connections. Each reader runs `--repeat` times, interleaved, and the medians are compared
(goal: exops no slower than ldapsearch). Peak Python memory (tracemalloc) of the default collect
is measured in a separate, untimed run at every size, to show it stays flat.

The DC runs in Samba's default process model (prefork: connections served by several processes,
as a production DC serves them on several cores) unless `--process-model single`.

The directories (litware's organisation at N mailboxes, exops.lab.scale) are built once and
cached as golden copies outside the repository like the test DCs (`$EXOPS_LAB_CACHE`, else
~/.cache/exops/samba); their recipients beyond 2,000 are cloned offline (exops.lab.seed), so the
first build of 100,000 users takes minutes, and is timed.

    python bench/directory_scan.py [--users 1000 10000 100000] [--repeat 5] [--connections 1 2 4]
"""
from __future__ import annotations

import argparse
import os
import shutil
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
from exops.sources.directory import RECIPIENT_FILTER, DirectorySource  # noqa: E402
from exops.sources.entries import ATTRIBUTES, RECIPIENT_ATTRIBUTES  # noqa: E402

REFERENCE = "ldapsearch"


# Samba stays silent until an unpaged search is done, and its first page of a paged one comes
# after a pass over every match: 13-16 s and more at 100,000 users, over exops's default 10 s.
TIMEOUT = 120.0


def exops_collect(dc: RunningDC, connections: int = 1, unpaged: bool | None = None) -> tuple[float, int]:
    source = DirectorySource(dc.directory_settings(timeout=TIMEOUT), dc.admin_password,
                             connections=connections, unpaged=unpaged)
    began = time.perf_counter()
    with source:
        facts = source.collect()
    return time.perf_counter() - began, facts.recipients_scanned


def ldapsearch_collect(dc: RunningDC, paged: bool = True) -> float:
    env = {**os.environ, "LDAPTLS_CACERT": dc.ca_file, "LDAPTLS_REQCERT": "demand"}
    common = ["ldapsearch", "-LLL", "-x", "-H", dc.url_ldaps, "-D", dc.admin_user,
              "-w", dc.admin_password, *(["-E", "pr=1000/noprompt"] if paged else [])]
    exchange = f"CN=Microsoft Exchange,CN=Services,CN=Configuration,{dc.base_dn}"
    began = time.perf_counter()
    for base, query, attributes in ((exchange, "(objectClass=*)", ATTRIBUTES),
                                    (dc.base_dn, RECIPIENT_FILTER, RECIPIENT_ATTRIBUTES)):
        subprocess.run(common + ["-b", base, query, *attributes], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - began


def peak_memory(dc: RunningDC) -> int:
    """Peak bytes Python allocated (every thread) during one default collect."""
    tracemalloc.start()
    try:
        exops_collect(dc)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def readers(connections: list[int], users: int) -> dict:
    """name -> a function timing one collect; exops's check it read every recipient."""
    def exops(n: int = 1, unpaged: bool | None = None):
        def run(dc: RunningDC) -> float:
            seconds, scanned = exops_collect(dc, n, unpaged)
            if scanned != users:
                raise SystemExit(f"exops read {scanned} recipients of {users}")
            return seconds
        return run
    chosen = {REFERENCE: ldapsearch_collect,
              "ldapsearch unpaged": lambda dc: ldapsearch_collect(dc, paged=False),
              "exops": exops(), "exops paged": exops(unpaged=False)}
    chosen.update({f"exops x{n}": exops(n) for n in connections if n > 1})
    return chosen


def measure(users: int, repeat: int, connections: list[int], process_model: str,
            workdir: Path) -> dict:
    """One directory size: build (or find) its golden DC, start a copy, time every reader."""
    began = time.monotonic()
    golden = golden_dc(scaled_litware(users))
    built = time.monotonic() - began
    dc = fresh_copy(golden, workdir / f"dc-{users}")
    running = dc.start(process_model=process_model)
    try:
        exops_collect(running)        # warm Samba's caches for every reader
        timed = readers(connections, users)
        times: dict[str, list[float]] = {name: [] for name in timed}
        for _ in range(repeat):
            for name, run in timed.items():
                times[name].append(run(running))
        memory = peak_memory(running)
    finally:
        dc.stop()
        shutil.rmtree(workdir / f"dc-{users}", ignore_errors=True)
    return {"users": users, "golden_seconds": built, "process_model": process_model,
            "times": times, "peak_bytes": memory, "repeat": repeat}


def report(results: list[dict]) -> list[str]:
    """Markdown table rows: medians and the ratio of each reader to the paged ldapsearch."""
    lines = ["| users | reader | median s | best s | entries/s | vs ldapsearch |",
             "|---:|---|---:|---:|---:|---:|"]
    for result in results:
        base = statistics.median(result["times"][REFERENCE])
        for name, times in result["times"].items():
            median = statistics.median(times)
            lines.append(f"| {result['users']:,} | {name} | {median:.2f} | {min(times):.2f} | "
                         f"{result['users'] / median:,.0f} | {median / base:.2f}x |")
    return lines


def memory_report(results: list[dict]) -> list[str]:
    lines = ["| users | golden DC built in (s, 0 = cached) | peak Python memory of a collect |",
             "|---:|---:|---:|"]
    return lines + [f"| {r['users']:,} | {r['golden_seconds']:.0f} | {r['peak_bytes'] / 1e6:.2f} MB |"
                    for r in results]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--connections", type=int, nargs="+", default=[1])
    parser.add_argument("--process-model", default="prefork", choices=["prefork", "single"])
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="exops-bench-"))
    results = []
    try:
        for users in args.users:
            result = measure(users, args.repeat, args.connections, args.process_model, workdir)
            print(f"{users:>7,} users: golden DC ready in {result['golden_seconds']:.1f} s "
                  f"(cached after the first build)", flush=True)
            results.append(result)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\ncollect over LDAPS, Samba -M {args.process_model}, median of {args.repeat}:")
    print("\n".join(report(results)))
    print("\n".join(["", *memory_report(results)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
