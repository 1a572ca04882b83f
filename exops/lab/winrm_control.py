"""`exops lab up|status|down|tick` for the Exchange side: the WinRM endpoints run detached.

`exchange_up` starts `python -m exops.lab.winrm_lab` in its own session beside the lab DC and
waits until it has written its endpoints (with its pid); `exchange_down` stops it after checking
the pid is still that process; `exchange_tick` runs one store cycle on the lab state.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlsplit

from exops.lab.samba import CA_DIR, LAB_ADMIN_PASSWORD, DCInfo, LabError, _start_time, pid_alive
from exops.lab.winrm_lab import META, STATE, LabMeta, directory_reader
from exops.lab.exchange_emulation import ExchangeLab
from exops.config import DirectorySettings

PROCESS = "exchange-lab.pid"


def _settings(info: DCInfo, dc_target: Path) -> DirectorySettings:
    return DirectorySettings(url=f"ldaps://{info.address}", base_dn=info.base_dn, user=info.admin_user,
                             password_env="EXOPS_LAB_PASSWORD", ca_file=str(dc_target / CA_DIR / "ca.pem"))


def exchange_up(scenario: str, directory: Path, dc_target: Path, balancer: Path, timeout: float = 60.0) -> LabMeta:
    """Start (or keep) the scenario's WinRM endpoints; their LabMeta once they answer. A store
    restart restarts the server's emulated CAS in `balancer` when the lab balancer runs there."""
    running = exchange_meta(directory)
    if running is not None and running.pid and _alive(directory, running.pid):
        return running
    directory.mkdir(parents=True, exist_ok=True)
    (directory / META).unlink(missing_ok=True)
    info = DCInfo.load(dc_target)
    settings_file = directory / "directory.json"
    settings_file.write_text(json.dumps(asdict(_settings(info, dc_target))))
    log = open(directory / "winrm.log", "ab")
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "exops.lab.winrm_lab", str(directory), scenario, str(settings_file),
             str(dc_target / CA_DIR), str(balancer)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "EXOPS_LAB_PASSWORD": LAB_ADMIN_PASSWORD})
    finally:
        log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        meta = exchange_meta(directory)
        if meta is not None and meta.pid == process.pid and all(_answers(e.url) for e in meta.endpoints):
            (directory / PROCESS).write_text(json.dumps({"pid": process.pid, "started": _start_time(process.pid)}))
            return meta
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.terminate()
    raise LabError(f"the lab's Exchange servers did not start; see {directory / 'winrm.log'}")


def exchange_meta(directory: Path) -> LabMeta | None:
    try:
        return LabMeta.load(directory)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def exchange_running(directory: Path) -> bool:
    meta = exchange_meta(directory)
    return meta is not None and bool(meta.pid) and _alive(directory, meta.pid)


def exchange_down(directory: Path) -> bool:
    meta = exchange_meta(directory)
    if meta is None or not meta.pid or not _alive(directory, meta.pid):
        return False
    os.kill(meta.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while _alive(directory, meta.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return True


def exchange_tick(directory: Path, dc_target: Path) -> list[str]:
    """One maintenance and publish cycle of the lab's store (what `exops lab tick` prints)."""
    if not (directory / STATE).is_file():
        raise LabError(f"no lab Exchange state in {directory}: run 'exops lab up' first")
    lab = ExchangeLab(directory / STATE, directory_reader(_settings(DCInfo.load(dc_target), dc_target),
                                                          os.environ.get("EXOPS_LAB_PASSWORD", LAB_ADMIN_PASSWORD)))
    return lab.tick()


def _alive(directory: Path, pid: int) -> bool:
    try:
        recorded = json.loads((directory / PROCESS).read_text())
    except (OSError, ValueError):
        return False
    return recorded.get("pid") == pid and pid_alive(pid, recorded.get("started"))


def _answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1):
            return True
    except OSError:
        return False
