"""One registry for checks, built-ins registered exactly like third-party plugins.

A plugin package names a module in the entry-point group `exops.checks` (or `exops.fixes`);
importing that module runs its `@check` decorators. exops's own `exops.checks.*` modules are
declared in the same group in pyproject.toml, so they take exactly the third-party path, and
nothing is imported until checks are actually needed.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points

from exops.model import Finding

CHECK_GROUP = "exops.checks"
FIX_GROUP = "exops.fixes"


class RegistryError(Exception):
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


_checks: dict[str, CheckSpec] = {}
_loaded = False


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


def load_checks() -> dict[str, CheckSpec]:
    """Import every `exops.checks` entry point (built-ins included), once."""
    global _loaded
    if not _loaded:
        for ep in entry_points(group=CHECK_GROUP):
            try:
                ep.load()
            except Exception as exc:  # a broken plugin must not take the built-ins down
                raise RegistryError(f"check plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
        _loaded = True
    return dict(_checks)


def plugin_names() -> list[str]:
    """Names of installed check plugins, without importing them."""
    return sorted(ep.name for ep in entry_points(group=CHECK_GROUP))
