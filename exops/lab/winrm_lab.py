"""The lab's Exchange servers: one WinRM endpoint per Exchange 2010 server of a scenario.

`start_exchange_lab` (tests, the benchmark) serves them from this process; `exops lab up` runs
`python -m exops.lab.winrm_lab <lab dir>` detached, which serves them until `lab down`. Each
endpoint has its own port on 127.0.0.1 and a certificate from the lab CA naming 127.0.0.1 and
the server's FQDN; all answer from the one `ExchangeLab` state, which reads the lab DC.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import yaml

from exops.config import DirectorySettings
from exops.lab.exchange_emulation import ExchangeLab, initial_state
from exops.lab.samba import LAB_ADMIN_PASSWORD, issue_certificate
from exops.lab.scenario import Scenario, load_scenario
from exops.lab.winrm_server import Account, WinRMEndpoint
from exops.lab.wsman import ShellService

STATE = "exchange-state.json"
PUBLISH_EVERY = 600.0       # seconds between the store's publish cycles (14031 while a folder is missing)
META = "exchange-lab.json"
LAB_USER_NAME = "exopsadmin"


@dataclass(frozen=True)
class EndpointInfo:
    server: str
    url: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class LabMeta:
    """Kept in `<lab dir>/exchange-lab.json`: what `lab status`, `down` and the config need."""

    scenario: str
    user: str
    auth: str
    ca_file: str
    endpoints: tuple[EndpointInfo, ...]
    pid: int | None = None

    def save(self, directory: Path) -> None:
        (directory / META).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, directory: Path) -> LabMeta:
        raw = json.loads((directory / META).read_text())
        raw["endpoints"] = tuple(EndpointInfo(e["server"], e["url"], tuple(e["roles"])) for e in raw["endpoints"])
        return cls(**raw)

    def exchange_settings(self) -> dict:
        """The `exchange:` section of a configuration that reads this lab."""
        return {"user": self.user, "password_env": "EXOPS_LAB_PASSWORD", "transport": self.auth,
                "ca_file": self.ca_file,
                "servers": [{"name": e.server, "url": e.url, "roles": list(e.roles)} for e in self.endpoints]}


def directory_reader(settings: DirectorySettings, password: str):
    """The lab store's view of the directory, read anew at every cycle (it is the real DC)."""
    def read():
        from exops.facts.directory import DirectoryFacts
        from exops.sources.directory import DirectorySource
        source = DirectorySource(settings, password)
        try:
            return source.facts().get(DirectoryFacts)
        finally:
            source.close()
    return read


class RunningExchangeLab:
    """Endpoints served from this process; `stop()` ends them."""

    def __init__(self, lab: ExchangeLab, endpoints: list[WinRMEndpoint], meta: LabMeta):
        self.lab, self.endpoints, self.meta = lab, endpoints, meta

    def stop(self) -> None:
        for endpoint in self.endpoints:
            endpoint.stop()

    def __enter__(self) -> RunningExchangeLab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_exchange_lab(scenario: Scenario, directory: Path, settings: DirectorySettings, *, ca_dir: Path,
                       password: str = LAB_ADMIN_PASSWORD, auth: str = "ntlm", delay: float = 0.0,
                       fresh: bool = True, servers: int | None = None,
                       balancer: Path | None = None) -> RunningExchangeLab:
    """Serve the scenario's Exchange 2010 servers; `fresh` rebuilds the state from the scenario
    and the directory. `servers` clones the first server that many times (the benchmark's 40).
    `balancer`: the lab balancer's directory, whose emulated CAS a store restart restarts."""
    directory.mkdir(parents=True, exist_ok=True)
    lab = ExchangeLab(directory / STATE, directory_reader(settings, password), balancer)
    if fresh or not lab.path.exists():
        state = initial_state(scenario, lab.directory, overrides=scenario_overrides(scenario))
        if servers:
            clone_servers(state, servers)
        lab.path.write_text(json.dumps(state, indent=1))
    return serve(lab, scenario, directory, ca_dir=ca_dir, password=password, auth=auth, delay=delay)


def serve(lab: ExchangeLab, scenario: Scenario, directory: Path, *, ca_dir: Path, password: str,
          auth: str = "ntlm", delay: float = 0.0) -> RunningExchangeLab:
    """One endpoint per server of the lab state, each with a certificate from the lab CA."""
    state = lab.read()
    account = Account(f"{scenario.netbios}\\{LAB_USER_NAME}", password)
    roles = {s.name: s.roles for s in scenario.servers}
    endpoints, infos = [], []
    for name, server in state["servers"].items():
        key, cert = issue_certificate(ca_dir, directory / "tls" / name, server["fqdn"],
                                      addresses=("127.0.0.1",), dns_names=(server["fqdn"],))
        service = ShellService(lambda command, arguments, name=name: lab.run(name, command, arguments), name)
        endpoint = WinRMEndpoint(service, account, cert_file=cert, key_file=key, auth=auth, delay=delay).start()
        endpoints.append(endpoint)
        infos.append(EndpointInfo(name, endpoint.url, tuple(roles.get(name, roles.get(name.split("-")[0], ())))))
    meta = LabMeta(scenario.name, account.user, auth, str(ca_dir / "ca.pem"), tuple(infos))
    meta.save(directory)
    return RunningExchangeLab(lab, endpoints, meta)


def scenario_overrides(scenario: Scenario) -> dict:
    """The scenario's optional `exchange:` section: per server, what the lab breaks (docs/lab.md)."""
    if scenario.path is None:
        return {}
    raw = yaml.safe_load(Path(scenario.path).read_text()) or {}
    section = raw.get("exchange") or {}
    return section if isinstance(section, dict) else {}


def clone_servers(state: dict, count: int) -> None:
    """Replace the lab's servers with `count` copies of the first (L12EX1-01, ...), for scale."""
    first = next(iter(state["servers"].values()))
    domain = first["fqdn"].split(".", 1)[1]
    clones = {}
    for n in range(1, count + 1):
        name = f"{first['name']}-{n:02}"
        clones[name] = json.loads(json.dumps({**first, "name": name, "fqdn": f"{name.lower()}.{domain}"}))
    state["servers"] = clones
    state["organization"] += [{k: c[k] for k in ("name", "fqdn", "version", "roles", "site")}
                              for c in clones.values()]


def main(argv: list[str]) -> int:
    """`python -m exops.lab.winrm_lab <lab dir> <scenario> <dc settings json> <ca dir> [<balancer dir>]`:
    serve until SIGTERM."""
    directory, scenario_name, settings_file = Path(argv[0]), argv[1], Path(argv[2])
    settings = DirectorySettings(**json.loads(settings_file.read_text()))
    running = start_exchange_lab(load_scenario(scenario_name), directory, settings,
                                 ca_dir=Path(argv[3]), password=os.environ.get("EXOPS_LAB_PASSWORD", LAB_ADMIN_PASSWORD),
                                 balancer=Path(argv[4]) if len(argv) > 4 else None)
    replace(running.meta, pid=os.getpid()).save(directory)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(PUBLISH_EVERY):
        try:
            running.lab.publish()
        except Exception as exc:   # a DC briefly away must not end the lab; say so in its log
            print(f"publish cycle skipped: {exc}", file=sys.stderr, flush=True)
    running.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
