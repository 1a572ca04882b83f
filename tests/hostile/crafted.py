"""Builders of crafted evidence: zips and LDIF too big, too binary or too many to keep as files.

Each builder returns the bytes (or writes the file) of one hostile input; the tests say what
exops must answer. Small crafted inputs live as files in tests/hostile/corpus/.
"""
from __future__ import annotations

import io
import json
import struct
import zipfile

ENTRY = "dn: CN=A,DC=litware,DC=com\nobjectClass: user\nlegacyExchangeDN: /o=X/ou=Y/cn=a\n"
MANIFEST = {"format": "exops-bundle", "schema_version": 1, "source": "crafted",
            "directory": "directory.ldf", "logs": []}


def zip_bytes(members: dict[str, bytes | str], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


def bundle_zip(manifest: dict | str | bytes | None = None, **members: bytes | str) -> bytes:
    """A small valid zip bundle, with the manifest or members replaced as given."""
    if manifest is None:
        manifest = MANIFEST
    if isinstance(manifest, dict):
        manifest = json.dumps(manifest)
    return zip_bytes({"manifest.json": manifest, "directory.ldf": ENTRY, **members})


def patched(data: bytes, name: str, *, flags: int | None = None, method: int | None = None,
            crc: int | None = None) -> bytes:
    """`data` (a zip) with one member's general-purpose flags, compression method or CRC-32
    rewritten in both its local and its central directory header."""
    out = bytearray(data)
    encoded = name.encode()
    for signature, flag_at, method_at, crc_at, name_len_at, name_at in (
            (b"PK\x03\x04", 6, 8, 14, 26, 30), (b"PK\x01\x02", 8, 10, 16, 28, 46)):
        at = out.find(signature)
        while at != -1:
            (length,) = struct.unpack_from("<H", out, at + name_len_at)
            if bytes(out[at + name_at:at + name_at + length]) == encoded:
                if flags is not None:
                    struct.pack_into("<H", out, at + flag_at, flags)
                if method is not None:
                    struct.pack_into("<H", out, at + method_at, method)
                if crc is not None:
                    struct.pack_into("<I", out, at + crc_at, crc)
            at = out.find(signature, at + 4)
    return bytes(out)


def deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


def many_empty_members(count: int) -> bytes:
    """A bundle whose zip also holds `count` empty members nobody lists."""
    members = {f"junk/{n}": b"" for n in range(count)}
    return bundle_zip(**members)


def zip_bomb(size: int) -> bytes:
    """A bundle whose listed directory file expands from a few KiB to `size` bytes of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.json", json.dumps(MANIFEST))
        with z.open("directory.ldf", "w", force_zip64=True) as member:
            chunk = b"\0" * (1 << 20)
            for _ in range(size >> 20):
                member.write(chunk)
    return out.getvalue()


def folded_ldif(continuations: int) -> str:
    """One value folded over `continuations` lines (joined quadratically, it took minutes)."""
    return (ENTRY + "description: start\n" + " abcdefghijklmnopqrstuvwxyz\n" * continuations)
