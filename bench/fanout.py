"""Benchmark: reading many Exchange servers at once (exops's Fanout) against one after another.

The lab serves `--servers` clones of litware's L12EX1 (default 40), each WinRM endpoint adding
`--latency` seconds (default 0.2) to every HTTP request, as a WAN link to a far site would. Both
runs go through exops's own sources (one per server, pywinrm over HTTPS with NTLM and the lab CA,
every script a CAS+mailbox server is asked) and then run the server checks; the only difference
is the Fanout's bound: `MAX_PARALLEL` servers at a time against one at a time. The emulated
store reads litware's directory from its ldifde export, so no Samba DC is needed.

    python bench/fanout.py [--servers 40] [--latency 0.2]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exops.config import ExchangeSettings, ServerSettings  # noqa: E402
from exops.diagnose import run_checks  # noqa: E402
from exops.facts.directory import DirectoryFacts  # noqa: E402
from exops.facts.exchange import ExchangeFacts  # noqa: E402
from exops.facts.store import kind_named  # noqa: E402
from exops.lab.exchange_emulation import ExchangeLab, initial_state  # noqa: E402
from exops.lab.samba import LAB_ADMIN_PASSWORD, issue_ca  # noqa: E402
from exops.lab.scenario import load_scenario  # noqa: E402
from exops.lab.winrm_lab import clone_servers, serve  # noqa: E402
from exops.sources.evidence import EvidenceFile  # noqa: E402
from exops.sources.exchange import MAX_PARALLEL, ExchangeServerSource, Fanout  # noqa: E402
from exops.sources.source import collect_from  # noqa: E402

LDIF = Path(__file__).resolve().parents[1] / "fixtures" / "scenarios" / "litware" / "bundle" / "directory.ldf"


def read_all(settings: ExchangeSettings, limit: int) -> tuple[float, int, int]:
    """Seconds to collect every server and run the checks; servers read; findings."""
    fanout = Fanout(limit)
    sources = [ExchangeServerSource(s, settings, LAB_ADMIN_PASSWORD, fanout) for s in settings.servers]
    started = time.perf_counter()
    facts = collect_from(sources)
    report = run_checks(facts, "bench")
    elapsed = time.perf_counter() - started
    for source in sources:
        source.close()
    exchange = facts.get(ExchangeFacts)
    return elapsed, len(exchange.servers) if exchange else 0, len(report.findings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", type=int, default=40)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()
    scenario = load_scenario("litware")
    work = Path(tempfile.mkdtemp(prefix="exops-fanout-"))
    directory = EvidenceFile(kind_named("directory"), LDIF).facts().get(DirectoryFacts)
    lab = ExchangeLab(work / "state.json", lambda: directory)
    state = initial_state(scenario, lab.directory)
    clone_servers(state, args.servers)
    lab.path.write_text(json.dumps(state))
    issue_ca(work / "ca")
    with _removed(work), serve(lab, scenario, work, ca_dir=work / "ca",
                               password=LAB_ADMIN_PASSWORD, delay=args.latency) as running:
        settings = ExchangeSettings(
            user=running.meta.user, transport="ntlm", ca_file=running.meta.ca_file,
            servers=tuple(ServerSettings(e.server, e.url, ("cas", "mailbox")) for e in running.meta.endpoints))
        os.environ.setdefault("EXOPS_LAB_PASSWORD", LAB_ADMIN_PASSWORD)
        one, _, _ = read_all(ExchangeSettings(**{**settings.__dict__, "servers": settings.servers[:1]}), 1)
        together, read, findings = read_all(settings, MAX_PARALLEL)
        apart, read_apart, _ = read_all(settings, 1)
    print(f"{args.servers} servers, {args.latency * 1000:.0f} ms added to every request, "
          f"{os.cpu_count()} CPUs")
    print(f"  one server alone:                   {one:7.2f} s")
    print(f"  all, concurrently (Fanout, {MAX_PARALLEL:2} at once): {together:7.2f} s  "
          f"({read} servers read, {findings} findings)")
    print(f"  all, one after another:             {apart:7.2f} s  ({read_apart} servers read)")
    print(f"  sequential / concurrent: {apart / together:.1f}x; concurrent / one server: {together / one:.1f}x")


@contextlib.contextmanager
def _removed(work: Path):
    """The bench's working folder (its CA, the lab's state) is removed when the run ends."""
    try:
        yield
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
