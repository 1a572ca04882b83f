"""The YAML inventory (`--config`, `$EXOPS_CONFIG`, `./exops.yaml`) as validated settings.

Every error names the file, the line and the field, and says what was expected. Secrets are
never in the file: a setting names the environment variable that holds the password
(`password_env`), and `secret()` reads it, or prompts when a terminal is there.

The file is hostile input like any other: it is read with a size and nesting limit, only YAML's
own tags, string keys, no duplicate keys, and numbers, ports and URLs within their ranges; a
value that may be a secret (a password typed where a variable name belongs, credentials in a
URL) is refused without being repeated.
"""
from __future__ import annotations

import codecs
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from exops.errors import ExopsError

DEFAULT_NAME = "exops.yaml"
AUTH_METHODS = ("simple", "ntlm", "kerberos")
WINRM_TRANSPORTS = ("basic", "ntlm", "kerberos", "credssp")
BALANCER_TYPES = ("haproxy", "kemp", "f5")
MAX_BYTES = 1 << 20          # an inventory is a few hundred bytes; a megabyte is not one
MAX_DEPTH = 16               # the deepest real setting is four levels down
TIMEOUT_RANGE = (0.1, 3600.0)
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
TOP = "(top level)"
SECRET_KEYS = re.compile(r"pass|pwd|secret|token|credential", re.IGNORECASE)


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
    warnings: tuple[str, ...] = ()     # valid but risky settings, for `config check` to say
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
    text = _read_text(path)
    try:
        _check_depth(path, text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}{_yaml_error(exc, text)}") from None
    return _Reader(path).config(root)


def _yaml_error(exc: yaml.YAMLError, text: str) -> str:
    """`:line: not valid YAML: problem` on one line, for parser and reader errors alike."""
    if isinstance(exc, yaml.reader.ReaderError):
        line = text[:exc.position].count("\n") + 1
        return f":{line}: not valid YAML: character #x{exc.character:04x} is not allowed"
    mark = getattr(exc, "problem_mark", None)
    where = f":{mark.line + 1}" if mark else ""
    return f"{where}: not valid YAML: {' '.join(str(getattr(exc, 'problem', None) or exc).split())}"


def _read_text(path: Path) -> str:
    """The file's text: UTF-8, or UTF-16/32 with a byte order mark (Notepad's 'Unicode')."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_BYTES >> 20} MiB; not an exops inventory")
    boms = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
            (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
    encoding = next((name for bom, name in boms if data.startswith(bom)), "utf-8-sig")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1 if encoding == "utf-8-sig" else 1
        raise ConfigError(f"{path}:{line}: not UTF-8 or UTF-16 text ({exc.reason})") from None


def _check_depth(path: Path, text: str) -> None:
    """Refuse deep nesting from the event stream, before the recursive composer sees it."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise ConfigError(f"{path}:{event.start_mark.line + 1}: nested deeper than "
                                  f"{MAX_DEPTH} levels; not an exops inventory")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def check_url(url: str, schemes: tuple[str, ...] = ()) -> str | None:
    """What is wrong with an endpoint URL (of one of `schemes`, any when empty), or None; the
    message never repeats the URL, which may hold a password."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "not a valid URL (a bracket left open, or a port that is not a number 1-65535)"
    if schemes and parts.scheme.lower() not in schemes:
        return f"expected {' or '.join(f'{s}://host' for s in schemes)}"
    if "@" in parts.netloc:
        return ("credentials do not belong in the URL (the URL is not shown); give the account as "
                "user: and its password through password_env")
    if not parts.hostname:
        return "names no host"
    if port == 0:
        return "port 0 is not a port; use 1-65535"
    return None


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
        out: dict[str, yaml.Node] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag != "tag:yaml.org,2002:str":
                raise self.fail(key, field_path, "expected setting names (plain words) as keys")
            if key.value in out:
                where = key.value if field_path == TOP else f"{field_path}.{key.value}"
                raise self.fail(key, where, "given twice; say each setting once")
            out[key.value] = value
        return out

    def scalar(self, node: yaml.Node, field_path: str, kind: type = str,
               choices: tuple[str, ...] = ()) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, field_path, f"expected a single {kind.__name__} value")
        if not node.tag.startswith("tag:yaml.org,2002:"):
            raise self.fail(node, field_path, f"custom YAML tags such as {_shown(node.tag)} "
                                              "are not accepted")
        if kind is str and node.tag != "tag:yaml.org,2002:null":
            value = node.value      # as written: `name: 2010` or `name: yes` are names
        else:
            try:
                value = yaml.SafeLoader("").construct_object(node, deep=True)
            except (yaml.YAMLError, ValueError, TypeError, OverflowError):
                raise self.fail(node, field_path, f"expected {kind.__name__}, got a value YAML "
                                                  "cannot read") from None
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value) if abs(value) < 1e300 else math.inf
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise self.fail(node, field_path, f"expected {kind.__name__}, got {_shown(node.value)}")
        if choices and value not in choices:
            raise self.fail(node, field_path,
                            f"expected one of {', '.join(choices)}, got {_shown(value)}")
        return value

    def check(self, node: yaml.Node, field_path: str, problem: str | None) -> None:
        if problem:
            raise self.fail(node, field_path, problem)

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
            if key not in schema and SECRET_KEYS.search(key):
                raise self.fail(value, f"{field_path}.{key}",
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
            if key == "password_env" and out[key] is not None and not ENV_NAME.fullmatch(out[key]):
                raise self.fail(value, f"{field_path}.password_env",
                                "expected the NAME of an environment variable (letters, digits, _); "
                                "this looks like a password itself, so it is not shown: remove it "
                                "from the file and change that password")
        for key in required:
            if out.get(key) in (None, ""):
                raise self.fail(node, f"{field_path}.{key}", "required setting is missing")
        return out

    def config(self, root: yaml.Node | None) -> Config:
        if root is None:
            return Config(path=self.path)
        sections = self.mapping(root, TOP)
        known = ("directory", "exchange", "loadbalancers", "journal", "lab")
        for key, node in sections.items():
            if key not in known:
                raise self.fail(node, key, f"unknown section; expected one of {', '.join(known)}")
        directory = self.directory(sections["directory"]) if "directory" in sections else None
        return Config(
            path=self.path, directory=directory,
            exchange=self.exchange(sections["exchange"]) if "exchange" in sections else None,
            loadbalancers=self.balancers(sections.get("loadbalancers")),
            journal=self.scalar(sections["journal"], "journal") if "journal" in sections else None,
            warnings=directory_warnings(directory) if directory else (),
            lab=LabSettings(**self.fields(sections["lab"], "lab", {"home": str}, required=("home",)))
            if "lab" in sections else None)

    def directory(self, node: yaml.Node) -> DirectorySettings:
        values = self.fields(node, "directory", {
            "url": str, "base_dn": str, "start_tls": bool, "user": str, "password_env": str,
            "auth": AUTH_METHODS, "ca_file": str, "insecure": bool, "timeout": float},
            required=("url",))
        items = self.mapping(node, "directory")
        url = values["url"]
        self.check(items["url"], "directory.url", check_url(url, ("ldaps", "ldap")))
        if "timeout" in values:
            low, high = TIMEOUT_RANGE
            if not low <= values["timeout"] <= high:   # also false for nan
                raise self.fail(items["timeout"], "directory.timeout",
                                f"expected seconds from {low:g} to {high:g}")
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
                self.check(self.mapping(item, where)["url"], f"{where}.url",
                           check_url(s["url"], ("https", "http")))
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
            if values.get("url"):
                self.check(self.mapping(item, where)["url"], f"{where}.url",
                           check_url(values["url"]))
            serves = self.mapping(item, where).get("serves")
            if serves is not None and not isinstance(serves, yaml.SequenceNode):
                raise self.fail(serves, f"{where}.serves", "expected a list of names such as [outlook.litware.com]")
            names = tuple(self.scalar(n, f"{where}.serves", str) for n in (serves.value if serves else ()))
            out.append(BalancerSettings(**values, serves=names))
        return tuple(out)


def directory_warnings(settings: DirectorySettings) -> tuple[str, ...]:
    """What is allowed but risky (or does not do what it may seem to) in directory settings."""
    if not settings.insecure:
        return ()
    if settings.url.lower().startswith("ldap://") and not settings.start_tls:
        return (f"directory.insecure: plain LDAP to {settings.url}: the bind password and every "
                "answer cross the network in clear text",)
    return ("directory.insecure has no effect here: exops validates every TLS certificate "
            "(ldaps:// and StartTLS) whatever insecure says; it only permits plain ldap://",)


def _shown(value: object, limit: int = 40) -> str:
    """A value repeated in an error message: quoted, and cut short when long."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 4] + "...'"
