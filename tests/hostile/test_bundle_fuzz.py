"""Property-based fuzzing of the bundle reader: manifests, member layouts and damaged zips."""
from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from exops.sources.bundle import open_bundle
from tests.hostile import crafted
from tests.hostile.fuzz import FUZZ, file_read_or_refused

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=20)
NAMES = st.sampled_from(["directory.ldf", "directory.json", "logs/a.evtx", "logs/b.xml",
                         "../x", "/etc/passwd", "", "logs", "a\\b", "x" * 300, "logs/\0"])
MANIFESTS = st.fixed_dictionaries(
    {"format": st.sampled_from(["exops-bundle", "other"]) | JSON,
     "schema_version": st.sampled_from([1, 0, 2, -5, True, "1", None, 1.0]) | JSON},
    optional={"directory": NAMES | JSON, "logs": st.lists(NAMES, max_size=4) | JSON,
              "source": st.text(max_size=20) | JSON})
CONTENTS = st.sampled_from([crafted.ENTRY, "", "{}", "[1]", '{"admin_groups": 1}',
                            "dn: x\n", "\xff\xfe", "ElfFile\0" + "\0" * 200]) | st.text(max_size=200)


@FUZZ
@given(manifest=MANIFESTS, members=st.dictionaries(NAMES, CONTENTS, max_size=4),
       wrapped=st.booleans())
def test_any_manifest_and_members_are_read_or_refused(tmp_path_factory, manifest, members, wrapped):
    files = {"manifest.json": json.dumps(manifest), **members}
    prefix = "folder/" if wrapped else ""
    data = crafted.zip_bytes({prefix + name: data for name, data in files.items()
                              if name and "\0" not in name})
    file_read_or_refused(tmp_path_factory, "b.zip", data, open_bundle)


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), min_size=1,
                      max_size=8),
       cut=st.none() | st.integers(min_value=0))
def test_a_damaged_zip_is_read_or_refused(tmp_path_factory, flips, cut):
    data = bytearray(crafted.bundle_zip())
    for at, value in flips:
        data[at % len(data)] = value
    if cut is not None:
        data = data[:cut % len(data)]
    file_read_or_refused(tmp_path_factory, "d.zip", bytes(data), open_bundle)
