"""The YAML inventory (`--config`, `$EXOPS_CONFIG`, `./exops.yaml`) as validated settings.

Every error names the file, the line and the field, and says what was expected. Secrets are
never in the file: a setting names the environment variable that holds the password
(`password_env`), and `secret()` reads it, or prompts when a terminal is there.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from exops.errors import ExopsError

DEFAULT_NAME = "exops.yaml"
AUTH_METHODS = ("simple", "ntlm", "kerberos")
WINRM_TRANSPORTS = ("basic", "ntlm", "kerberos", "credssp")
BALANCER_TYPES = ("haproxy", "kemp", "f5")


class ConfigError(ExopsError, ValueError):
    """A configuration that cannot be used; the message is meant for the user as it is."""


@dataclass(frozen=True)
class DirectorySettings:
    url: str
    base_dn: str | None = None
    start_tls: bool = False
    user: str | None = None
    password_env: str | None = None
    auth: str = "simple"
    ca_file: str | None = None
    insecure: bool = False
    timeout: float = 10.0


@dataclass(frozen=True)
class ServerSettings:
    name: str
    url: str
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExchangeSettings:
    user: str | None = None
    password_env: str | None = None
    transport: str = "ntlm"
    ca_file: str | None = None
    insecure: bool = False
    servers: tuple[ServerSettings, ...] = ()


@dataclass(frozen=True)
class BalancerSettings:
    name: str
    type: str
    url: str | None = None
    socket: str | None = None
    user: str | None = None
    password_env: str | None = None
    ca_file: str | None = None
    insecure: bool = False
    config: str | None = None          # HAProxy: its configuration file, for what the runtime API does not say
    serves: tuple[str, ...] = ()       # the CAS array FQDNs clients reach through it


@dataclass(frozen=True)
class LabSettings:
    """The lab's emulated Exchange backends (written by `exops lab up`), for lab-only actions."""

    home: str


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    directory: DirectorySettings | None = None
    exchange: ExchangeSettings | None = None
    loadbalancers: tuple[BalancerSettings, ...] = ()
    journal: str | None = None
    lab: LabSettings | None = None


def find_config(explicit: str | Path | None) -> Path | None:
    """`--config`, else `$EXOPS_CONFIG`, else `./exops.yaml` when it exists."""
    if explicit:
        return Path(explicit)
    if os.environ.get("EXOPS_CONFIG"):
        return Path(os.environ["EXOPS_CONFIG"])
    default = Path.cwd() / DEFAULT_NAME
    return default if default.is_file() else None


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc.strerror}") from None
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return _Reader(path).config(root)


def secret(env_name: str | None, what: str) -> str | None:
    """The password from the environment variable the config names, else a prompt on a terminal."""
    if env_name and os.environ.get(env_name):
        return os.environ[env_name]
    if env_name is None:
        return None
    import sys
    if sys.stdin.isatty():
        import getpass
        return getpass.getpass(f"Password for {what} (or set ${env_name}): ")
    raise ConfigError(f"the password for {what} is not set: export {env_name}=... "
                      "(exops never reads passwords from the configuration file)")


class _Reader:
    """Turns the composed YAML node tree into settings, remembering lines for error messages."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, node: yaml.Node, field_path: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}:{node.start_mark.line + 1}: {field_path}: {message}")

    def mapping(self, node: yaml.Node, field_path: str) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, field_path, "expected a mapping of settings")
        return {k.value: v for k, v in node.value}

    def scalar(self, node: yaml.Node, field_path: str, kind: type = str,
               choices: tuple[str, ...] = ()) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, field_path, f"expected a single {kind.__name__} value")
        value = yaml.safe_load(yaml.serialize(node))
        if kind is str and value is not None:
            value = str(value)
        if kind is float and isinstance(value, int):
            value = float(value)
        if not isinstance(value, kind):
            raise self.fail(node, field_path, f"expected {kind.__name__}, got {node.value!r}")
        if choices and value not in choices:
            raise self.fail(node, field_path, f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    def fields(self, node: yaml.Node, field_path: str, schema: dict[str, Any],
               required: tuple[str, ...] = (), nested: tuple[str, ...] = ()) -> dict[str, Any]:
        """Read a mapping against {name: type or tuple of choices}; unknown keys are errors.

        Keys in `nested` are lists or mappings the caller reads itself.
        """
        items = self.mapping(node, field_path)
        out: dict[str, Any] = {}
        for key, value in items.items():
            if key in nested:
                continue
            if key == "password":
                raise self.fail(value, f"{field_path}.password",
                                "passwords do not belong in the file; name an environment "
                                "variable with password_env instead")
            if key not in schema:
                raise self.fail(value, f"{field_path}.{key}",
                                f"unknown setting; expected one of {', '.join(schema)}")
            spec = schema[key]
            if isinstance(spec, tuple):
                out[key] = self.scalar(value, f"{field_path}.{key}", str, spec)
            else:
                out[key] = self.scalar(value, f"{field_path}.{key}", spec)
        for key in required:
            if out.get(key) in (None, ""):
                raise self.fail(node, f"{field_path}.{key}", "required setting is missing")
        return out

    def config(self, root: yaml.Node | None) -> Config:
        if root is None:
            return Config(path=self.path)
        sections = self.mapping(root, "(top level)")
        known = ("directory", "exchange", "loadbalancers", "journal", "lab")
        for key, node in sections.items():
            if key not in known:
                raise self.fail(node, key, f"unknown section; expected one of {', '.join(known)}")
        return Config(
            path=self.path,
            directory=self.directory(sections["directory"]) if "directory" in sections else None,
            exchange=self.exchange(sections["exchange"]) if "exchange" in sections else None,
            loadbalancers=self.balancers(sections.get("loadbalancers")),
            journal=self.scalar(sections["journal"], "journal") if "journal" in sections else None,
            lab=LabSettings(**self.fields(sections["lab"], "lab", {"home": str}, required=("home",)))
            if "lab" in sections else None)

    def directory(self, node: yaml.Node) -> DirectorySettings:
        values = self.fields(node, "directory", {
            "url": str, "base_dn": str, "start_tls": bool, "user": str, "password_env": str,
            "auth": AUTH_METHODS, "ca_file": str, "insecure": bool, "timeout": float},
            required=("url",))
        url = values["url"]
        if not url.lower().startswith(("ldap://", "ldaps://")):
            raise self.fail(node, "directory.url", f"expected ldaps://host or ldap://host, got {url!r}")
        plain = url.lower().startswith("ldap://") and not values.get("start_tls")
        if plain and not values.get("insecure"):
            raise self.fail(node, "directory.url",
                            "ldap:// without start_tls sends the password in clear text; use "
                            "ldaps://, or start_tls: true, or say insecure: true to allow it")
        return DirectorySettings(**values)

    def exchange(self, node: yaml.Node) -> ExchangeSettings:
        items = self.mapping(node, "exchange")
        servers_node = items.get("servers")
        values = self.fields(node, "exchange", {
            "user": str, "password_env": str, "transport": WINRM_TRANSPORTS, "ca_file": str,
            "insecure": bool}, nested=("servers",))
        servers = []
        if servers_node is not None:
            if not isinstance(servers_node, yaml.SequenceNode):
                raise self.fail(servers_node, "exchange.servers", "expected a list of servers")
            for i, item in enumerate(servers_node.value):
                where = f"exchange.servers[{i}]"
                s = self.fields(item, where, {"name": str, "url": str},
                                required=("name", "url"), nested=("roles",))
                if not s["url"].lower().startswith("https://") and not values.get("insecure"):
                    raise self.fail(item, f"{where}.url",
                                    "WinRM over http:// is refused; use https://...:5986/wsman "
                                    "or say insecure: true under exchange")
                roles = self.mapping(item, where).get("roles")
                servers.append(ServerSettings(name=s["name"], url=s["url"],
                                              roles=tuple(self.roles(roles, where))))
        return ExchangeSettings(**values, servers=tuple(servers))

    def roles(self, node: yaml.Node | None, where: str) -> list[str]:
        if node is None:
            return []
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{where}.roles", "expected a list such as [cas, hub, mailbox]")
        return [self.scalar(r, f"{where}.roles", str, ("cas", "hub", "mailbox", "edge", "um"))
                for r in node.value]

    def balancers(self, node: yaml.Node | None) -> tuple[BalancerSettings, ...]:
        if node is None:
            return ()
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, "loadbalancers", "expected a list of balancers")
        out = []
        for i, item in enumerate(node.value):
            where = f"loadbalancers[{i}]"
            values = self.fields(item, where, {
                "name": str, "type": BALANCER_TYPES, "url": str, "socket": str, "user": str,
                "password_env": str, "ca_file": str, "insecure": bool, "config": str},
                required=("name", "type"), nested=("serves",))
            if not values.get("url") and not values.get("socket"):
                raise self.fail(item, where, "expected url: (KEMP, F5, HAProxy over TCP) or socket: (HAProxy)")
            serves = self.mapping(item, where).get("serves")
            if serves is not None and not isinstance(serves, yaml.SequenceNode):
                raise self.fail(serves, f"{where}.serves", "expected a list of names such as [outlook.litware.com]")
            names = tuple(self.scalar(n, f"{where}.serves", str) for n in (serves.value if serves else ()))
            out.append(BalancerSettings(**values, serves=names))
        return tuple(out)
