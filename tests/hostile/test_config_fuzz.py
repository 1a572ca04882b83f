"""Property-based fuzzing of the inventory reader: YAML-shaped text and any bytes."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from exops.config import load_config
from tests.hostile.fuzz import FUZZ, file_read_or_refused

KEYS = st.sampled_from(["directory", "exchange", "loadbalancers", "journal", "url", "timeout",
                        "insecure", "start_tls", "password_env", "servers", "roles", "name",
                        "type", "socket", "password", "? [a]", "<<", "&a", "*a"])
SCALARS = st.sampled_from(["ldaps://dc1", "ldap://dc1", "ldaps://[::1", "ldaps://dc1:99999",
                           "ldaps://u:p@dc1", "https://ex1:5986/wsman", ".nan", ".inf", "-5",
                           "1e999", "99999999999999999999", "yes", "~", "!!binary aGk=",
                           "!custom x", "!!python/object:os.system", "'quoted'", "[1, 2]",
                           "{a: 1}", "*alias", "&anchor x", "2020-13-45", "0x1F", "haproxy"]) \
    | st.text(max_size=20)


@st.composite
def yaml_lines(draw) -> str:
    indent = " " * draw(st.sampled_from([0, 2, 4, 6]))
    shape = draw(st.sampled_from(["pair", "item", "open", "junk"]))
    if shape == "pair":
        return f"{indent}{draw(KEYS)}: {draw(SCALARS)}"
    if shape == "item":
        return f"{indent}- {draw(SCALARS)}"
    if shape == "open":
        return f"{indent}{draw(KEYS)}:"
    return indent + draw(st.text(max_size=30))


@FUZZ
@given(lines=st.lists(yaml_lines(), max_size=25),
       encoding=st.sampled_from(["utf-8", "utf-16", "utf-32", "latin-1"]))
def test_yaml_shaped_inventories_are_read_or_refused(tmp_path_factory, lines, encoding):
    data = "\n".join(lines).encode(encoding, errors="replace")
    file_read_or_refused(tmp_path_factory, "exops.yaml", data, load_config)


@FUZZ
@given(data=st.binary(max_size=2048))
def test_any_bytes_are_read_or_refused(tmp_path_factory, data):
    file_read_or_refused(tmp_path_factory, "exops.yaml", data, load_config)
