"""Evidence bundles: a folder or zip that holds one collection, so checks run the same offline.

Layout (manifest `schema_version` 2):
    manifest.json    what is inside, per fact type ("facts": {"directory": [...], "events": [...]}),
                     and where it came from
    <kind>.json      facts exops collected live, one file per fact type (directory.json, ...)
    directory.ldf    or the raw evidence they come from: an ldifde export,
    logs/*.evtx|xml  the event logs themselves, scanned when the bundle is opened
Version 1 bundles (only "directory" and "logs") are read as version 2. A bundle carries
evidence, not conclusions: the checks always run anew on it.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import exops
from exops.facts.store import Facts, kind_named, kind_of
from exops.sources.eventlog import EventLogError
from exops.sources.evidence import EvidenceError, read_member
from exops.sources.ldif import LdifError
from exops.errors import ExopsError

SCHEMA_VERSION = 2
MANIFEST = "manifest.json"


class BundleError(ExopsError, ValueError):
    """A bundle exops cannot open; names the bundle and the part that is wrong."""


def write_bundle(path: str | Path, *, facts: Facts | None = None,
                 files: dict[str, list[str | Path]] | None = None, source: str = "") -> Path:
    """Write a folder bundle (or a zip when `path` ends in .zip).

    `facts` go in as JSON, one file per fact type; `files` are raw evidence per fact kind name
    ({"directory": [export.ldf], "events": [App.evtx, ...]}), copied as they are.
    """
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        staging = Path(tmp) / "bundle"
        staging.mkdir()
        held: dict[str, list[str]] = {}
        for value in facts or ():
            kind = kind_of(type(value))
            (staging / f"{kind.name}.json").write_text(json.dumps(kind.to_data(value), indent=1))
            held.setdefault(kind.name, []).append(f"{kind.name}.json")
        for name, paths in (files or {}).items():
            for file in paths:
                member = _raw_member_name(name, Path(file), held)
                (staging / member).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(file, staging / member)
                held.setdefault(name, []).append(member)
        manifest = {"format": "exops-bundle", "schema_version": SCHEMA_VERSION,
                    "exops_version": exops.__version__, "source": source,
                    "created": datetime.now(timezone.utc).isoformat(), "facts": held,
                    # the version 1 keys, kept for scripts that read manifests
                    "directory": (held.get("directory") or [None])[0], "logs": held.get("events", [])}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if path.suffix.lower() == ".zip":
            shutil.make_archive(str(path.with_suffix("")), "zip", staging)
        else:
            if path.exists():
                shutil.rmtree(path)
            shutil.copytree(staging, path)
    return path


def _raw_member_name(kind: str, file: Path, held: dict[str, list[str]]) -> str:
    """Event logs go under logs/ (as every bundle had them); other raw evidence at the top."""
    name = f"logs/{file.name}" if kind == "events" else f"{kind}{file.suffix.lower()}"
    if name in {m for members in held.values() for m in members}:
        raise BundleError(f"two evidence files would both be {name} in the bundle; rename one")
    return name


def read_manifest(path: str | Path) -> dict:
    """A bundle's manifest alone (where it came from, what it holds), without reading the rest."""
    path = Path(path)
    if path.is_dir():
        return _manifest(path, path)
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(archive.read(MANIFEST))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise BundleError(f"bundle {path}: {MANIFEST} cannot be read ({exc})") from None
    if not isinstance(manifest, dict):
        raise BundleError(f"bundle {path}: {MANIFEST}: expected an object")
    return manifest


def open_bundle(path: str | Path, *, progress: Callable[[str], None] | None = None,
                cancel: threading.Event | None = None) -> Facts:
    """Read a bundle's facts, scanning its logs; every problem is a BundleError.

    `progress(line)` is called as each member starts; `cancel` is passed down to the log scans,
    which stop between chunks.
    """
    path = Path(path)
    with _unpacked(path) as root:
        manifest = _manifest(path, root)
        facts = Facts()
        for name, members in _held(path, manifest).items():
            kind = kind_named(name)
            if kind is None:
                raise BundleError(f"bundle {path}: it holds {name!r} facts, which this exops does not "
                                  "know; upgrade exops")
            for member in members:
                if progress:
                    progress(f"reading {member}")
                try:
                    value = read_member(kind, _member(path, root, member), cancel=cancel)
                except (EvidenceError, EventLogError, LdifError) as exc:
                    raise BundleError(f"bundle {path}: {member}: {exc}") from None
                facts = facts.merged(Facts(value))
    return facts


@contextmanager
def raw_evidence(path: str | Path, kind: str) -> Iterator[list[Path]]:
    """The files a bundle holds for one fact kind (its LDIF exports, its logs), readable inside
    the `with`: for readers that need more than the facts keep (every affected recipient)."""
    path = Path(path)
    with _unpacked(path) as root:
        manifest = _manifest(path, root)
        yield [_member(path, root, member) for member in _held(path, manifest).get(kind, [])]


def _held(path: Path, manifest: dict) -> dict[str, list[str]]:
    """What the bundle holds per fact kind; a version 1 manifest is migrated on read."""
    if manifest["schema_version"] == 1:
        held = {"directory": [manifest["directory"]] if manifest.get("directory") else [],
                "events": list(manifest.get("logs", []))}
    else:
        held = manifest.get("facts")
    if not isinstance(held, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(m, str) for m in v)
            for k, v in held.items()):
        raise BundleError(f"bundle {path}: {MANIFEST}: \"facts\" must map fact kinds to lists of members")
    return {k: v for k, v in held.items() if v}


class BundleSource:
    """A saved collection as a source: facts only, never executors (bundles are evidence)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.name = f"bundle {path}"
        self.provides = ()   # whatever it holds; nothing it lacks is "unavailable"

    def facts(self, *, cancel: threading.Event | None = None,
              progress: Callable[[str], None] | None = None) -> Facts:
        return open_bundle(self.path, progress=progress, cancel=cancel)

    def executors(self) -> dict:
        return {}

    def close(self) -> None:
        pass


@contextmanager
def _unpacked(path: Path) -> Iterator[Path]:
    if path.is_dir():
        yield path
        return
    if not path.exists():
        raise BundleError(f"bundle {path}: no such file or folder")
    if not zipfile.is_zipfile(path):
        raise BundleError(f"bundle {path}: expected a bundle folder or a .zip made by 'exops collect'")
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if member.startswith("/") or ".." in Path(member).parts:
                raise BundleError(f"bundle {path}: unsafe member name {member!r}")
        archive.extractall(tmp)
        yield Path(tmp)


def _manifest(path: Path, root: Path) -> dict:
    file = root / MANIFEST
    if not file.is_file():
        raise BundleError(f"bundle {path}: {MANIFEST} is missing; is this a bundle made by 'exops collect'?")
    try:
        manifest = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"bundle {path}: {MANIFEST}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "exops-bundle":
        raise BundleError(f"bundle {path}: {MANIFEST}: expected \"format\": \"exops-bundle\"")
    version = manifest.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= SCHEMA_VERSION:
        raise BundleError(f"bundle {path}: {MANIFEST}: schema_version {version!r:.20} is not one this "
                          f"exops reads (it reads 1 to {SCHEMA_VERSION}); upgrade exops")
    if not isinstance(manifest.get("logs", []), list):
        raise BundleError(f"bundle {path}: {MANIFEST}: \"logs\" must be a list of paths")
    return manifest


def _member(path: Path, root: Path, name: str) -> Path:
    member = (root / name).resolve()
    if root.resolve() not in member.parents or not member.is_file():
        raise BundleError(f"bundle {path}: {MANIFEST} lists {name!r}, which is not in the bundle")
    return member
