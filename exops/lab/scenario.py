"""Scenarios: an organisation described once, from which the lab seeds the directory and logs.

`fixtures/scenarios/<name>/scenario.yaml` is the single description; this module validates it and
expands it (recipient generators, event streams) lazily so that large scenarios stay cheap.

Besides the organisation (`domain`, `organization`, `site`, `cas_array`), the recipients and the
event logs, a scenario can describe a messy decommissioning; every key below is optional and its
default is the healthy state:

- per administrative group (`admin_groups[]`):
  - `folder_hierarchy: true` creates `CN=Folder Hierarchies/CN=Public Folders` (msExchPFTree);
    leave it out (or `false`) everywhere for an organisation without a public folder tree.
  - `site_folder_server: <server>/<public folder database>` sets siteFolderServer;
    `site_folder_server_deleted: true` deletes that database once the link is set, so the link
    is left pointing at a deleted object (the directory mangles it to
    `CN=<name>\\0ADEL:<guid>,CN=Deleted Objects,...`). The order matters: AD and Samba refuse a
    DN-valued attribute that names a missing object.
  - `servers_container: true` keeps an (empty) `CN=Servers` under an AG that lists no servers,
    as a decommissioning that removed the servers but not their container leaves it.
- per free/busy event stream (`events.free_busy[]`): `event_id` (14031, 8207 or 3047), `server`,
  `dn`, `every_hours` (default 1), `error_code` (the code an 8207 carries; default
  `0x80004005`), and `from` / `until` (ISO times; default: the log's `start` + 7 minutes and
  its `end`), so that, say, a 3047 can follow the last 14031 of the same DN.
"""
from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from exops.dn import admin_group_prefix
from exops.lab.evtx_writer import EventSpec
from exops.errors import ExopsError

SCENARIOS = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios"
# Scenario and server names become folder, file and glob names (the lab home, the golden cache,
# log files): no separators, no `..`, no wildcards.
PATH_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
CHANNEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.%/-]{0,127}")


class ScenarioError(ExopsError, ValueError):
    """A scenario file that does not describe an organisation exops can build."""


def path_safe_name(value: object, what: str, where: object = "scenario") -> str:
    """`value` when it can name a folder or file on its own, else a ScenarioError."""
    if not isinstance(value, str) or not PATH_SAFE.fullmatch(value):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:36] + "...'"
        raise ScenarioError(f"{where}: {what} {shown} must be 1-64 letters, digits, - or _ "
                            "(it names folders and files)")
    return value


@dataclass(frozen=True)
class Server:
    name: str
    fqdn: str
    admin_group: str
    version: str = "14.3"
    roles: tuple[str, ...] = ()
    storage_group: str | None = None
    mailbox_databases: tuple[str, ...] = ()
    public_folder_databases: tuple[str, ...] = ()


@dataclass(frozen=True)
class AdminGroup:
    name: str
    legacy_dn: str
    servers: tuple[Server, ...] = ()
    folder_hierarchy: bool = False
    site_folder_server: str | None = None   # "<server>/<public folder database>"
    site_folder_server_deleted: bool = False  # the database is deleted after the link is set
    servers_container: bool = False          # keep CN=Servers even when no server is left


@dataclass(frozen=True)
class Recipient:
    alias: str
    name: str
    kind: str            # mailbox | mail_user | contact | group
    legacy_dn: str
    home_mdb: str | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    realm: str
    netbios: str
    base_dn: str
    org: str
    org_legacy_dn: str
    site: str
    admin_groups: tuple[AdminGroup, ...]
    cas_array: dict[str, Any] = field(default_factory=dict)
    raw_recipients: tuple[dict[str, Any], ...] = ()
    raw_events: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def servers(self) -> tuple[Server, ...]:
        return tuple(s for ag in self.admin_groups for s in ag.servers)

    def server(self, name: str) -> Server:
        for s in self.servers:
            if s.name.lower() == name.lower():
                return s
        raise ScenarioError(f"{self.path}: no server named {name!r}")

    def recipients(self) -> Iterator[Recipient]:
        """Every recipient, generators expanded one at a time."""
        for spec in self.raw_recipients:
            count = spec.get("generate")
            for n in range(1, (count or 1) + 1):
                alias = spec["alias"].format(n=n)
                yield Recipient(
                    alias=alias, name=spec.get("name", alias).format(n=n), kind=spec["kind"],
                    legacy_dn=f"{spec['legacy_prefix']}/cn=Recipients/cn={alias}",
                    home_mdb=spec.get("home_mdb"))

    def logs(self) -> list[tuple[str, str]]:
        """(server, channel) of every event log the scenario has."""
        return [(log["server"], log.get("channel", "Application"))
                for log in self.raw_events.get("logs", ())]

    def events(self, server: str, channel: str = "Application") -> Iterator[EventSpec]:
        """The log of one server in time order: ordinary noise with the free/busy events among it."""
        log = next(l for l in self.raw_events["logs"]
                   if l["server"] == server and l.get("channel", "Application") == channel)
        start, end = _when(self.raw_events["start"]), _when(self.raw_events["end"])
        fqdn = self.server(server).fqdn
        rng = random.Random(log.get("seed", 0))
        stream = [(t, _background(rng, t, fqdn, channel)) for t in
                  sorted(start + (end - start) * rng.random() for _ in range(log.get("background", 0)))]
        for fb in self.raw_events.get("free_busy", ()):
            if fb["server"] != server:
                continue
            t = _when(fb["from"]) if "from" in fb else start + timedelta(minutes=7)
            until = _when(fb["until"]) if "until" in fb else end
            while t < until:
                stream.append((t, _free_busy(fb, t, fqdn, channel)))
                t += timedelta(hours=fb.get("every_hours", 1))
        stream.sort(key=lambda pair: pair[0])
        return (event for _, event in stream)


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A scenario by name (`litware`) or by path to its folder or YAML file."""
    path = Path(name_or_path)
    if not path.exists():
        path = SCENARIOS / str(name_or_path)
    if path.is_dir():
        path = path / "scenario.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.name for p in SCENARIOS.iterdir() if p.is_dir()))
        raise ScenarioError(f"no scenario {name_or_path!r} (known: {known})")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    try:
        return _build(raw, path)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ScenarioError(f"{path}: missing or malformed field {exc}") from None


def _build(raw: dict[str, Any], path: Path) -> Scenario:
    ags = []
    for ag in raw["admin_groups"]:
        if admin_group_prefix(ag["legacy_dn"]) is None:
            raise ScenarioError(f"{path}: admin group {ag['name']!r}: legacy_dn must be /o=.../ou=...")
        servers = tuple(
            Server(name=path_safe_name(s["name"], "server name", path), fqdn=s["fqdn"], admin_group=ag["name"],
                   version=str(s.get("version", "14.3")), roles=tuple(s.get("roles", ())),
                   storage_group=s.get("storage_group"),
                   mailbox_databases=tuple(s.get("mailbox_databases", ())),
                   public_folder_databases=tuple(s.get("public_folder_databases", ())))
            for s in ag.get("servers", ()))
        ags.append(AdminGroup(name=ag["name"], legacy_dn=ag["legacy_dn"], servers=servers,
                              folder_hierarchy=bool(ag.get("folder_hierarchy")),
                              site_folder_server=ag.get("site_folder_server"),
                              site_folder_server_deleted=bool(ag.get("site_folder_server_deleted")),
                              servers_container=bool(ag.get("servers_container"))))
        if ags[-1].site_folder_server_deleted and not ags[-1].site_folder_server:
            raise ScenarioError(f"{path}: admin group {ag['name']!r}: site_folder_server_deleted "
                                "needs a site_folder_server")
    for log in raw.get("events", {}).get("logs", ()):
        channel = log.get("channel", "Application")
        if not isinstance(channel, str) or not CHANNEL.fullmatch(channel) or ".." in channel:
            raise ScenarioError(f"{path}: event log channel {channel!r} is not a channel name")
    return Scenario(
        name=path_safe_name(raw["name"], "name", path), description=raw.get("description", ""),
        realm=raw["domain"]["realm"], netbios=raw["domain"]["netbios"],
        base_dn=raw["domain"]["base_dn"], org=raw["organization"]["name"],
        org_legacy_dn=raw["organization"]["legacy_dn"], site=raw.get("site", "Default-First-Site-Name"),
        admin_groups=tuple(ags), cas_array=raw.get("cas_array", {}),
        raw_recipients=tuple(raw.get("recipients", ())), raw_events=raw.get("events", {}), path=path)


def _when(value: Any) -> datetime:
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


# Ordinary Application-log traffic of an Exchange 2010 server: what real logs bury 14031s in.
_NOISE = (
    ("MSExchange ADAccess", 2080, 4, 16388, ("MSEXCHANGEADTOPOLOGYSERVICE.EXE (1868)", "DC1.litware.com CDG 1 7 7 1 0 1 1 7 1")),
    ("MSExchangeIS", 9667, 4, 49152, ("Mailbox Database MDB01", "Named Props", "0x8000", "32768")),
    ("ESE", 326, 4, None, ("MSExchangeIS", "3052", "Mailbox Database MDB01", "E:\\MDB01\\MDB01.edb")),
    ("MSExchange Search Indexer", 107, 4, 16384, ("Mailbox Database MDB01",)),
    ("MSExchangeTransport", 1021, 3, 32772, ("Default L12EX1", "172.16.10.51", "LogonDenied")),
    ("MSExchange Assistants", 9017, 4, 16384, ("Mailbox Database MDB01", "TopNWordsAssistant")),
    ("MSExchangeRepl", 4114, 4, 16384, ("MDB01\\L12EX1",)),
)


def _background(rng: random.Random, when: datetime, fqdn: str, channel: str) -> EventSpec:
    provider, event_id, level, qualifiers, data = rng.choice(_NOISE)
    return EventSpec(event_id=event_id, provider=provider, time=when, computer=fqdn,
                     channel=channel, level=level, data=data, qualifiers=qualifiers)


_FREE_BUSY = {
    # The exact texts are unconfirmed (REFERENCE.md §1): the lab writes the DN as a data item and
    # inside a sentence so both extraction paths are exercised.
    14031: ("MSExchange FreeBusy Assistant", 2, 49152,
            lambda dn: (dn, f"Failed to publish free/busy data to the public folder {dn} "
                            "because the folder could not be found.", "0x8004010F")),
    8207: ("MSExchangeFBPublish", 2, 49152,
           lambda dn, code: (dn, code)),
    3047: ("MSExchangeIS Public Store", 4, 16384,
           lambda dn: (f"SCHEDULE+ FREE BUSY\\EX:{dn}",)),
}


def _free_busy(spec: dict[str, Any], when: datetime, fqdn: str, channel: str) -> EventSpec:
    provider, level, qualifiers, data = _FREE_BUSY[spec["event_id"]]
    items = data(spec["dn"], spec.get("error_code", "0x80004005")) if spec["event_id"] == 8207 \
        else data(spec["dn"])
    return EventSpec(event_id=spec["event_id"], provider=provider, time=when, computer=fqdn,
                     channel=channel, level=level, data=items, qualifiers=qualifiers)
