"""Evidence bundles: a folder or zip that holds one collection, so checks run the same offline.

Layout (manifest `schema_version` 1):
    manifest.json    what is inside and where it came from
    directory.json   DirectoryFacts (or directory.ldf, an ldifde export)
    logs/*.evtx|xml  the event logs themselves: evidence, scanned when the bundle is opened
A bundle carries evidence, not conclusions: the checks always run anew on it.
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
from exops.facts import DirectoryFacts, EventFacts, Facts, from_data, to_data
from exops.sources.eventlog import EventLogError, scan_log
from exops.sources.ldif import LdifError, read_ldif_facts

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"


class BundleError(ValueError):
    """A bundle exops cannot open; names the bundle and the part that is wrong."""


def write_bundle(path: str | Path, *, directory: DirectoryFacts | None = None,
                 ldif: str | Path | None = None, logs: Iterable[str | Path] = (),
                 source: str = "") -> Path:
    """Write a folder bundle (or a zip when `path` ends in .zip).

    The directory goes in as collected facts or, for offline evidence, as an ldifde export.
    """
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        staging = Path(tmp) / "bundle"
        (staging / "logs").mkdir(parents=True)
        manifest = {"format": "exops-bundle", "schema_version": SCHEMA_VERSION,
                    "exops_version": exops.__version__, "source": source,
                    "created": datetime.now(timezone.utc).isoformat(), "directory": None, "logs": []}
        if directory is not None:
            (staging / "directory.json").write_text(json.dumps(to_data(directory), indent=1))
            manifest["directory"] = "directory.json"
        elif ldif is not None:
            shutil.copyfile(ldif, staging / "directory.ldf")
            manifest["directory"] = "directory.ldf"
        for log in logs:
            target = staging / "logs" / Path(log).name
            shutil.copyfile(log, target)
            manifest["logs"].append(f"logs/{target.name}")
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if path.suffix.lower() == ".zip":
            shutil.make_archive(str(path.with_suffix("")), "zip", staging)
        else:
            if path.exists():
                shutil.rmtree(path)
            shutil.copytree(staging, path)
    return path


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

    `progress(name)` is called as each log starts; `cancel` is passed down to the log scans,
    which stop between chunks (raising ScanCancelled).
    """
    path = Path(path)
    with _unpacked(path) as root:
        manifest = _manifest(path, root)
        directory = _directory(path, root, manifest.get("directory"))
        scans = []
        for name in manifest.get("logs", []):
            log = _member(path, root, name)
            if progress:
                progress(name)
            try:
                scans.append(scan_log(log, cancel=cancel))
            except EventLogError as exc:
                raise BundleError(f"bundle {path}: {name}: {exc}") from None
        events = EventFacts(scans=tuple(scans)) if manifest.get("logs") else None
    return Facts(directory=directory, events=events)


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
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise BundleError(f"bundle {path}: {MANIFEST}: schema_version {version!r} is not one this "
                          f"exops reads (it reads 1 to {SCHEMA_VERSION}); upgrade exops")
    if not isinstance(manifest.get("logs", []), list):
        raise BundleError(f"bundle {path}: {MANIFEST}: \"logs\" must be a list of paths")
    return manifest


def _member(path: Path, root: Path, name: str) -> Path:
    member = (root / name).resolve()
    if root.resolve() not in member.parents or not member.is_file():
        raise BundleError(f"bundle {path}: {MANIFEST} lists {name!r}, which is not in the bundle")
    return member


def _directory(path: Path, root: Path, name: str | None) -> DirectoryFacts | None:
    if not name:
        return None
    member = _member(path, root, name)
    if member.suffix.lower() in (".ldf", ".ldif"):
        try:
            return read_ldif_facts(member)
        except LdifError as exc:
            raise BundleError(f"bundle {path}: {exc}") from None
    try:
        return from_data(DirectoryFacts, json.loads(member.read_text()))
    except json.JSONDecodeError as exc:
        raise BundleError(f"bundle {path}: {name}: not valid JSON ({exc})") from None
    except ValueError as exc:
        raise BundleError(f"bundle {path}: {name}: {exc}") from None
