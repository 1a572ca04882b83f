"""Facts keyed by type (insights-core's broker): a check asks for the types it needs.

Each area declares its fact types in its own module (`facts/directory.py`, `facts/events.py`,
...) with a `FactKind`: the name a bundle manifest files it under, how several of them merge, and
how it serializes. A collection that lacks a type can say why: "not collected" is not "unreadable"
(a source that failed to connect), and the check runner tells the two apart.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any, TypeVar

from exops.facts.serde import from_data, to_data

KIND_GROUP = "exops.facts"
T = TypeVar("T")


@dataclass(frozen=True)
class FactKind:
    """How one fact type is filed, merged and serialized."""

    name: str                                   # the bundle manifest's key: "directory", "events"
    type: type
    describes: str                              # for "no <describes> in this collection"
    merge: Callable[[list[Any]], Any] | None = None   # None: a collection holds at most one

    def to_data(self, value: Any) -> Any:
        return to_data(value)

    def from_data(self, data: Any) -> Any:
        return from_data(self.type, data)

    def combine(self, values: list[Any]) -> Any:
        if len(values) == 1:
            return values[0]
        if self.merge is None:
            raise ValueError(f"a collection holds one {self.name}, not {len(values)}")
        return self.merge(values)


_kinds: dict[str, FactKind] = {}


def register_kind(kind: FactKind) -> FactKind:
    _kinds[kind.name] = kind
    return kind


def kind_of(fact_type: type) -> FactKind:
    for kind in _kinds.values():
        if kind.type is fact_type:
            return kind
    raise KeyError(f"{fact_type.__name__} is not a registered fact type")


def kind_named(name: str) -> FactKind | None:
    """The kind a manifest names; its module is imported through the `exops.facts` entry points."""
    if name not in _kinds:
        for ep in entry_points(group=KIND_GROUP, name=name):
            import_module(ep.value)
    return _kinds.get(name)


class Facts:
    """One collection: at most one value per fact type, and the reason for each type that a
    source was asked for but could not deliver."""

    def __init__(self, *values: Any, unavailable: Mapping[type, str] | None = None):
        self._values: dict[type, Any] = {}
        for value in values:
            if value is not None:
                self._values[type(value)] = value
        self._unavailable = dict(unavailable or {})

    def get(self, fact_type: type[T]) -> T | None:
        return self._values.get(fact_type)

    def __contains__(self, fact_type: type) -> bool:
        return fact_type in self._values

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values.values())

    @property
    def unavailable(self) -> dict[type, str]:
        """Fact types a source should have delivered but could not, with the reason; a type can be
        present and still listed here when only some of its sources delivered (partial evidence)."""
        return dict(self._unavailable)

    def why_missing(self, fact_type: type) -> str:
        if fact_type in self._unavailable:
            return self._unavailable[fact_type]
        try:
            return f"no {kind_of(fact_type).describes} in this collection"
        except KeyError:
            return f"no {fact_type.__name__} in this collection"

    def merged(self, other: Facts) -> Facts:
        """Both collections; where both hold a type, its kind merges them."""
        values: dict[type, list[Any]] = {}
        for value in (*self, *other):
            values.setdefault(type(value), []).append(value)
        combined = [v[0] if len(v) == 1 else kind_of(t).combine(v) for t, v in values.items()]
        unavailable = dict(self._unavailable)
        for fact_type, reason in other._unavailable.items():
            unavailable[fact_type] = f"{unavailable[fact_type]}; {reason}" if fact_type in unavailable else reason
        return Facts(*combined, unavailable=unavailable)

    def __repr__(self) -> str:
        names = ", ".join(t.__name__ for t in self._values)
        return f"Facts({names}{'; unavailable ' + ', '.join(t.__name__ for t in self._unavailable) if self._unavailable else ''})"
