"""The EVTX layout (REFERENCE.md 4) that the chunk walk, the BinXML reader and the value
rendering all read: a module of its own because the walk builds on the reader, which needs the
layout too.

The `struct` readers each module calls per record are declared in that module: CPython compiles
a call on a name imported with `from ... import` as an attribute load that builds a bound method
every time, which made the record reader 4% slower.
"""
from __future__ import annotations

HEADER_SIZE = 0x1000
CHUNK_SIZE = 0x10000
RECORDS_START = 0x200
CHUNK_MAGIC = b"ElfChnk\x00"

# (offset in the chunk, size, record id, FILETIME written): a plain tuple, as one is made for
# every record of the log and a NamedTuple costs as much as the rest of the walk.
Record = tuple[int, int, int, int]
