"""The EVTX layout (REFERENCE.md 4) that the chunk walk, the sieve, the BinXML reader and the
value rendering all read, and the chunk checksums: a module of its own because the walk builds
on the reader, which needs the layout too.

The `struct` readers each module calls per record are declared in that module: CPython compiles
a call on a name imported with `from ... import` as an attribute load that builds a bound method
every time, which made the record reader 4% slower.
"""
from __future__ import annotations

import struct
import zlib

HEADER_SIZE = 0x1000
CHUNK_SIZE = 0x10000
RECORDS_START = 0x200
CHUNK_MAGIC = b"ElfChnk\x00"
CHUNK_HEADER = struct.Struct("<8sQQQQIII")      # magic, record numbers/ids, header size, offsets
MIN_RECORD = 28                      # header, an empty fragment and the trailing size copy

# (offset in the chunk, size, record id, FILETIME written): a plain tuple, as one is made for
# every record of the log and a NamedTuple costs as much as the rest of the walk.
Record = tuple[int, int, int, int]
_U32 = struct.Struct("<I")


def checksums_match(chunk: bytes, end: int) -> bool:
    """Whether a chunk's header checksum and its records' checksum (up to `end`) both match."""
    view = memoryview(chunk)
    header_crc, data_crc = _U32.unpack_from(chunk, 0x7C)[0], _U32.unpack_from(chunk, 0x34)[0]
    return (zlib.crc32(view[0x80:RECORDS_START], zlib.crc32(view[:0x78])) == header_crc
            and zlib.crc32(view[RECORDS_START:end]) == data_crc)
