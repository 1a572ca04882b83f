"""Writes valid .evtx files for the lab and the fixtures (placeholder: being written)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class EventSpec:
    """One event to write: the fields Windows puts in an Application/System record."""

    event_id: int
    provider: str
    time: datetime                 # timezone-aware (UTC)
    computer: str
    channel: str = "Application"
    level: int = 4                 # 1 critical, 2 error, 3 warning, 4 information
    data: tuple[str, ...] = ()     # unnamed <Data> items, as Exchange 2010 writes them
    qualifiers: int | None = None  # <EventID Qualifiers="...">
    task: int = 0
    keywords: int = 0x80000000000000
