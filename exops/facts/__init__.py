"""Typed facts, one module per area; `store` keys them by type, `serde` round-trips them.

`from exops.facts import DirectoryFacts` (and the other names of the first release) keeps
working for plug-ins written against it; new code imports from the area's module.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

_COMPATIBLE = {
    "Facts": "store", "to_data": "serde", "from_data": "serde",
    **dict.fromkeys(("Organization", "AdminGroup", "ExchangeServer", "PublicFolderDatabase", "Container",
                     "RecipientExample", "PrefixGroup", "DirectoryFacts", "RecipientSummary",
                     "recipient_kind"), "directory"),
    **dict.fromkeys(("FreeBusyEvent", "EventGroup", "LogScan", "EventFacts"), "events"),
}


def __getattr__(name: str) -> Any:
    """Resolved on use, so importing the package imports no area (and makes no cycle)."""
    if name not in _COMPATIBLE:
        raise AttributeError(f"module 'exops.facts' has no attribute {name!r}")
    return getattr(import_module(f"exops.facts.{_COMPATIBLE[name]}"), name)
