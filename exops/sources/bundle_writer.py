"""Writing evidence bundles, never deleting what exops did not write.

`exops collect -o DIR` and `exops lab bundle -o DIR` write into a new or empty folder, or a new
`.zip`. An existing target is refused unless `force`, and even then it is replaced only when it
is a previous bundle (its manifest says so) that holds nothing but what that manifest lists: a
folder of someone's own files is never emptied, whatever the flags. The bundle is staged beside
the target and moved into place at the end, so a failed write (a full disk) leaves no half
bundle and the previous one intact.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import exops
from exops.errors import OutputError
from exops.facts.store import Facts, kind_of
from exops.sources.bundle import MANIFEST, SCHEMA_VERSION, BundleError, held_members, read_manifest


def write_bundle(path: str | Path, *, facts: Facts | None = None,
                 files: dict[str, list[str | Path]] | None = None, source: str = "",
                 force: bool = False) -> Path:
    """Write a folder bundle (or a zip when `path` ends in .zip) and return its path.

    `facts` go in as JSON, one file per fact kind; `files` are raw evidence per fact kind name
    ({"directory": [export.ldf], "events": [App.evtx, ...]}), copied as they are.
    """
    path = Path(path)
    zipped, target = check_replaceable(path, force)
    try:
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".exops-bundle-") as tmp:
            staging = Path(tmp) / "bundle"
            _stage(staging, facts, files or {}, source)
            if zipped:
                _zip(staging, Path(tmp) / "bundle.zip")
                os.replace(Path(tmp) / "bundle.zip", target)
            else:
                if target.exists():
                    shutil.rmtree(target) if any(target.iterdir()) else target.rmdir()
                staging.rename(target)
    except OSError as exc:
        raise OutputError(f"cannot write the bundle {path}: {exc.strerror or exc} (no half "
                          "written bundle is left behind)") from None
    return path


def _stage(staging: Path, facts: Facts | None, files: dict[str, list[str | Path]], source: str) -> None:
    staging.mkdir(parents=True)
    held: dict[str, list[str]] = {}
    for value in facts or ():
        kind = kind_of(type(value))
        (staging / f"{kind.name}.json").write_text(json.dumps(kind.to_data(value), indent=1))
        held.setdefault(kind.name, []).append(f"{kind.name}.json")
    for kind, paths in files.items():
        for file in paths:
            member = _member_name(staging, kind, Path(file))
            (staging / member).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, staging / member)
            held.setdefault(kind, []).append(member)
    manifest = {"format": "exops-bundle", "schema_version": SCHEMA_VERSION,
                "exops_version": exops.__version__, "source": source,
                "created": datetime.now(timezone.utc).isoformat(), "facts": held,
                # the version 1 keys, kept for scripts that read manifests
                "directory": (held.get("directory") or [None])[0], "logs": held.get("events", [])}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))


def _member_name(staging: Path, kind: str, file: Path) -> str:
    """Event logs under logs/ (`stem-2.ext`... when two logs from different folders share a
    name); other raw evidence at the top, named for its kind (directory.ldf)."""
    if kind != "events":
        name = f"{kind}{file.suffix.lower()}"
        if (staging / name).exists():
            raise BundleError(f"two {kind} evidence files would both be {name} in the bundle")
        return name
    candidate, n = file.name, 1
    while (staging / "logs" / candidate).exists():
        n += 1
        candidate = f"{file.stem}-{n}{file.suffix}"
    return f"logs/{candidate}"


def _zip(staging: Path, archive: Path) -> None:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for file in sorted(staging.rglob("*")):
            if file.is_file():
                z.write(file, file.relative_to(staging).as_posix())


def check_replaceable(path: Path, force: bool) -> tuple[bool, Path]:
    """(zipped, resolved target) when a bundle may be written at `path`: a new name, an empty
    folder or, with `force`, a previous bundle; else a BundleError saying why not. Callers that
    take long to make the evidence call it first, so a refusal comes at once."""
    zipped, target = path.suffix.lower() == ".zip", path.resolve()
    if not target.parent.is_dir():
        raise BundleError(f"{path}: the folder {target.parent} does not exist")
    if target.exists() or target.is_symlink():
        _check_previous_bundle(path, target, zipped, force)
    return zipped, target


def _check_previous_bundle(path: Path, target: Path, zipped: bool, force: bool) -> None:
    if zipped and not target.is_file():
        raise BundleError(f"{path} exists and is not a file; choose another name for the zip")
    if not zipped and not target.is_dir():
        raise BundleError(f"{path} exists and is not a folder; choose another name")
    if not zipped and not any(target.iterdir()):
        return
    what = "exists" if zipped else "is not empty"
    if not force:
        raise BundleError(f"{path} {what}; exops writes a bundle only to a new name or an empty "
                          "folder (--force replaces a previous bundle there, nothing else)")
    try:
        manifest = read_manifest(target)
    except BundleError:
        raise BundleError(f"{path} {what} and is not a bundle exops wrote (no readable exops "
                          "manifest); it is left as it is") from None
    if not zipped:
        _check_only_bundle_files(path, target, manifest)


def _check_only_bundle_files(path: Path, target: Path, manifest: dict) -> None:
    listed = {MANIFEST, *(m for members in held_members(manifest).values() for m in members)}
    folders = {"logs"} | {str(Path(name).parent) for name in listed} - {"."}
    foreign = []
    for folder, subfolders, files in os.walk(target):
        relative = Path(folder).relative_to(target)
        foreign += [(relative / d).as_posix() + "/" for d in subfolders
                    if (relative / d).as_posix() not in folders]
        foreign += [(relative / f).as_posix() for f in files
                    if (relative / f).as_posix() not in listed]
        subfolders[:] = [d for d in subfolders if (relative / d).as_posix() in folders]
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise BundleError(f"{path} holds files its bundle does not list ({shown}); exops "
                          "replaces only what it wrote: move them or choose another folder")
