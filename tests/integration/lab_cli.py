"""`exops` as a user runs it against a lab of its own: a private lab home, the lab's password."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


def lab_cli(folder: Path) -> Callable[..., subprocess.CompletedProcess]:
    """`run(*args)`: the real console entry in `folder`, with `$EXOPS_LAB_HOME` inside it."""
    env = {**os.environ, "EXOPS_LAB_HOME": str(folder / "home"), "EXOPS_LAB_PASSWORD": "Lab-Passw0rd!2011"}
    env.pop("EXOPS_CONFIG", None)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "exops", *args], env=env, cwd=folder,
                              capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    return run
