"""The lab balancer: a real HAProxy built from the scenario's virtual services, in front of small
emulated CAS endpoints (exops.lab.cas_backend), one loopback address per Exchange server.

The scenario's `balancer:` section is the seed's table (service, port, persistence,
scheduling, health URL). Here the VIP is a claimed loopback address; Exchange-HTTPS is
terminated with a lab-CA certificate and re-encrypted to each server (verified), with cookie
persistence (HTTP-level, as KEMP's Super HTTP) and a `GET /owa` health check; the RPC, address
book and endpoint mapper services are TCP with source-IP persistence. Runtime changes are kept
in a server-state file, so a drain survives a reload.

Everything the lab runs is recorded in `balancer.json` in its directory, so another process
(`exops lab down`, a maintenance run restarting a backend) can find and stop it.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from exops.config import BalancerSettings
from exops.lab.certificates import issue_certificate
from exops.lab.samba import LabError, _AddressClaim, _port_free
from exops.lab.scenario import Scenario, ScenarioError
from exops.sources.loadbalancers.base import answers

STATE = "balancer.json"
RUNTIME_PORT = 9999          # the runtime API over TCP, on the VIP (not a service port)
START_TIMEOUT = 15.0
_children: dict[int, subprocess.Popen] = {}   # processes this process started, reaped on stop
_claims: list = []                            # loopback addresses held for this process's life


@dataclass(frozen=True)
class LabService:
    name: str
    port: int
    backend_port: int
    persistence: str = "source-ip"
    scheduling: str = "round-robin"
    check: str = ""          # the health URL, "" for a TCP check


@dataclass
class Process:
    argv: list[str]
    pid: int = 0
    started: int = 0         # start time in clock ticks, so a reused pid is not taken for it

    @property
    def running(self) -> bool:
        return self.pid > 0 and _stat(self.pid) == (self.started, True)


@dataclass
class LabState:
    name: str
    directory: str
    vip: str
    fqdn: str
    services: list[LabService]
    servers: dict[str, str]                       # Exchange server -> its loopback address
    backends: dict[str, Process] = field(default_factory=dict)
    haproxy: Process | None = None
    emulators: dict[str, str] = field(default_factory=dict)           # kemp / f5 -> address (port 443)
    emulator_processes: dict[str, Process] = field(default_factory=dict)

    @property
    def socket(self) -> str:
        return str(Path(self.directory) / "admin.sock")

    @property
    def config(self) -> str:
        return str(Path(self.directory) / "haproxy.cfg")

    @property
    def haproxy_log(self) -> Path:
        return Path(self.directory) / "haproxy.log"

    def save(self) -> None:
        path = Path(self.directory) / STATE
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, directory: Path) -> LabState:
        raw = json.loads((Path(directory) / STATE).read_text())
        raw["services"] = [LabService(**s) for s in raw["services"]]
        raw["backends"] = {k: Process(**v) for k, v in raw["backends"].items()}
        raw["haproxy"] = Process(**raw["haproxy"]) if raw["haproxy"] else None
        raw["emulator_processes"] = {k: Process(**v) for k, v in raw.get("emulator_processes", {}).items()}
        return cls(**raw)

    def settings(self) -> BalancerSettings:
        """The lab balancer as exops's configuration names it."""
        return BalancerSettings(name=self.name, type="haproxy", socket=self.socket, config=self.config,
                                serves=(self.fqdn,))


def scenario_balancer(scenario: Scenario) -> dict:
    """The scenario's `balancer:` section (read here so the scenario model stays the lab's)."""
    raw = yaml.safe_load(Path(scenario.path).read_text()) if scenario.path else {}
    section = (raw or {}).get("balancer")
    if not section:
        raise ScenarioError(f"{scenario.path}: no balancer: section (the seed's virtual services)")
    return section


def start_lab_balancer(scenario: Scenario, directory: Path, ca_dir: Path) -> LabState:
    """Claim addresses, issue certificates, start the CAS backends and HAProxy; wait until all answer."""
    spec = scenario_balancer(scenario)
    services = [LabService(name=s["name"], port=int(s["port"]),
                           backend_port=int(s.get("backend_port", s["port"])),
                           persistence=s.get("persistence", "source-ip"),
                           scheduling=s.get("scheduling", "round-robin"), check=s.get("check", ""))
                for s in spec["services"]]
    directory.mkdir(parents=True, exist_ok=True)
    vip = claim_address([s.port for s in services] + [RUNTIME_PORT, 8404])
    servers = {name: claim_address([s.backend_port for s in services]) for name in spec["servers"]}
    state = LabState(name=spec.get("name", "lab"), directory=str(directory), vip=vip,
                     fqdn=spec.get("fqdn", ""), services=services, servers=servers)
    certs = directory / "certs"
    issue_certificate(ca_dir, certs, "vip", [state.fqdn] if state.fqdn else [], [vip])
    for name, address in servers.items():
        fqdn = scenario.server(name).fqdn
        issue_certificate(ca_dir, certs, name.lower(), [fqdn], [address])
        state.backends[name] = Process(backend_argv(state, name))
    (certs / "ca.pem").write_bytes((ca_dir / "ca.pem").read_bytes())
    Path(state.config).write_text(haproxy_config(state, scenario))
    try:
        for name in servers:
            start_backend(state, name)
        state.haproxy = spawn(["haproxy", "-db", "-f", state.config], state.haproxy_log)
        wait_for_socket(state)
    except BaseException:
        stop_lab_balancer(state)
        raise
    state.save()
    return state


def backend_argv(state: LabState, name: str) -> list[str]:
    certs = Path(state.directory) / "certs"
    argv = [sys.executable, "-m", "exops.lab.cas_backend", name, state.servers[name],
            "--cert", str(certs / f"{name.lower()}.pem"), "--key", str(certs / f"{name.lower()}.key")]
    for s in state.services:
        argv += ["--https" if s.check else "--tcp", str(s.backend_port)]
    return argv


def haproxy_config(state: LabState, scenario: Scenario) -> str:
    d = Path(state.directory)
    lines = ["global", f"  stats socket {state.socket} mode 600 level admin",
             f"  stats socket ipv4@{state.vip}:{RUNTIME_PORT} level admin",
             f"  server-state-file {d / 'servers.state'}", "  maxconn 4000",
             "defaults", "  mode tcp", "  timeout connect 2s", "  timeout client 60s",
             "  timeout server 60s", "  timeout http-request 10s", "  load-server-state-from-file global",
             "  default-server inter 1s fall 2 rise 2", "",
             "listen stats", "  mode http", f"  bind {state.vip}:8404", "  stats enable", "  stats uri /", ""]
    for s in state.services:
        balance = {"round-robin": "roundrobin", "least-connection": "leastconn"}.get(s.scheduling, s.scheduling)
        lines += [f"listen {s.name}", f"  balance {balance}"]
        if s.check:
            lines += ["  mode http", f"  bind {state.vip}:{s.port} ssl crt {d / 'certs' / 'vip.bundle.pem'}",
                      "  cookie EXOPSSRV insert indirect nocache httponly secure",
                      f"  option httpchk GET {s.check}"]
        else:
            lines += [f"  bind {state.vip}:{s.port}"]
            if s.persistence == "source-ip":
                lines += ["  stick-table type ip size 10k expire 30m", "  stick on src"]
        for name, address in state.servers.items():
            server = f"  server {name} {address}:{s.backend_port} check"
            if s.check:
                server += (f" cookie {name} ssl verify required ca-file {d / 'certs' / 'ca.pem'}"
                           f" verifyhost {scenario.server(name).fqdn}")
            lines.append(server)
        lines.append("")
    return "\n".join(lines)


def start_backend(state: LabState, name: str) -> None:
    process = state.backends[name]
    started = spawn(process.argv, Path(state.directory) / f"{name.lower()}.log")
    process.pid, process.started = started.pid, started.started
    deadline = time.monotonic() + START_TIMEOUT
    ports = [s.backend_port for s in state.services]
    while not all(answers(f"{state.servers[name]}:{p}", 0.5) for p in ports):
        if not process.running:
            raise LabError(f"the emulated {name} exited while starting; see {state.directory}")
        if time.monotonic() > deadline:
            raise LabError(f"the emulated {name} did not listen within {START_TIMEOUT:g} s")
        time.sleep(0.05)


def restart_backend(directory: Path, name: str) -> Process:
    """Stop one emulated CAS and start it again (what a service restart is to its clients)."""
    state = LabState.load(directory)
    if name not in state.backends:
        raise LabError(f"the lab balancer has no server {name!r} (known: {', '.join(state.backends)})")
    stop(state.backends[name])
    start_backend(state, name)
    state.save()
    return state.backends[name]


def restart_balanced_backend(directory: Path, name: str) -> bool:
    """Restart the emulated CAS of `name` when the lab balancer in `directory` runs one (what an
    Information Store restart in the lab does to the balancer); False when there is none."""
    if not (Path(directory) / STATE).is_file():
        return False
    state = LabState.load(Path(directory))
    if not (state.haproxy and state.haproxy.running) or name not in state.backends:
        return False
    restart_backend(Path(directory), name)
    return True


def start_emulators(state: LabState, ca_dir: Path, password: str) -> None:
    """The KEMP and F5 API emulators over this HAProxy, each on its own address's port 443
    (not the VIP: the seed wants the admin interface off the service's IP:443)."""
    certs = Path(state.directory) / "certs"
    for kind in ("kemp", "f5"):
        address = claim_address([443])
        issue_certificate(ca_dir, certs, kind, [f"{state.name}-{kind}.{state.fqdn.partition('.')[2] or 'lab'}"],
                          [address])
        argv = [sys.executable, "-m", f"exops.lab.{kind}_emulator", state.directory, address, "443"]
        process = spawn(argv, Path(state.directory) / f"{kind}.log", env={"EXOPS_LAB_PASSWORD": password})
        state.emulators[kind], state.emulator_processes[kind] = address, process
        deadline = time.monotonic() + START_TIMEOUT
        while not answers(f"{address}:443", 0.5):
            if not process.running or time.monotonic() > deadline:
                raise LabError(f"the {kind} emulator did not start; see {state.directory}/{kind}.log")
            time.sleep(0.05)
    state.save()


def stop_lab_balancer(state: LabState) -> None:
    """Stop everything the lab balancer runs, as its directory records it now (a backend may have
    been restarted by another process since `state` was read)."""
    if (Path(state.directory) / STATE).is_file():
        state = LabState.load(Path(state.directory))
    for process in [*state.emulator_processes.values(), state.haproxy, *state.backends.values()]:
        if process is not None:
            stop(process)
    for path in (Path(state.directory) / STATE, Path(state.socket)):
        path.unlink(missing_ok=True)


def wait_for_socket(state: LabState) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if not state.haproxy.running:
            log = state.haproxy_log.read_text()[-500:]
            raise LabError(f"haproxy exited while starting: {log}")
        try:
            with socket.socket(socket.AF_UNIX) as conn:
                conn.connect(state.socket)
                conn.sendall(b"show info\n")
                if conn.recv(64):
                    return
        except OSError:
            time.sleep(0.05)
    raise LabError(f"haproxy's admin socket did not answer within {START_TIMEOUT:g} s")


# ---------------------------------------------------------------- processes and addresses

def spawn(argv: list[str], log: Path, env: dict[str, str] | None = None) -> Process:
    with open(log, "ab") as out:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, env={**os.environ, **(env or {})})
        except FileNotFoundError:
            raise LabError(f"{argv[0]} is not installed (apt-get install haproxy)") from None
    _children[proc.pid] = proc
    return Process(argv, proc.pid, _stat(proc.pid)[0] or 0)


def stop(process: Process, timeout: float = 10.0) -> None:
    """SIGTERM to its process group, SIGKILL if it lingers; reaped when this process started it."""
    if not process.running:
        _children.pop(process.pid, None)
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while process.running and time.monotonic() < deadline:
            child = _children.get(process.pid)
            if child is not None:
                child.poll()
            time.sleep(0.02)
        if not process.running:
            break
    child = _children.pop(process.pid, None)
    if child is not None:
        child.wait(1)


def _stat(pid: int) -> tuple[int | None, bool]:
    """(start time in clock ticks, alive and not a zombie) from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None, False
    return int(fields[19]), fields[0] not in ("Z", "X")


def claim_address(ports: list[int]) -> str:
    """A loopback address no other lab holds, with every port free; kept for this process's life."""
    held = []
    for _ in range(32):
        claim = _AddressClaim()
        if all(_port_free(claim.address, p) for p in ports):
            for other in held:
                other.release()
            _claims.append(claim)
            return claim.address
        held.append(claim)
    raise LabError("no loopback address with the lab balancer's ports free")

