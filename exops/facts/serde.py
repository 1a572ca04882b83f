"""Facts to JSON-ready data and back, so a check runs the same on a live collection and a bundle.

Facts are frozen dataclasses; this walks their type hints, so a new fact type needs no code here.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from datetime import datetime
from typing import Any


def to_data(value: Any) -> Any:
    """Facts to JSON-ready data (datetimes as ISO 8601, tuples as lists)."""
    if dataclasses.is_dataclass(value):
        return {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [to_data(v) for v in value]
    if isinstance(value, dict):
        return {k: to_data(v) for k, v in value.items()}
    return value


def from_data(kind: Any, data: Any) -> Any:
    """Rebuild facts of type `kind` from `to_data` output; raises ValueError naming the field."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        if data is None:
            return None
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
        return from_data(kind, data)
    if dataclasses.is_dataclass(kind):
        if not isinstance(data, dict):
            raise ValueError(f"expected an object for {kind.__name__}, got {type(data).__name__}")
        hints = typing.get_type_hints(kind)
        values = {}
        for f in dataclasses.fields(kind):
            if f.name in data:
                try:
                    values[f.name] = from_data(hints[f.name], data[f.name])
                except (ValueError, TypeError, KeyError) as exc:
                    raise ValueError(f"{kind.__name__}.{f.name}: {exc}") from None
        try:
            return kind(**values)
        except TypeError as exc:
            raise ValueError(f"{kind.__name__}: {exc}") from None
    if origin is tuple:
        item = typing.get_args(kind)[0]
        return tuple(from_data(item, v) for v in _expect(list, data))
    if origin is dict:
        _, item = typing.get_args(kind)
        return {str(k): from_data(item, v) for k, v in _expect(dict, data).items()}
    if kind is datetime:
        return datetime.fromisoformat(_expect(str, data))
    if kind in (int, str):
        return _expect(kind, data)
    return data


def _expect(kind: type, data: Any) -> Any:
    if not isinstance(data, kind) or (kind is int and isinstance(data, bool)):
        raise ValueError(f"expected {kind.__name__}, got {data!r:.60}")
    return data
