"""Evidence bundles: a folder or zip that holds one collection, so checks run the same offline.

Layout (manifest `schema_version` 2):
    manifest.json    what is inside, per fact kind ("facts": {"directory": [...], "events": [...]}),
                     and where it came from
    <kind>.json      facts exops collected live, one file per fact kind (directory.json, ...)
    directory.ldf    or the raw evidence they come from: an ldifde export,
    logs/*.evtx|xml  the event logs themselves, scanned when the bundle is opened
Version 1 bundles (only "directory" and "logs") are read as version 2. A bundle carries
evidence, not conclusions: the checks always run anew on it. Writing one is
`exops.sources.bundle_writer`.

Bundles come from customers, so reading one is bounded: the manifest is at most 1 MiB, shallow,
and typed; a zip is never extracted whole. Only the members the manifest lists are expanded, one
by one, each checked first against the total expansion allowed and against a compression ratio
no real evidence reaches, and encrypted, damaged or exotically compressed members are refused
by name. A zip (or folder) whose files sit in one top-level folder, as Windows "Send to >
Compressed folder" makes them, is read like a flat one.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from exops.errors import ExopsError
from exops.facts.store import Facts, kind_named
from exops.sources.eventlog import EventLogError
from exops.sources.evidence import EvidenceError, NothingRead, read_member
from exops.sources.ldif import LdifError
from exops.terminal import brief

SCHEMA_VERSION = 2
MANIFEST = "manifest.json"
MAX_MANIFEST = 1 << 20          # bytes; a real manifest is well under 4 KiB
MAX_LOGS = 1_000
MAX_NAME = 255                  # characters in a member name the manifest lists
MAX_EXPANDED = 32 << 30         # bytes all expanded members of a zip may take together
MAX_RATIO = 250                 # expanded/compressed beyond this (for members over RATIO_FLOOR)...
RATIO_FLOOR = 32 << 20          # ...is a zip bomb: EVTX and LDIF compress 5-30 fold
COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
IGNORED_FOLDERS = ("__MACOSX/",)   # resource forks macOS adds to the zips it makes


class BundleError(ExopsError, ValueError):
    """A bundle exops cannot open; names the bundle and the part that is wrong."""


def read_manifest(path: str | Path) -> dict:
    """A bundle's validated manifest alone (where it came from, what it holds)."""
    with _opened(Path(path)) as bundle:
        return bundle.manifest()


def open_bundle(path: str | Path, *, progress: Callable[[str], None] | None = None,
                cancel: threading.Event | None = None) -> Facts:
    """Read a bundle's facts, scanning its logs; every problem is a BundleError.

    `progress(line)` is called as each member starts; `cancel` is passed down to the log scans,
    which stop between chunks. A bundle that holds nothing is refused: reading nothing must never
    look like a healthy organisation.
    """
    path = Path(path)
    with _opened(path) as bundle:
        held = held_members(bundle.manifest())
        if not held:
            raise BundleError(f"bundle {path}: {MANIFEST} lists no evidence; there is nothing to check")
        facts = Facts()
        for name, members in held.items():
            kind = kind_named(name)
            if kind is None:
                raise bundle.fail(f"it holds {name!r} facts, which this exops does not know; upgrade exops")
            for member in members:
                if progress:
                    progress(f"reading {member}")
                try:
                    value = read_member(kind, bundle.file(member), cancel=cancel)
                except NothingRead as exc:     # the rest of the bundle still counts
                    facts = facts.merged(Facts(unavailable={kind.type: f"{member}: {exc}"}))
                    continue
                except (EvidenceError, EventLogError, LdifError) as exc:
                    raise bundle.fail(f"{member}: {exc}") from None
                facts = facts.merged(Facts(value))
    return facts


@contextmanager
def raw_evidence(path: str | Path, kind: str) -> Iterator[list[Path]]:
    """The files a bundle holds for one fact kind (its LDIF exports, its logs), readable inside
    the `with`: for readers that need more than the facts keep (every affected recipient)."""
    with _opened(Path(path)) as bundle:
        yield [bundle.file(member) for member in held_members(bundle.manifest()).get(kind, [])]


def held_members(manifest: dict) -> dict[str, list[str]]:
    """The members a validated manifest lists per fact kind; version 1 is migrated here."""
    if manifest["schema_version"] == 1:
        held = {"directory": [manifest["directory"]] if manifest["directory"] else [],
                "events": list(manifest["logs"])}
    else:
        held = manifest["facts"]
    return {kind: members for kind, members in held.items() if members}


class BundleSource:
    """A saved collection as a source: facts only, never executors (bundles are evidence)."""

    provides: tuple[type, ...] = ()   # whatever it holds; nothing it lacks is "unavailable"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.name = f"bundle {path}"

    def facts(self, *, cancel: threading.Event | None = None,
              progress: Callable[[str], None] | None = None) -> Facts:
        return open_bundle(self.path, progress=progress, cancel=cancel)

    def executors(self) -> dict:
        return {}

    def close(self) -> None:
        pass


class _Bundle:
    """One opened bundle: its validated manifest and the members it lists, as files."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, message: str) -> BundleError:
        return BundleError(f"bundle {self.path}: {message}")

    def read(self, name: str, limit: int) -> bytes:
        raise NotImplementedError

    def file(self, name: str) -> Path:
        raise NotImplementedError

    def manifest(self) -> dict:
        manifest = _json(self.read(MANIFEST, MAX_MANIFEST), self.fail, MANIFEST)
        if not isinstance(manifest, dict) or manifest.get("format") != "exops-bundle":
            raise self.fail(f"{MANIFEST}: expected \"format\": \"exops-bundle\"")
        version = manifest.get("schema_version")
        if type(version) is not int or not 1 <= version <= SCHEMA_VERSION:
            raise self.fail(f"{MANIFEST}: schema_version {brief(repr(version), 120)} is not one this "
                            f"exops reads (it reads 1 to {SCHEMA_VERSION}); upgrade exops")
        directory, logs = manifest.setdefault("directory", None), manifest.setdefault("logs", [])
        if directory is not None and not isinstance(directory, str):
            raise self.fail(f"{MANIFEST}: \"directory\" must be the path of the directory file")
        if not isinstance(logs, list) or not all(isinstance(n, str) for n in logs):
            raise self.fail(f"{MANIFEST}: \"logs\" must be a list of paths")
        if len(logs) > MAX_LOGS:
            raise self.fail(f"{MANIFEST}: lists {len(logs)} logs; exops reads at most {MAX_LOGS}")
        for key in ("source", "created", "exops_version"):
            if not isinstance(manifest.get(key, ""), str):
                raise self.fail(f"{MANIFEST}: \"{key}\" must be text")
        if version >= 2:
            held = manifest.get("facts")
            if not isinstance(held, dict) or not all(
                    isinstance(kind, str) and isinstance(members, list)
                    and all(isinstance(m, str) for m in members) for kind, members in held.items()):
                raise self.fail(f"{MANIFEST}: \"facts\" must map fact kinds to lists of paths")
            if sum(len(members) for members in held.values()) > MAX_LOGS + len(held):
                raise self.fail(f"{MANIFEST}: lists more members than exops reads ({MAX_LOGS})")
        for members in held_members(manifest).values():
            for name in members:
                self.check_name(name)
        return manifest

    def check_name(self, name: str) -> None:
        parts = PurePosixPath(name).parts
        if not name or len(name) > MAX_NAME or name.startswith("/") or ".." in parts \
                or "\\" in name or "\0" in name:
            raise self.fail(f"{MANIFEST} lists {brief(repr(name), 120)}, which is not a path inside "
                            "the bundle")

    def absent(self, name: str) -> BundleError:
        return self.fail(f"{name} is missing; is this a bundle made by 'exops collect'?")

    def missing(self, name: str) -> BundleError:
        return self.fail(f"{MANIFEST} lists {brief(repr(name), 120)}, which is not in the bundle")


class _Folder(_Bundle):
    def __init__(self, path: Path, root: Path):
        super().__init__(path)
        self.root = root.resolve()

    def file(self, name: str) -> Path:
        member = (self.root / name).resolve()
        if self.root not in member.parents or not member.is_file():
            raise self.missing(name)
        return member

    def read(self, name: str, limit: int) -> bytes:
        if not (self.root / name).is_file():
            raise self.absent(name)
        with self.file(name).open("rb") as stream:
            data = stream.read(limit + 1)
        if len(data) > limit:
            raise self.fail(f"{name} is larger than {limit >> 10} KiB; not an exops manifest")
        return data


class _Zip(_Bundle):
    def __init__(self, path: Path, archive: zipfile.ZipFile, prefix: str, scratch: Path):
        super().__init__(path)
        self.archive, self.prefix, self.scratch = archive, prefix, scratch
        self.expanded = 0
        self.files: list[Path] = []

    def info(self, name: str) -> zipfile.ZipInfo:
        try:
            info = self.archive.getinfo(self.prefix + name)
        except KeyError:
            raise self.missing(name) from None
        if info.is_dir():
            raise self.missing(name)
        if info.flag_bits & 0x1:
            raise self.fail(f"{name} is encrypted; send the bundle as a zip without a password")
        if info.compress_type not in COMPRESSIONS:
            raise self.fail(f"{name} uses compression method {info.compress_type}, which exops "
                            "does not read; zip it again with the ordinary (deflate) method")
        return info

    @contextmanager
    def member(self, name: str) -> Iterator:
        """The member as a stream; damage found while reading it is a BundleError."""
        try:
            with self.archive.open(self.info(name)) as stream:
                yield stream
        except BundleError:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
                ValueError, OSError) as exc:    # OSError: offsets that seek before the file
            raise self.fail(f"{name} is damaged ({brief(exc, 120)})") from None

    def read(self, name: str, limit: int) -> bytes:
        try:
            self.archive.getinfo(self.prefix + name)
        except KeyError:
            raise self.absent(name) from None
        if self.info(name).file_size > limit:
            raise self.fail(f"{name} is larger than {limit >> 10} KiB; not an exops manifest")
        with self.member(name) as stream:
            return stream.read()     # never more than the file_size checked above

    def file(self, name: str) -> Path:
        info = self.info(name)
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise self.fail(f"{name} would expand {info.file_size // max(info.compress_size, 1)} "
                            f"fold to {info.file_size >> 20} MiB; no evidence compresses like "
                            "that, so this is refused as a zip bomb")
        if self.expanded + info.file_size > MAX_EXPANDED:
            raise self.fail(f"expanding {name} would take the bundle past {MAX_EXPANDED >> 30} "
                            "GiB; split the evidence into several bundles")
        self.expanded += info.file_size
        target = self.scratch / f"{len(self.files)}{_suffix(name)}"
        self.files.append(target)
        with self.member(name) as stream, target.open("wb") as out:
            try:
                shutil.copyfileobj(stream, out, 1 << 20)
            except OSError as exc:
                raise self.fail(f"cannot expand {name} into {self.scratch.parent}: "
                                f"{exc.strerror or exc} (set TMPDIR to a roomier folder)") from None
        return target


@contextmanager
def _opened(path: Path) -> Iterator[_Bundle]:
    if path.is_dir():
        yield _Folder(path, _single_folder(path))
        return
    if not path.exists():
        raise BundleError(f"bundle {path}: no such file or folder")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise BundleError(f"bundle {path}: expected a bundle folder or a .zip made by "
                          f"'exops collect' ({brief(exc, 120)})") from None
    with archive, tempfile.TemporaryDirectory(prefix="exops-bundle-") as scratch:
        yield _Zip(path, archive, _zip_prefix(archive), Path(scratch))


def _single_folder(root: Path) -> Path:
    """The folder that holds the manifest: `root`, or its only subfolder when that is all."""
    if (root / MANIFEST).exists():
        return root
    entries = [e for e in root.iterdir() if e.name + "/" not in IGNORED_FOLDERS]
    if len(entries) == 1 and entries[0].is_dir() and (entries[0] / MANIFEST).is_file():
        return entries[0]
    return root


def _zip_prefix(archive: zipfile.ZipFile) -> str:
    """"" for a flat zip, or "<folder>/" when every member sits in that one folder."""
    names = [n for n in archive.namelist() if not n.startswith(IGNORED_FOLDERS)]
    if MANIFEST in names:
        return ""
    tops = {n.split("/", 1)[0] + "/" for n in names}
    if len(tops) == 1 and all("/" in n for n in names):
        return tops.pop()
    return ""


def _json(data: bytes, fail: Callable[[str], BundleError], name: str):
    """Parsed JSON, refused (never crashing) when too deep or holding absurd numbers."""
    try:
        return json.loads(data)
    except RecursionError:
        raise fail(f"{name}: nested too deeply to be an exops file") from None
    except ValueError as exc:   # JSONDecodeError, UnicodeDecodeError, integers over 4300 digits
        raise fail(f"{name}: not valid JSON ({brief(exc, 120)})") from None


def _suffix(name: str) -> str:
    suffix = PurePosixPath(name).suffix.lower()
    return suffix if suffix.isascii() and suffix[1:].isalnum() and len(suffix) <= 8 else ""

