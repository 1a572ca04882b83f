"""The event log scan on real third-party .evtx files (vendored in tests/data/evtx-samples, see SOURCES.md):
nothing recoverable is lost, damage is reported with its reason, and both backends agree on
every count and on every field of every record."""
from __future__ import annotations

import struct
from dataclasses import replace

import pytest
from Evtx import Nodes
from Evtx.Evtx import ChunkHeader

from exops.sources.eventlog import rust_available, scan_log
from exops.sources.evtx_binxml import Element, listed_templates, template_elements
from exops.sources.evtx_format import CHUNK_SIZE, HEADER_SIZE
from exops.sources.evtx_walk import scan_chunks
from tests.hostile.evtx_craft import EveryRecord

# file: (records SOURCES.md lists as recoverable, records exops reads). exops reads more where
# it steps over damage to later records in the same chunk, or carves a chunk whose header is
# zeroed, instead of giving up on the rest. (The VSS copy has two records whose value tables
# reach past their record, which no parser can render: both are skipped, not half read.)
RECORDS = {
    "omer__2-vss_0-Microsoft-Windows-RemoteDesktopServices-RdpCoreTS%4Operational.evtx":
        (1910, 1971),
    "omer__Application_no_crc32.evtx": (17, 17),
    "omer__MSExchange_Management_wec.evtx": (1, 1),
    "omer__issue_201.evtx": (1, 1),
    "omer__sample-with-irregular-bool-values.evtx": (3028, 3028),
    "omer__sample-with-zero-data-size-event.evtx": (335, 449),
    "omer__sample_with_a_bad_chunk_magic.evtx": (270, 384),
    "omer__security.evtx": (2261, 2261),
    "omer__security_bad_string_cache.evtx": (2261, 2261),
    "omer__sysmon.evtx": (358, 358),
    "omer__system.evtx": (1881, 1881),
    "pyevtx__dns_log_malformed.evtx": (5, 5),
    "pyevtx__issue_38.evtx": (1, 1),
    "pyevtx__issue_39.evtx": (394, 394),
    "pyevtx__issue_43.evtx": (1730, 1730),
}
# file: (what LogScan.skipped must hold, text LogScan.notes must hold)
DAMAGE = {
    "omer__system.evtx": ({}, "dirty log: header counts 3 chunks, 15 found"),
    "omer__sysmon.evtx": ({"chunk with bad magic (zeroed)": 1, "chunk with bad magic": 7},
                          "dirty log: header counts 1 chunk, 9 found"),
    # its header counts 16 chunks in use; 10 of them are all zeros
    "omer__sample_with_a_bad_chunk_magic.evtx": (
        {"chunk with bad magic (zeroed)": 2, "chunk zeroed (the header counts it in use)": 10,
         "record lost in a damaged part of a chunk": 166},
        "83 records read with a template from another chunk"),
    "omer__sample-with-zero-data-size-event.evtx": ({"record of size 0": 1},
                                                    "checksum mismatch in 1 chunk;"),
    "omer__2-vss_0-Microsoft-Windows-RemoteDesktopServices-RdpCoreTS%4Operational.evtx": (
        {"record with a broken value table": 2, "record with an impossible size": 2,
         "record lost in a damaged part of a chunk": 64},
        "checksum mismatch in 2 chunks;"),
    "omer__Application_no_crc32.evtx": ({}, "file header checksum does not match"),
    "omer__security_bad_string_cache.evtx": ({}, "checksum mismatch in 1 chunk;"),
}
needs_rust = pytest.mark.skipif(not rust_available(),
                                reason="the Rust `evtx` package is not installed")
BACKENDS = ["python", pytest.param("rust", marks=needs_rust)]


def test_every_sample_is_covered(samples_dir):
    assert {p.name for p in samples_dir.glob("*.evtx")} == set(RECORDS)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(RECORDS))
def test_recovers_every_record_sources_lists(samples_dir, name, backend):
    listed, expected = RECORDS[name]
    scan = scan_log(samples_dir / name, backend=backend)
    assert scan.records_read >= listed
    assert scan.records_read == expected
    assert scan.groups == ()                   # none of the samples holds a free/busy event
    skipped, note = DAMAGE.get(name, ({}, ""))
    assert scan.skipped == skipped
    assert any(note in n for n in scan.notes) if note else scan.notes == ()


@needs_rust
@pytest.mark.parametrize("name", sorted(RECORDS))
def test_backends_agree(samples_dir, name):
    python, rust = (scan_log(samples_dir / name, backend=b) for b in ("python", "rust"))
    assert replace(python, backend="rust") == rust


@needs_rust
@pytest.mark.parametrize("name", sorted(RECORDS))
def test_rust_parser_decodes_every_field_of_every_record_as_exops_does(samples_dir, name):
    """With every record a candidate, the Rust backend has the Rust parser render every sound
    chunk and compares each record with the Python reading: no record may differ."""
    from exops.sources import evtx_rust
    tally = EveryRecord(name)
    with (samples_dir / name).open("rb") as stream:
        scan_chunks(stream, tally, None, None, evtx_rust.read_chunk)
    assert len(tally.decoded) == RECORDS[name][1]
    assert tally.remarks == {}


def test_template_reader_agrees_with_python_evtx(samples_dir):
    """exops reads templates itself (python-evtx cannot read template-less records and is 15x
    slower); on every template the samples' chunk headers list, python-evtx must agree."""
    compared = 0
    for path in sorted(samples_dir.glob("*.evtx")):
        data = path.read_bytes()
        for start in range(HEADER_SIZE, len(data) - CHUNK_SIZE + 1, CHUNK_SIZE):
            chunk = data[start:start + CHUNK_SIZE]
            for offset, _ in listed_templates(chunk):
                size = struct.unpack_from("<I", chunk, offset + 20)[0]
                ours = template_elements(chunk, offset + 24, offset + 24 + size)
                assert ours == python_evtx_elements(chunk, offset), (path.name, start, offset)
                compared += 1
    assert compared > 1600


class NamesAtOffset(dict):
    """Name strings read where they are: one sample's chunk string table is broken, and exops
    does not use the table either."""

    def __init__(self, chunk: ChunkHeader):
        super().__init__()
        self.chunk = chunk

    def __missing__(self, offset: int) -> Nodes.NameStringNode:
        return Nodes.NameStringNode(self.chunk._buf, offset, self.chunk, self.chunk)


def python_evtx_elements(chunk: bytes, offset: int) -> list[Element]:
    header = ChunkHeader(chunk, 0)
    names = NamesAtOffset(header)
    header.strings = lambda: names
    header.add_string = lambda string_offset, parent=None: names[string_offset]
    elements: list[Element] = []

    def visit(node, path):
        here = (*path, node.tag_name())
        slot = len(elements)
        elements.append(None)
        attributes, text, fragments = {}, [], []
        for child in node.children():
            if isinstance(child, Nodes.AttributeNode):
                attributes[child.attribute_name().string()] = (part(child.attribute_value()),)
            elif isinstance(child, Nodes.OpenStartElementNode):
                visit(child, here)
            elif isinstance(child, SUBSTITUTIONS) and child.type() == 0x21:
                fragments.append(child.index())
            elif (value := part(child)) is not None:
                text.append(value)
        elements[slot] = Element(here, attributes, tuple(text), tuple(fragments))

    def part(node):
        if isinstance(node, SUBSTITUTIONS):
            return node.index()
        if isinstance(node, Nodes.ValueNode):
            return node.value().string()
        return None

    for child in Nodes.TemplateNode(chunk, offset, header, header).children():
        if isinstance(child, Nodes.OpenStartElementNode):
            visit(child, ())
    return elements


SUBSTITUTIONS = (Nodes.NormalSubstitutionNode, Nodes.ConditionalSubstitutionNode)


def test_python_evtx_alone_would_lose_records(samples_dir):
    """Why exops walks the chunks itself: python-evtx's own iteration stops at the header's
    stale chunk count (SOURCES.md)."""
    from Evtx.Evtx import Evtx
    with Evtx(str(samples_dir / "omer__system.evtx")) as log:
        assert sum(1 for _ in log.records()) == 326
    assert scan_log(samples_dir / "omer__system.evtx", backend="python").records_read == 1881
