"""Benchmark: how fast the triage session shows its first screen and finishes its checks.

Compared in one run with the floors they cannot beat:

- import: `import exops.tui.app` in a fresh interpreter, against `import textual.app` plus the
  widgets exops uses (Textual's own cost);
- first screen: `App.run_test()` from constructing the app to the Pilot being handed over (the
  overview composed and mounted), against a bare Textual app with a header, a static and a footer;
- checks finished: from constructing the app to its worker's report, against the same pipeline
  without a UI (`open_bundle` + `run_checks`, what `exops check --bundle` does);
- in a real terminal (tmux, when installed): from launching `python -m exops tui --bundle` to the
  overview on screen and to "Checks finished", polling the pane every 10 ms, against the wall
  time of `python -m exops check --bundle ... --format json` (a new interpreter as well).

Each measure runs `--repeat` times; best and median are printed.

    python bench/tui_startup.py [--bundle fixtures/scenarios/litware/bundle] [--repeat 5]
"""
from __future__ import annotations

import argparse
import asyncio
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEMO_BUNDLE = REPO / "fixtures" / "scenarios" / "litware" / "bundle"
SIZE = (120, 40)


def cold_import(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                         cwd=REPO)
    return float(out.stdout)


async def exops_session(bundle: str) -> tuple[float, float]:
    from exops.tui.app import ExopsApp

    start = time.perf_counter()
    app = ExopsApp(bundle=bundle)
    async with app.run_test(size=SIZE) as pilot:
        first = time.perf_counter() - start
        await app.workers.wait_for_complete()
        await pilot.pause()
        done = time.perf_counter() - start
        if app.session.phase != "done":
            raise SystemExit(f"the triage did not finish: {app.session.error}")
    return first, done


async def bare_textual() -> float:
    from textual.app import App
    from textual.widgets import Footer, Header, Static

    class Bare(App):
        def compose(self):
            yield Header()
            yield Static("hello")
            yield Footer()

    start = time.perf_counter()
    async with Bare().run_test(size=SIZE):
        return time.perf_counter() - start


def headless_pipeline(bundle: str) -> float:
    from exops.diagnose import run_checks, select_checks
    from exops.sources.bundle import open_bundle

    start = time.perf_counter()
    run_checks(open_bundle(bundle), f"bundle {bundle}", select_checks())
    return time.perf_counter() - start


def in_tmux(bundle: str) -> tuple[float, float]:
    """Launch to the overview drawn, and to the checks finished, in a 120x40 tmux pane."""
    tmux = ["tmux", "-L", f"exops-bench-{uuid.uuid4().hex[:8]}", "-f", "/dev/null"]
    command = f"exec {shlex.quote(sys.executable)} -m exops tui --bundle {shlex.quote(bundle)}"
    start = time.perf_counter()
    subprocess.run([*tmux, "new-session", "-d", "-s", "bench", "-x", "120", "-y", "40",
                    "-e", "TERM=xterm-256color", "-c", str(REPO), command], check=True)
    first = None
    try:
        while time.perf_counter() - start < 30:
            screen = subprocess.run([*tmux, "capture-pane", "-p", "-t", "bench"],
                                    capture_output=True, text=True, check=True).stdout
            now = time.perf_counter() - start
            if first is None and "Environment" in screen and "Overview" in screen:
                first = now
            if "Checks finished" in screen:
                return first or now, now
            time.sleep(0.01)
        raise SystemExit("the TUI did not finish its checks within 30 s in tmux")
    finally:
        socket = subprocess.run([*tmux, "display-message", "-p", "#{socket_path}"],
                                capture_output=True, text=True, check=False).stdout.strip()
        subprocess.run([*tmux, "kill-server"], capture_output=True, check=False)
        if socket:
            Path(socket).unlink(missing_ok=True)


def cli_check(bundle: str) -> float:
    start = time.perf_counter()
    # exit 2 (critical) is the expected outcome on litware, so the status is not checked
    subprocess.run([sys.executable, "-m", "exops", "check", "--bundle", bundle, "--format", "json"],
                   cwd=REPO, capture_output=True, check=False)
    return time.perf_counter() - start


def line(name: str, times: list[float], floor_name: str, floor: list[float]) -> str:
    best, median, floor_best = min(times), statistics.median(times), min(floor)
    return (f"{name:<16} best {best * 1000:7.0f} ms  median {median * 1000:7.0f} ms   "
            f"{floor_name:<28} best {floor_best * 1000:7.0f} ms   ratio {best / floor_best:4.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default=str(DEMO_BUNDLE))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not (Path(args.bundle) / "manifest.json").is_file() and not Path(args.bundle).is_file():
        raise SystemExit(f"no bundle at {args.bundle}: build one with "
                         "`python -m exops lab bundle -o <folder>` and pass --bundle")

    imports = [cold_import("import exops.tui.app") for _ in range(args.repeat)]
    textual_imports = [cold_import("import textual.app, textual.widgets; "
                                   "from textual.widgets import DataTable, Input, Markdown, Footer")
                       for _ in range(args.repeat)]
    asyncio.run(exops_session(args.bundle))  # warm: the first run pays for imports and disk cache
    sessions = [asyncio.run(exops_session(args.bundle)) for _ in range(args.repeat)]
    bare = [asyncio.run(bare_textual()) for _ in range(args.repeat)]
    pipeline = [headless_pipeline(args.bundle) for _ in range(args.repeat)]

    print(f"exops TUI start-up on {args.bundle}, {SIZE[0]}x{SIZE[1]}, {args.repeat} runs each "
          f"(Python {sys.version.split()[0]})")
    print(line("import", imports, "textual + widgets import", textual_imports))
    print(line("first screen", [s[0] for s in sessions], "bare Textual app", bare))
    print(line("checks finished", [s[1] for s in sessions], "same pipeline, no UI", pipeline))
    if shutil.which("tmux"):
        terminal = [in_tmux(args.bundle) for _ in range(args.repeat)]
        cli = [cli_check(args.bundle) for _ in range(args.repeat)]
        print(line("tmux: overview", [t[0] for t in terminal], "`exops check --format json`", cli))
        print(line("tmux: checks", [t[1] for t in terminal], "`exops check --format json`", cli))


if __name__ == "__main__":
    main()
