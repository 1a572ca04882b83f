"""The Exchange side of the lab: what exops's scripts would find on the scenario's servers.

Lab equipment, documented in docs/lab.md. State (servers, services, registry values, virtual
directories, free/busy folders, each server's event log) is kept in one JSON file so that the
WinRM endpoints, `exops lab tick` and the tests share it across processes (a file lock orders
them). The directory is the real Samba DC: the store reads administrative groups,
siteFolderServer, public folder databases and users' legacyExchangeDN from it, as the real
store does, at each maintenance cycle.

The store behaves as the seed describes: an Information Store restart (or `exops lab tick`, a
maintenance cycle) creates `SCHEDULE+ FREE BUSY\\EX:<legacyExchangeDN>` for every administrative
group whose siteFolderServer names a public folder database on that server, logging 3047; every
publish cycle (`tick`) logs 14031 on the mailbox servers for each prefix users carry that has no
folder. Only exops's own scripts are answered (`exops.powershell.recognise`). When the lab
balancer runs, an Information Store restart also restarts that server's emulated CAS endpoints,
so HAProxy sees the restart (`exops maintenance SERVER -- restart-store`).
"""
from __future__ import annotations

import fcntl
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from exops import powershell
from exops.dn import fold, is_deleted_reference
from exops.facts.exchange import database_server
from exops.lab.evtx_writer import EventSpec, write_evtx
from exops.lab.haproxy import restart_balanced_backend
from exops.lab.samba import LabError
from exops.lab.scenario import Scenario, _free_busy
from exops.lab.wsman import CommandResult

FREE_BUSY = "\\NON_IPM_SUBTREE\\SCHEDULE+ FREE BUSY"
ROLE_NAMES = {"mailbox": "Mailbox", "cas": "ClientAccess", "hub": "HubTransport", "um": "UnifiedMessaging",
              "edge": "Edge"}
RPC_KEY = "HKLM:\\SYSTEM\\CurrentControlSet\\Services\\MSExchangeRPC\\ParametersSystem"
AB_KEY = "HKLM:\\SYSTEM\\CurrentControlSet\\Services\\MSExchangeAB\\Parameters"
SERVICES = ("MSExchangeIS", "MSExchangeRPC", "MSExchangeAB")
VDIR_PATHS = {"owa": ("owa (Default Web Site)", "/owa"), "ews": ("EWS (Default Web Site)", "/EWS/Exchange.asmx"),
              "ecp": ("ecp (Default Web Site)", "/ecp"), "oab": ("OAB (Default Web Site)", "/OAB"),
              "activesync": ("Microsoft-Server-ActiveSync (Default Web Site)", "/Microsoft-Server-ActiveSync"),
              "autodiscover": ("Autodiscover (Default Web Site)", "")}
BASE_PORTS = (135, 443, 5986)
CHANGING = {"restart-service", "set-rpc-client-access", "set-rpc-port", "set-replicas"}   # scripts that change the state
PORT_VALUES = {"TCP/IP Port": (RPC_KEY, "DWord"), "RpcTcpPort": (AB_KEY, "String")}


def powershell_json(value: Any) -> str:
    """JSON exactly as prelude.ps1's ConvertTo-ExopsJson writes it: ASCII only, every character
    outside printable ASCII and every quote and backslash as \\uXXXX, dates as round-trip UTC."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return '"' + value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z") + '"'
    if isinstance(value, dict):
        return "{" + ",".join(f"{powershell_json(str(k))}:{powershell_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(powershell_json(v) for v in value) + "]"
    units = str(value).encode("utf-16-le")
    out = []
    for i in range(0, len(units), 2):
        code = int.from_bytes(units[i:i + 2], "little")
        out.append(f"\\u{code:04x}" if code < 32 or code > 126 or code in (34, 92) else chr(code))
    return '"' + "".join(out) + '"'


class ExchangeLab:
    """The emulated organisation in `state_path`, with the directory it reads from."""

    def __init__(self, state_path: Path, directory=None, balancer: Path | None = None):
        self.path = Path(state_path)
        self.directory = directory          # () -> DirectoryFacts of the lab DC, read when needed
        self.balancer = balancer            # the lab balancer's directory, when one may run

    # ------------------------------------------------------------ state

    @contextmanager
    def state(self, write: bool = True) -> Iterator[dict]:
        """The state, locked against the other lab processes (shared when only reading); with
        `write`, written back when the block ends."""
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
            data = json.loads(self.path.read_text())
            yield data
            if write:
                temporary = self.path.with_suffix(f".{threading.get_ident()}.tmp")
                temporary.write_text(json.dumps(data, indent=1))
                temporary.replace(self.path)

    def read(self) -> dict:
        with self.state(write=False) as data:
            return data

    # ------------------------------------------------------------ answering scripts

    def run(self, server: str, command: str, arguments: str) -> CommandResult:
        """What a server's WinRS shell gives for a command line; only exops's scripts are known."""
        match = re.fullmatch(r"(?i)powershell(?:\.exe)? (.*)-EncodedCommand ([A-Za-z0-9+/=]+)",
                             f"{command} {arguments}".strip())
        if match is None:
            return CommandResult(b"", f"'{command}' is not recognized as an internal or external command, "
                                      "operable program or batch file.\r\n".encode(), 1)
        import base64
        try:
            script = base64.b64decode(match.group(2)).decode("utf-16-le")
        except ValueError:
            return CommandResult(b"", b"Cannot process the command because the value of -EncodedCommand "
                                      b"is not valid base64.\r\n", 1)
        known = powershell.recognise(script)
        if known is None:
            return CommandResult(b"", b"The lab answers only exops's own scripts.\r\n", 1)
        name, session, parameters = known
        with self.state(write=name in CHANGING) as data:
            if server not in data["servers"]:
                return CommandResult(b"", f"{server} is not a server of this lab.\r\n".encode(), 1)
            try:
                answer = getattr(self, "_" + name.replace("-", "_"))(data, server, parameters)
            except LabScriptError as exc:
                return CommandResult(b"", f"{exc}\r\n".encode(), 1)
        answer.update(script=name, session=session, computer=server)
        return CommandResult(powershell_json(answer).encode("ascii"), b"", 0)

    def _server(self, data: dict, server: str, parameters: dict) -> dict:
        return {"servers": data["organization"]}

    def _public_folders(self, data: dict, server: str, parameters: dict) -> dict:
        return {"folders": [{"identity": f"{FREE_BUSY}\\{f['name']}", "name": f["name"], "replicas": f["replicas"]}
                            for f in data["folders"]],
                "databases": data["public_folder_databases"]}

    def _mailbox_databases(self, data: dict, server: str, parameters: dict) -> dict:
        return {"databases": [d for d in data["mailbox_databases"] if fold(d["server"]) == fold(server)]}

    def _cas_arrays(self, data: dict, server: str, parameters: dict) -> dict:
        return {"arrays": data["cas_arrays"]}

    def _virtual_directories(self, data: dict, server: str, parameters: dict) -> dict:
        return {"directories": data["servers"][server]["virtual_directories"]}

    def _rpc_ports(self, data: dict, server: str, parameters: dict) -> dict:
        state = data["servers"][server]
        return {"values": state["registry"], "listening": state["listening"]}

    def _services(self, data: dict, server: str, parameters: dict) -> dict:
        return {"services": [{"name": n, "state": "Running", "started": datetime.fromisoformat(t)}
                             for n, t in data["servers"][server]["services"].items()]}

    def _events(self, data: dict, server: str, parameters: dict) -> dict:
        since = datetime.fromisoformat(str(parameters.get("since")))
        limit = int(parameters.get("max_events") or 0)
        chosen = [e for e in reversed(data["servers"][server]["events"])
                  if datetime.fromisoformat(e["time"]) >= since][:limit]
        if not chosen:
            return {"events": [], "limit": limit}
        return {"limit": limit, "events": [
            {"id": e["id"], "provider": e["provider"], "time": datetime.fromisoformat(e["time"]),
             "record_id": e["record_id"], "computer": data["servers"][server]["fqdn"],
             "message": rendered(e["id"], e["data"]), "data": e["data"]} for e in chosen]}

    def _restart_service(self, data: dict, server: str, parameters: dict) -> dict:
        name = str(parameters.get("service"))
        if name not in SERVICES:
            raise LabScriptError(f"exops restarts only {', '.join(SERVICES)}, not {name}")
        if name == "MSExchangeIS" and self.balancer is not None:
            self._restart_endpoints(server)
        now = _now()
        state = data["servers"][server]
        state["services"][name] = now.isoformat()
        if name == "MSExchangeRPC":
            _listen(state)
        if name == "MSExchangeAB":
            _listen(state)
        if name == "MSExchangeIS":
            self._maintain(data, now, only=server)
        return {"name": name, "state": "Running"}

    def _restart_endpoints(self, server: str) -> None:
        """The store's restart as the balancer sees it: the server's emulated CAS endpoints go
        away and come back (a store that fails to start fails the script, as Restart-Service does)."""
        try:
            restart_balanced_backend(self.balancer, server)
        except LabError as exc:
            raise LabScriptError(f"Failed to start service 'Microsoft Exchange Information Store (MSExchangeIS)' "
                                 f"on {server}: {exc}") from None

    def _set_rpc_client_access(self, data: dict, server: str, parameters: dict) -> dict:
        name = str(parameters.get("database"))
        database = next((d for d in data["mailbox_databases"] if fold(d["name"]) == fold(name)), None)
        if database is None:
            raise LabScriptError(f"The operation couldn't be performed because object '{name}' couldn't be found.")
        database["rpc_client_access_server"] = str(parameters.get("fqdn"))
        return {"name": database["name"], "rpc_client_access_server": database["rpc_client_access_server"]}

    def _set_replicas(self, data: dict, server: str, parameters: dict) -> dict:
        name = str(parameters.get("folder"))
        folder = next((f for f in data["folders"] if fold(f["name"]) == fold(name)), None)
        if folder is None:
            raise LabScriptError(f"No existing public folder matches the identity {FREE_BUSY}\\{name}.")
        known = {fold(d["name"]) for d in data["public_folder_databases"]}
        replicas = [str(r) for r in parameters.get("replicas") or ()]
        if not replicas or any(fold(r.split("\\")[-1]) not in known for r in replicas):
            raise LabScriptError(f"Couldn't find public folder database {replicas}.")
        folder["replicas"] = replicas
        return {"name": folder["name"], "replicas": replicas}

    def _set_rpc_port(self, data: dict, server: str, parameters: dict) -> dict:
        name = str(parameters.get("name"))
        if name not in PORT_VALUES:
            raise LabScriptError(f"exops sets only TCP/IP Port and RpcTcpPort, not {name}")
        path, kind = PORT_VALUES[name]
        registry = data["servers"][server]["registry"]
        registry[:] = [v for v in registry if v["name"] != name]
        if parameters.get("remove"):
            registry.append({"path": path, "name": name, "present": False})
        else:
            registry.append({"path": path, "name": name, "present": True, "kind": kind,
                             "value": str(int(str(parameters.get("value")))) if kind == "DWord"
                             else str(parameters.get("value"))})
        registry.sort(key=lambda v: v["path"], reverse=True)
        return {"name": name}

    # ------------------------------------------------------------ the store's cycles

    def tick(self, now: datetime | None = None) -> list[str]:
        """One maintenance cycle on every server, then one publish cycle; what happened, as lines."""
        now = now or _now()
        with self.state() as data:
            created = self._maintain(data, now)
            logged = self._publish(data, now)
        return created + logged

    def publish(self, now: datetime | None = None) -> list[str]:
        """One publish cycle alone: what the lab process runs on its schedule."""
        with self.state() as data:
            return self._publish(data, now or _now())

    def _maintain(self, data: dict, now: datetime, only: str | None = None) -> list[str]:
        """Create the missing site folder of every AG whose siteFolderServer names a public folder
        database on a (this) server; log 3047 there."""
        directory = self.directory()
        databases = {fold(db.dn): db for db in directory.public_folder_databases}
        folders = {fold(f["name"]) for f in data["folders"]}
        done = []
        for ag in directory.admin_groups:
            target = databases.get(fold(ag.site_folder_server or ""))
            if not ag.legacy_dn or target is None or is_deleted_reference(ag.site_folder_server):
                continue
            host = database_server(target.dn)
            if (only and fold(host) != fold(only)) or fold(host) not in {fold(s) for s in data["servers"]}:
                continue
            name = f"EX:{ag.legacy_dn}"
            if fold(name) in folders:
                continue
            data["folders"].append({"name": name, "replicas": [target.name]})
            folders.add(fold(name))
            log_event(data, _exact(data, host), _free_busy({"event_id": 3047, "dn": ag.legacy_dn}, now, "", "Application"))
            done.append(f"{host}: created SCHEDULE+ FREE BUSY\\{name} (event 3047)")
        return done

    def _publish(self, data: dict, now: datetime) -> list[str]:
        """Log 14031 on every mailbox server for each prefix mailboxes carry without a folder."""
        folders = {fold(f["name"][3:]) for f in data["folders"]}
        logged = []
        for group in self.directory().recipient_prefixes:
            if not group.publishers or fold(group.prefix) in folders:
                continue
            for name, server in data["servers"].items():
                if "Mailbox" in server["roles"]:
                    log_event(data, name, _free_busy({"event_id": 14031, "dn": group.prefix}, now, "", "Application"))
                    logged.append(f"{name}: event 14031 for {group.prefix}")
        return logged

    # ------------------------------------------------------------ evidence out

    def export_evtx(self, server: str, path: Path) -> int:
        """The server's emulated Application log as an .evtx file (exops's writer)."""
        data = self.read()
        state = data["servers"][server]
        events = [EventSpec(event_id=e["id"], provider=e["provider"], time=datetime.fromisoformat(e["time"]),
                            computer=state["fqdn"], level=e["level"], data=tuple(e["data"]),
                            qualifiers=e["qualifiers"]) for e in state["events"]]
        return write_evtx(path, events)


class LabScriptError(Exception):
    """The emulated cmdlet failed; the lab answers with its text on stderr and exit code 1."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _exact(data: dict, name: str) -> str:
    return next(n for n in data["servers"] if fold(n) == fold(name))


def _listen(state: dict) -> None:
    """A restarted RPC or address book service listens on the ports its registry value names."""
    ports = set(BASE_PORTS)
    for value in state["registry"]:
        kind = PORT_VALUES.get(value["name"], ("", ""))[1]
        if value.get("present") and value.get("kind") == kind and str(value.get("value", "")).isdigit():
            ports.add(int(value["value"]))
    state["listening"] = sorted(ports)


MESSAGES = {   # what Get-WinEvent renders from the provider's message file (texts unconfirmed: §1)
    14031: lambda data: data[1],
    8207: lambda data: (f"Error updating public folder with free/busy information on virtual machine {data[0]}. "
                        f"The error number is {data[1]}."),
    3047: lambda data: f'The free/busy site folder "{data[0]}" was created.',
}


def rendered(event_id: int, data: list[str]) -> str:
    try:
        return MESSAGES[event_id](data)
    except (KeyError, IndexError):
        return ""


def log_event(data: dict, server: str, event: EventSpec) -> None:
    state = data["servers"][server]
    state["next_record"] += 1
    state["events"].append({"id": event.event_id, "provider": event.provider, "time": event.time.isoformat(),
                            "record_id": state["next_record"], "level": event.level, "data": list(event.data),
                            "qualifiers": event.qualifiers})


# ---------------------------------------------------------------- building the lab state

def initial_state(scenario: Scenario, directory, now: datetime | None = None,
                  overrides: dict | None = None) -> dict:
    """The organisation of a scenario as the Exchange 2010 servers report it at `lab up`:
    healthy CAS array, ports and URLs unless `overrides` (the scenario's `exchange:` section)
    breaks them; free/busy folders for the AGs the directory gives a valid siteFolderServer; the
    scenario's free/busy events replayed over the day before `now`."""
    now = now or _now()
    overrides = overrides or {}
    array = scenario.cas_array or {}
    fqdn = array.get("fqdn", "")
    site = f"{scenario.realm.lower()}/Configuration/Sites/{scenario.site}"
    modern = [s for s in scenario.servers if s.version.startswith("14")]
    data: dict[str, Any] = {"servers": {}, "folders": [], "public_folder_databases": [], "mailbox_databases": [],
                            "cas_arrays": [], "organization": []}
    for server in scenario.servers:
        state = _server_state(server, site, fqdn, now, overrides.get(server.name, {}))
        data["organization"].append({k: state[k] for k in ("name", "fqdn", "version", "roles", "site")})
        if server.version.startswith("14"):
            data["servers"][server.name] = state
    pf_names = [name for s in scenario.servers for name in s.public_folder_databases]
    directory_facts = directory()
    for db in directory_facts.public_folder_databases:
        data["public_folder_databases"].append({"name": db.name, "server": database_server(db.dn), "dn": db.dn})
    for server in modern:
        for name in server.mailbox_databases:
            rpc = overrides.get(server.name, {}).get("rpc_client_access_server", fqdn or server.fqdn)
            data["mailbox_databases"].append({"name": name, "server": server.name, "rpc_client_access_server": rpc,
                                              "public_folder_database": pf_names[0] if pf_names else ""})
    if array and not overrides.get("no_cas_array"):
        data["cas_arrays"].append({"name": array.get("name", fqdn), "fqdn": fqdn, "site": site,
                                   "members": [s.name for s in modern if "cas" in s.roles],
                                   "addresses": [] if overrides.get("array_unresolved") else
                                   [str(array["vip"])] if array.get("vip") else []})
    databases = {fold(db.dn): db for db in directory_facts.public_folder_databases}
    for ag in directory_facts.admin_groups:
        db = databases.get(fold(ag.site_folder_server or ""))
        if ag.legacy_dn and db is not None:
            data["folders"].append({"name": f"EX:{ag.legacy_dn}", "replicas": [db.name]})
    for spec in scenario.raw_events.get("free_busy", ()):
        if spec["server"] in data["servers"]:
            every = timedelta(hours=spec.get("every_hours", 1))
            moment = now - timedelta(days=1)
            while moment < now:
                log_event(data, spec["server"], _free_busy(spec, moment, "", "Application"))
                moment += every
    return data


def _server_state(server, site: str, array_fqdn: str, now: datetime, broken: dict) -> dict:
    namespace = broken.get("namespace", array_fqdn or server.fqdn)
    rpc_port = str(broken.get("rpc_port", 59531))
    ab_port = str(broken.get("ab_port", 59532))
    registry = [
        {"path": RPC_KEY, "name": "TCP/IP Port", "present": True, "kind": "DWord", "value": rpc_port},
        {"path": AB_KEY, "name": "RpcTcpPort", "present": True, "kind": broken.get("ab_kind", "String"),
         "value": ab_port}]
    state = {"name": server.name, "fqdn": server.fqdn,
             "version": f"Version {server.version} (Build 123.4)",
             "roles": ", ".join(ROLE_NAMES[r] for r in server.roles if r in ROLE_NAMES),
             "site": site, "registry": registry, "listening": [],
             "services": {name: (now - timedelta(days=3)).isoformat() for name in SERVICES},
             "virtual_directories": [
                 {"kind": kind, "name": name,
                  "internal_url": f"https://{namespace}{path}" if path else "",
                  "external_url": f"https://{namespace}{path}" if path else ""}
                 for kind, (name, path) in VDIR_PATHS.items()] if "cas" in server.roles else [],
             "events": [], "next_record": 1000}
    _listen(state)
    if broken.get("not_listening"):
        state["listening"] = list(BASE_PORTS)
    return state
