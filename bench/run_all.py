"""Every performance comparison in one run, written into docs/performance.md with a plot.

    python -m bench [--quick] [--repeat 3] [--only evtx directory tui fanout maintenance]

- event logs (bench/evtx_sizes.py): exops against the Rust `evtx` package (same number of
  threads) and naive python-evtx, on generated logs of 10 MB to 1 GB, 1 core and all cores;
- the directory (bench/directory_scan.py): exops's collect against ldapsearch over the same
  validated LDAPS, at 1,000, 10,000 and 100,000 mailboxes, with peak memory per size;
- the TUI (bench/tui_startup.py, bench/tui_latency.py): first screen, checks finished, and
  key-to-render latency while a large bundle is being scanned;
- the WinRM fan-out (bench/fanout.py) and maintenance under load
  (bench/maintenance_under_load.py), when those benches exist: run as they are, their output
  kept as printed.

The figures replace the part of docs/performance.md between the BEGIN and END markers (added
at its end the first time); the prose around them is written by hand. `--quick` caps the logs
at 100 MB and the directory at 10,000 mailboxes. Large inputs are
generated once and cached outside the repository (see each bench). The machine's load average
is recorded before and after every part: the figures of a part taken while other work kept the
cores busy are marked so in the document.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import pickle
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DOC = REPO / "docs" / "performance.md"
BEGIN = "<!-- BEGIN python -m bench: generated, edit bench/run_all.py instead -->"
END = "<!-- END python -m bench -->"
PLOT = REPO / "docs" / "performance.png"
PARTS = ("evtx", "directory", "tui", "fanout", "maintenance")
OTHER_BENCHES = {"fanout": "fanout.py", "maintenance": "maintenance_under_load.py"}


# ---------------------------------------------------------------- the machine

def machine() -> list[str]:
    cpu = next((line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    memory = next((int(line.split()[1]) / 1e6 for line in _read("/proc/meminfo").splitlines()
                   if line.startswith("MemTotal")), 0)
    versions = ", ".join(f"{name} {_version(name)}" for name in
                         ("textual", "ldap3", "evtx", "python-evtx", "matplotlib"))
    return [f"- CPU: {cpu}, {os.cpu_count()} cores; memory {memory:.1f} GB; "
            f"{platform.system()} {platform.release()}",
            f"- Python {platform.python_version()}; exops {_git('rev-parse', '--short', 'HEAD')} "
            f"(branch {_git('rev-parse', '--abbrev-ref', 'HEAD')}); {versions}",
            f"- {_command('samba', '--version')}; "
            f"{_command('ldapsearch', '-VV').splitlines()[0] if shutil.which('ldapsearch') else ''}"]


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "(not installed)"


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()


def _command(*args: str) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True)
    except FileNotFoundError:
        return f"{args[0]} not installed"
    return (done.stdout or done.stderr).strip().replace("\t", " ")


class Load:
    """The 1-minute load average before and after a part, and what that says of its figures."""

    def __init__(self) -> None:
        self.at = datetime.now(timezone.utc)
        self.before = os.getloadavg()[0]
        self.after = self.before

    def done(self) -> Load:
        self.after = os.getloadavg()[0]
        return self

    def note(self) -> str:
        cores = os.cpu_count() or 1
        busy = max(self.before, self.after) > cores * 0.75
        return (f"Measured {self.at:%Y-%m-%d %H:%M} UTC. Load average {self.before:.1f} before, "
                f"{self.after:.1f} after on {cores} cores"
                + (": **taken under load** (other work shared the cores), so absolute times "
                   "are pessimistic; the ratios compare runs interleaved under the same load."
                   if busy else ": the machine was quiet."))


# ---------------------------------------------------------------- the parts

def evtx_part(quick: bool, repeat: int) -> dict:
    from bench import evtx_sizes
    sizes = [10, 100] if quick else [10, 100, 1000]
    load = Load()
    rows = evtx_sizes.measure(sizes, repeat)
    return {"rows": rows, "table": evtx_sizes.report(rows), "load": load.done(),
            "parallel": evtx_sizes.exops_parallel()}


def directory_part(quick: bool, repeat: int) -> dict:
    from bench import directory_scan
    sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
    load = Load()
    workdir = Path(tempfile.mkdtemp(prefix="exops-bench-"))
    results = []
    for users in sizes:
        results.append(directory_scan.measure(users, repeat, [1], "prefork", workdir))
        print(f"  directory {users:,}: done", flush=True)
    shutil.rmtree(workdir, ignore_errors=True)
    return {"results": results, "table": directory_scan.report(results),
            "memory": directory_scan.memory_report(results), "load": load.done()}


def tui_part(quick: bool, repeat: int) -> dict:
    from bench import tui_startup
    load = Load()
    bundle = str(tui_startup.DEMO_BUNDLE)
    asyncio.run(tui_startup.exops_session(bundle))     # warm imports and the disk cache
    sessions = [asyncio.run(tui_startup.exops_session(bundle)) for _ in range(repeat)]
    bare = [asyncio.run(tui_startup.bare_textual()) for _ in range(repeat)]
    pipeline = [tui_startup.headless_pipeline(bundle) for _ in range(repeat)]
    rows = [("first screen (litware bundle)", [s[0] for s in sessions], "bare Textual app", bare),
            ("checks finished (litware bundle)", [s[1] for s in sessions],
             "same pipeline without UI", pipeline)]
    latency = []
    if (REPO / "bench" / "tui_latency.py").is_file():
        from bench import tui_latency
        latency = tui_latency.measure(quick=quick, repeat=repeat)
    return {"rows": rows, "latency": latency, "load": load.done()}


def other_bench(name: str, quick: bool) -> dict | None:
    script = REPO / "bench" / OTHER_BENCHES[name]
    if not script.is_file():
        return None
    load = Load()
    began = time.monotonic()
    done = subprocess.run([sys.executable, str(script), *(["--quick"] if quick else [])],
                          cwd=REPO, capture_output=True, text=True, timeout=3600)
    if done.returncode == 2 and "--quick" in done.stderr:   # a bench without a quick mode
        done = subprocess.run([sys.executable, str(script)], cwd=REPO, capture_output=True,
                              text=True, timeout=3600)
    return {"script": script.name, "output": (done.stdout + done.stderr).strip(),
            "status": done.returncode, "seconds": time.monotonic() - began, "load": load.done()}


# ---------------------------------------------------------------- the document

def measured(part: dict | None) -> dict | None:
    """The part if it ran to the end (a failed part is only named in the document)."""
    return part if part and "error" not in part else None


def plot(evtx: dict | None, directory: dict | None) -> bool:
    """Throughput against size (and cores) for the logs and the directory, as one PNG."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    parts = [p for p in (evtx, directory) if p]
    if not parts:
        return False
    figure, axes = plt.subplots(1, len(parts), figsize=(6.5 * len(parts), 4.2), squeeze=False)
    column = 0
    if evtx:
        ax = axes[0][column]
        column += 1
        series: dict[str, list[tuple[float, float]]] = {}
        for row in evtx["rows"]:
            series.setdefault(f"{row['reader']}, {row['threads']} thread(s)", []).append(
                (row["size"] / 1e6, row["rate"]))
        for label, points in series.items():
            ax.plot(*zip(*sorted(points)), marker="o", label=label)
        ax.set(xscale="log", yscale="log", xlabel="log size (MB)", ylabel="records per second",
               title="Event log scan")
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
    if directory:
        ax = axes[0][column]
        series = {}
        for result in directory["results"]:
            for name, times in result["times"].items():
                series.setdefault(name, []).append(
                    (result["users"], result["users"] / statistics.median(times)))
        for label, points in series.items():
            ax.plot(*zip(*sorted(points)), marker="o",
                    label=label)
        ax.set(xscale="log", xlabel="mailboxes", ylabel="entries per second",
               title="Directory collect over LDAPS")
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(PLOT, dpi=110)
    plt.close(figure)
    return True


def document(parts: dict, quick: bool, started: datetime, plotted: bool) -> str:
    out = ["# Performance: every figure in one run", "",
           f"Written by `python -m bench{' --quick' if quick else ''}` (bench/run_all.py) on "
           f"{started:%Y-%m-%d %H:%M} UTC; every figure below is set against its named "
           "alternative measured in the same run, at the time each part gives (medians, of as "
           "many runs as each part says). Regenerate with the same command; large inputs "
           "are generated and cached outside the repository.", "", "### Machine", "", *machine(), ""]
    if plotted:
        out += ["![throughput against size and cores](performance.png)", ""]
    evtx = measured(parts.get("evtx"))
    if evtx:
        out += ["### Event logs", "", evtx["load"].note(), "",
                "Generated Application logs (exops.lab.evtx_writer, a realistic mix: ordinary "
                "events of 20 providers, 300 free/busy events). Each reader runs in a fresh "
                "interpreter; time is the scan alone, peak RSS the whole process; medians of "
                f"{max(r['runs'] for r in evtx['rows'])} runs. Naive python-evtx reads the "
                "first 1,000 records of the smallest log only, once.", ""]
        if not evtx["parallel"]:
            out += ["This tree's `scan_log` has no `workers` parameter yet: exops runs on one "
                    "core in every row.", ""]
        out += [*evtx["table"], ""]
    directory = measured(parts.get("directory"))
    if directory:
        out += ["### Directory", "", directory["load"].note(), "",
                "Collect (configuration + every recipient with a legacyExchangeDN) from a lab "
                "Samba AD DC in its default prefork process model, LDAPS validated against the "
                "lab CA, the attributes exops asks for. `ldapsearch` pages 1,000 entries at a "
                "time (the reference); `exops` reads Samba unpaged (its default there), `exops "
                "paged` as it reads Active Directory (pages of 1,000, the next asked for while "
                "this one is folded); the ratio is each median (of "
                f"{directory['results'][0]['repeat']} interleaved runs) against ldapsearch's.", "",
                *directory["table"], "", *directory["memory"], ""]
    tui = measured(parts.get("tui"))
    if tui:
        out += ["### TUI", "", tui["load"].note(), "",
                f"Start-up on the litware demo bundle, {len(tui['rows'][0][1])} runs each:", "",
                "| measure | median ms | best ms | against | its median ms | ratio |",
                "|---|---:|---:|---|---:|---:|"]
        for name, times, floor_name, floor in tui["rows"]:
            median, floor_median = statistics.median(times), statistics.median(floor)
            out.append(f"| {name} | {median * 1000:.0f} | {min(times) * 1000:.0f} | {floor_name} "
                       f"| {floor_median * 1000:.0f} | {median / floor_median:.1f}x |")
        out += ["", *tui["latency"], ""]
    failed = [f"{name}: {part['error']}" for name, part in parts.items()
              if part and "error" in part]
    if failed:
        out += ["### Parts that failed in this run", "", *[f"- {line}" for line in failed], ""]
    for name in OTHER_BENCHES:
        other = measured(parts.get(name))
        if other is None:
            continue
        title = {"fanout": "WinRM fan-out", "maintenance": "Maintenance under load"}[name]
        out += [f"### {title}", "", other["load"].note(), "",
                f"`bench/{other['script']}` as printed (exit {other['status']}, "
                f"{other['seconds']:.0f} s):", "", "```", other["output"], "```", ""]
    missing = [OTHER_BENCHES[n] for n in OTHER_BENCHES if n in parts and parts[n] is None]
    if missing:
        out += [f"Not in this run (the bench does not exist in this tree yet): "
                f"{', '.join(missing)}.", ""]
    return "\n".join(out)


def evtx_sizes_cache() -> Path:
    from bench.evtx_sizes import cache_dir
    cache_dir().mkdir(parents=True, exist_ok=True)
    return cache_dir()


def write_section(path: Path, text: str) -> None:
    """Put `text` between the markers of `path`, or at its end with the markers."""
    old = path.read_text() if path.is_file() else ""
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
    else:
        head, tail = (old.rstrip() + "\n\n" if old.strip() else ""), "\n"
    path.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="logs up to 100 MB, directories up to 10,000 mailboxes")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS),
                        help="run these parts; the others keep the figures of the last run")
    parser.add_argument("--output", type=Path, default=DOC)
    parser.add_argument("--render", action="store_true",
                        help="measure nothing: write the document from the last run's figures")
    args = parser.parse_args()
    started = datetime.now(timezone.utc)
    runners = {"evtx": evtx_part, "directory": directory_part, "tui": tui_part}
    last_run = evtx_sizes_cache() / "last-run.pickle"
    parts: dict = {}
    if set(args.only) != set(PARTS) and last_run.is_file():
        parts = pickle.loads(last_run.read_bytes())
    if args.render:
        parts, args.only = pickle.loads(last_run.read_bytes()), []
    for name in args.only:
        print(f"{name}...", flush=True)
        try:
            parts[name] = runners[name](args.quick, args.repeat) if name in runners \
                else other_bench(name, args.quick)
        except (Exception, SystemExit) as exc:     # one broken part must not lose the others
            parts[name] = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"  {name} failed: {parts[name]['error']}", flush=True)
        last_run.write_bytes(pickle.dumps(parts))
    plotted = plot(measured(parts.get("evtx")), measured(parts.get("directory")))
    write_section(args.output, document(parts, args.quick, started, plotted))
    print(f"wrote {args.output}" + (f" and {PLOT}" if plotted else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
