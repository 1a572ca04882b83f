"""One registry for checks, built-ins registered exactly like third-party plugins.

A plugin package names a module in the entry-point group `exops.checks` (or `exops.fixes`);
importing that module runs its `@check` decorators. exops's own `exops.checks.*` modules are
declared in the same group in pyproject.toml, so they take exactly the third-party path, and
nothing is imported until checks are actually needed.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
import inspect
from dataclasses import dataclass
from typing import Any
from importlib.metadata import entry_points

from exops.model import Finding
from exops.errors import ExopsError

CHECK_GROUP = "exops.checks"
FIX_GROUP = "exops.fixes"


class RegistryError(ExopsError):
    pass


@dataclass(frozen=True)
class CheckSpec:
    id: str
    title: str
    area: str
    needs: tuple[type, ...]
    uses: tuple[type, ...]
    docs: str
    func: Callable[..., Iterable[Finding]]
    origin: str


@dataclass(frozen=True)
class Param:
    """One parameter of a fix: the CLI option and the TUI field are made from it."""

    name: str                      # python name: "pf_db"; the option is --pf-db
    help: str
    type: type = str               # str, bool or int
    required: bool = False
    check: Callable[[Any], str | None] | None = None   # what is wrong with a value, or None
    choices: Callable | None = None    # (facts) -> [(value, description)], best first, for pickers

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class FixSpec:
    name: str
    title: str
    resolves: tuple[str, ...]     # check IDs whose findings this fix addresses
    func: Callable                 # (facts, live, **params) -> Plan
    origin: str
    suggest: Callable | None = None   # (finding, facts) -> params, or None when it does not fit
    params: tuple[Param, ...] = ()
    needs: tuple[type, ...] = ()      # fact types it plans from
    live: bool = False                # searches the live sources while planning; False: plans from facts alone
    help: str = ""

    def validate(self, values: dict) -> dict:
        """The parameters as the planner takes them: unknown names, missing required ones and
        wrong types are refused (a saved plan is re-validated the same way)."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise RegistryError(f"fix {self.name}: unknown parameter(s) {', '.join(unknown)}")
        clean = {}
        for param in self.params:
            value = values.get(param.name)
            if value is None or value == "" or value is False:
                if param.required:
                    raise RegistryError(f"fix {self.name}: {param.option} is required")
                clean[param.name] = False if param.type is bool else None
                continue
            if not isinstance(value, param.type) or param.type is int and isinstance(value, bool):
                raise RegistryError(f"fix {self.name}: {param.option} must be {param.type.__name__}, "
                                    f"not {type(value).__name__}")
            problem = param.check(value) if param.check else None
            if problem:
                raise RegistryError(f"fix {self.name}: {param.option}: {problem}")
            clean[param.name] = value
        return clean


_checks: dict[str, CheckSpec] = {}
_fixes: dict[str, FixSpec] = {}
_loaded: set[str] = set()


def check(check_id: str, *, title: str, needs: tuple[type, ...], area: str,
          uses: tuple[type, ...] = (), docs: str | None = None) -> Callable:
    """Register a pure function from facts to findings under a stable ID.

    The function receives one argument per type in `needs` (the check is skipped when any is
    missing), then one per type in `uses` (None when not collected: extra evidence only).
    """

    def register(func: Callable[..., Iterable[Finding]]) -> Callable[..., Iterable[Finding]]:
        existing = _checks.get(check_id)
        if existing and existing.func.__qualname__ != func.__qualname__:
            raise RegistryError(f"check ID {check_id} is registered twice "
                                f"({existing.origin} and {func.__module__})")
        _checks[check_id] = CheckSpec(
            id=check_id, title=title, area=area, needs=needs, uses=uses,
            docs=docs or f"docs/checks.md#{check_id.lower()}", func=func, origin=func.__module__)
        return func

    return register


def fix(name: str, *, title: str, resolves: tuple[str, ...] = (), suggest: Callable | None = None,
        params: tuple[Param, ...] = (), needs: tuple[type, ...] = (), live: bool = False) -> Callable:
    """Register a planner: a function from facts (plus the live sources, which only a fix with
    `live=True` may search, and the declared parameters) to a Plan.

    `params` declares the parameters once; the CLI's options and the TUI's form are made from it.
    `suggest(finding, facts)` gives the parameters to offer for a finding it resolves, so front
    ends can propose the fix from the finding without parsing command lines.
    """

    def register(func: Callable) -> Callable:
        _fixes[name] = FixSpec(name=name, title=title, resolves=resolves, func=func,
                               origin=func.__module__, suggest=suggest, params=params, needs=needs,
                               live=live, help=inspect.getdoc(func) or title)
        return func

    return register


def _load(group: str) -> None:
    """Import every entry point of a group (built-ins included), once."""
    if group in _loaded:
        return
    for ep in entry_points(group=group):
        try:
            ep.load()
        except Exception as exc:  # name the broken plugin instead of failing obscurely
            raise RegistryError(f"plugin {ep.name!r} ({ep.value}) in {group} failed to load: {exc}") from exc
    _loaded.add(group)


def load_checks() -> dict[str, CheckSpec]:
    _load(CHECK_GROUP)
    return dict(_checks)


def load_fixes() -> dict[str, FixSpec]:
    _load(FIX_GROUP)
    return dict(_fixes)
