"""Benchmark: exops's event-log scan against the Rust `evtx` package and naive python-evtx, on
generated Application logs from 10 MB to 1 GB, with one core and with all of them.

The logs are made by exops.lab.evtx_writer with a realistic mix: mostly ordinary events from
many providers (Exchange, Windows, applications), with a few hundred free/busy events (14031,
8207, 3047) spread through them. They are cached outside the repository (`$EXOPS_BENCH_CACHE`,
else ~/.cache/exops/bench) and reused while the writer and this generator are unchanged.

Every measurement runs in a fresh interpreter (`--one`), so each reader pays its own imports and
its peak RSS is its own (with exops's worker processes added: the peak of each, read while they
are still alive); the time is taken around the scan alone. Readers:

- exops (`scan_log`, pure-Python backend) with 1 worker and with every core, when `scan_log`
  takes `workers`;
- the Rust `evtx` package rendering every record (`records()` loop) with `number_of_threads`
  1 and every core;
- naive python-evtx (`record.xml()` per record) on the first NAIVE_RECORDS records of the
  smallest log only: at ~300 records/s it would take hours on the large ones.

    python bench/evtx_sizes.py [--sizes 10 100 1000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from exops.lab import evtx_writer  # noqa: E402
from exops.lab.evtx_writer import EventSpec, write_evtx  # noqa: E402

NAIVE_RECORDS = 1_000
FREE_BUSY_EVENTS = 300          # per log, whatever its size
GENERATOR_VERSION = "1"

# (provider, event id, level, qualifiers, data): what an Exchange 2010 server's Application
# log is mostly made of, plus Windows and third-party providers.
ORDINARY = (
    ("MSExchangeTransport", 12014, 3, 32772, ("Default EX01", "mail.contoso.com")),
    ("MSExchangeTransport", 7010, 4, 16388, ("SmtpReceive", "EX01", "Client Proxy EX01")),
    ("MSExchange ADAccess", 2080, 4, 16384, ("w3wp.exe", "4120", "DC01.contoso.com CDG 1 7 7 1 0 0 1 7 1")),
    ("MSExchangeIS", 9523, 2, 49152, ("Mailbox Database 01", "0x8004010f", "2013-11-04")),
    ("MSExchangeIS Mailbox Store", 1221, 4, 16384, ("Mailbox Database 01", "512")),
    ("MSExchangeMailboxAssistants", 9017, 4, 16384, ("Mailbox Database 01", "TopNWordsAssistant")),
    ("MSExchangeRepl", 4114, 4, 16384, ("Mailbox Database 01\\EX01",)),
    ("MSExchange Search Indexer", 107, 4, 16384, ("Mailbox Database 01",)),
    ("MSExchange OWA", 64, 3, 32768, ("https://mail.contoso.com/owa", "certificate expires soon")),
    ("MSExchangeSA", 9317, 3, 32768, ("0x80040111", "EX01")),
    ("ESE", 326, 4, None, ("MSExchangeIS", "3052", "Mailbox Database 01", "E:\\DB01\\DB01.edb")),
    ("ESE", 1000, 4, None, ("svchost", "6016", "Online defragmentation has completed")),
    ("Microsoft-Windows-Security-SPP", 16384, 4, 16384, ("2026-12-01T00:00:00Z", "RulesEngine")),
    ("Microsoft-Windows-Winlogon", 6000, 4, None, ("SessionEnv",)),
    ("Microsoft-Windows-RestartManager", 10000, 4, None, ("1", "2026-11-30T00:00:00")),
    ("MSSQL$SHAREPOINT", 17137, 4, 16384, ("WSS_Content",)),
    ("Application Error", 1000, 2, None, ("backup.exe", "6.1.7601.17514", "c0000005", "0x00012a4f")),
    ("Windows Error Reporting", 1001, 4, None, ("APPCRASH", "Not available", "0")),
    ("VSS", 8224, 4, None, ("The VSS service is shutting down due to idle timeout.",)),
    ("Symantec AntiVirus", 7, 4, None, ("Scan Complete: Risks: 0 Scanned: 18234",)),
)
FREE_BUSY = (
    ("MSExchange FreeBusy Assistant", 14031, 2, 49152),
    ("MSExchangeFBPublish", 8207, 2, 49152),
    ("MSExchangeIS Public Store", 3047, 4, 16384),
)
LEGACY_DN = "/o=CONTOSO/ou=First Administrative Group"


def realistic_events(count: int, seed: int = 12) -> Iterator[EventSpec]:
    """`count` events in time order, FREE_BUSY_EVENTS of them free/busy, made as they go."""
    rng = random.Random(seed)
    when = datetime(2026, 11, 1, tzinfo=timezone.utc)
    every = max(1, count // FREE_BUSY_EVENTS)
    for n in range(count):
        when += timedelta(milliseconds=rng.randrange(1, 4000))
        if n % every == every // 2:
            provider, event_id, level, qualifiers = FREE_BUSY[n // every % len(FREE_BUSY)]
            data = (f"{LEGACY_DN}/cn=Recipients/cn=user{rng.randrange(1000):03}",
                    f"Free/busy publishing failed for {LEGACY_DN}.", "0x8004010F")
        else:
            provider, event_id, level, qualifiers, data = rng.choice(ORDINARY)
        yield EventSpec(event_id=event_id, provider=provider, time=when, computer="EX01.contoso.com",
                        level=level, data=data, qualifiers=qualifiers)


def cache_dir() -> Path:
    return Path(os.environ.get("EXOPS_BENCH_CACHE") or Path.home() / ".cache" / "exops" / "bench")


def generated_log(megabytes: int) -> tuple[Path, float]:
    """A cached realistic log of about `megabytes` MB, and the seconds it took to make (0 if
    it was cached)."""
    digest = hashlib.sha256(Path(evtx_writer.__file__).read_bytes() + GENERATOR_VERSION.encode()
                            + inspect.getsource(realistic_events).encode()
                            + repr(ORDINARY).encode()).hexdigest()[:10]
    path = cache_dir() / f"application-{megabytes}MB-{digest}.evtx"
    if path.is_file():
        return path, 0.0
    path.parent.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    sample = path.with_suffix(".sample")
    write_evtx(sample, realistic_events(5_000))
    per_record = sample.stat().st_size / 5_000
    sample.unlink()
    partial = path.with_suffix(".partial")
    write_evtx(partial, realistic_events(int(megabytes * 1e6 / per_record)))
    partial.rename(path)
    return path, time.monotonic() - began


# ---------------------------------------------------------------- one measurement per process

def _exops(path: str, threads: int) -> int:
    from exops.sources.eventlog import scan_log
    extra = {"workers": threads} if "workers" in inspect.signature(scan_log).parameters else {}
    return scan_log(path, backend="python", **extra).records_read


def _children_peak_rss_mb() -> float:
    """The peak RSS of this process's live children (exops's worker pool), summed: Linux keeps
    it as VmHWM in /proc until they exit."""
    total = 0.0
    for children in Path("/proc/self/task").glob("*/children"):
        for pid in children.read_text().split():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            total += next((int(line.split()[1]) / 1024 for line in status.splitlines()
                           if line.startswith("VmHWM:")), 0.0)
    return total


def _rust(path: str, threads: int) -> int:
    import evtx
    read = 0
    records = evtx.PyEvtxParser(path, number_of_threads=threads).records()
    while True:
        try:
            next(records)
        except StopIteration:
            return read
        except RuntimeError:
            continue
        read += 1


def _naive(path: str, threads: int) -> int:
    from Evtx.Evtx import Evtx
    read = 0
    with Evtx(path) as log:
        for record in log.records():
            record.xml()
            read += 1
            if read == NAIVE_RECORDS:
                break
    return read


READERS = {"exops": _exops, "evtx (Rust)": _rust, "python-evtx (naive)": _naive}


def one(reader: str, path: str, threads: int) -> dict:
    began = time.perf_counter()
    records = READERS[reader](path, threads)
    seconds = time.perf_counter() - began
    return {"records": records, "seconds": seconds,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            + _children_peak_rss_mb()}


def in_child(reader: str, path: Path, threads: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", reader, str(path), str(threads)],
                         check=True, capture_output=True, text=True, cwd=REPO)
    return json.loads(out.stdout)


def exops_parallel() -> bool:
    from exops.sources.eventlog import scan_log
    return "workers" in inspect.signature(scan_log).parameters


def measure(sizes: list[int], repeat: int, cores: int | None = None) -> list[dict]:
    """One row per (size, reader, threads): median seconds and records/s, peak RSS."""
    cores = cores or os.cpu_count() or 1
    rows = []
    for megabytes in sizes:
        path, made = generated_log(megabytes)
        if made:
            print(f"  generated {path.name} in {made:.0f} s", flush=True)
        plan = [("evtx (Rust)", 1), ("evtx (Rust)", cores)]
        plan += [("exops", 1), ("exops", cores)] if exops_parallel() and cores > 1 else [("exops", 1)]
        if megabytes == min(sizes):
            plan.insert(0, ("python-evtx (naive)", 1))
        for reader, threads in plan:
            runs = [in_child(reader, path, threads)
                    for _ in range(1 if reader.startswith("python-evtx") else repeat)]
            seconds = statistics.median(r["seconds"] for r in runs)
            rows.append({"megabytes": megabytes, "size": path.stat().st_size, "reader": reader,
                         "threads": threads, "records": runs[0]["records"], "seconds": seconds,
                         "rate": runs[0]["records"] / seconds,
                         "rss_mb": max(r["rss_mb"] for r in runs), "runs": len(runs)})
            print(f"  {megabytes:>5} MB {reader:<20} x{threads}: {rows[-1]['rate']:>11,.0f} rec/s "
                  f"(median {seconds:.2f} s of {len(runs)}), peak RSS {rows[-1]['rss_mb']:.0f} MB",
                  flush=True)
    return rows


def report(rows: list[dict]) -> list[str]:
    """Markdown rows; each reader's rate against the Rust package with the same threads."""
    rust = {(r["megabytes"], r["threads"]): r["rate"] for r in rows if r["reader"] == "evtx (Rust)"}
    naive = next((r["rate"] for r in rows if r["reader"].startswith("python-evtx")), None)
    lines = ["| log | reader | threads | records | median s | records/s | vs Rust same threads "
             "| vs naive python-evtx | peak RSS MB, all processes |", "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['size'] / 1e6:,.0f} MB | {r['reader']} | {r['threads']} | "
                     f"{r['records']:,} | {r['seconds']:.2f} | {r['rate']:,.0f} | "
                     f"{_ratio(r['rate'], rust.get((r['megabytes'], r['threads'])))} | "
                     f"{_ratio(r['rate'], naive, '.0f')} | {r['rss_mb']:.0f} |")
    return lines


def _ratio(value: float, against: float | None, spec: str = ".2f") -> str:
    return f"{value / against:,{spec}}x" if against else "-"


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--one":
        print(json.dumps(one(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000], help="MB")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print("\n".join(report(measure(args.sizes, args.repeat))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
