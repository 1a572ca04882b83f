"""Evidence files as facts: an ldifde export, event logs (.evtx, wevtutil XML), or facts saved as
JSON by `exops collect`. Loose files on the command line and the members of a bundle are read
the same way, so a check sees the same facts from either.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from exops.errors import ExopsError
from exops.facts.events import EventFacts
from exops.facts.store import FactKind, Facts
from exops.sources.eventlog import scan_log
from exops.sources.eventtally import NOTHING_READ
from exops.sources.ldif import read_ldif_facts
from exops.terminal import brief

Activity = Callable[[str], None]


class EvidenceError(ExopsError):
    """An evidence file that cannot be read as the facts it should hold."""


class NothingRead(EvidenceError):
    """A file that was read but held nothing (a header-only or wholly damaged log): reading
    nothing is not evidence that all is well, so its facts are unavailable, not empty."""


def read_member(kind: FactKind, path: Path, *, cancel: threading.Event | None = None) -> Any:
    """One file's facts of `kind`: JSON saved by exops, or the raw evidence the kind comes from."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            return kind.from_data(json.loads(path.read_bytes()))
        except RecursionError:
            raise EvidenceError("nested too deeply to be an exops file") from None
        except ValueError as exc:   # bad JSON, bad UTF-8, absurd integers, or a field of the wrong type
            raise EvidenceError(f"not valid {kind.name} facts ({brief(exc, 120)})") from None
    if kind.name == "directory" and suffix in (".ldf", ".ldif"):
        return read_ldif_facts(path)
    if kind.name == "events":
        scan = scan_log(path, cancel=cancel)
        if not scan.records_read:
            raise NothingRead(next((n for n in scan.notes if n.startswith(NOTHING_READ)), NOTHING_READ))
        return EventFacts(scans=(scan,))
    raise EvidenceError(f"exops does not read {kind.name} facts from {suffix or 'such'} files")


class EvidenceFile:
    """One evidence file named on the command line (`--evtx`, `--ldif`): a source of facts with
    no executors. One file a source, so one unreadable log leaves the others' facts intact."""

    def __init__(self, kind: FactKind, path: str | Path):
        self.kind, self.path = kind, Path(path)
        self.name = f"file {self.path.name}"
        self.provides = (kind.type,)

    def facts(self, *, cancel: threading.Event | None = None, progress: Activity | None = None) -> Facts:
        if progress:
            progress(f"reading {self.path.name}")
        return Facts(read_member(self.kind, self.path, cancel=cancel))

    def executors(self) -> dict:
        return {}

    def close(self) -> None:
        pass
