"""Crafted LDIF (tests/hostile/corpus/ldif and builders): read, or refused in one line (9.8, 9.10)."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from exops.cli import cli
from exops.sources.ldif import MAX_LINE, LdifError, read_ldif_facts
from tests.hostile import crafted

CORPUS = Path(__file__).parent / "corpus" / "ldif"

REFUSED = {
    "empty.ldf": "no entries",
    "version-only.ldf": "no entries",
    "url-value.ldf": ":2: photo: values by URL",
    "bad-base64.ldf": ":2: description: the base64 value is not valid",
    "latin1.ldf": "not UTF-8 or UTF-16",
    "change-file.ldf": ":2: changetype 'delete'",
    "no-dn-first.ldf": ":1: expected 'dn:",
}
READ = {"control-characters.ldf": 1, "cr-only.ldf": 1, "invalid-utf8-in-base64.ldf": 1}


def test_every_corpus_file_has_an_expectation():
    assert {p.name for p in CORPUS.iterdir()} == set(REFUSED) | set(READ)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_crafted_ldif_is_refused_in_one_line(name):
    with pytest.raises(LdifError) as caught:
        read_ldif_facts(CORPUS / name)
    message = str(caught.value)
    assert message.startswith(str(CORPUS / name)) and REFUSED[name] in message
    assert "\n" not in message


@pytest.mark.parametrize("name", sorted(READ))
def test_odd_but_valid_ldif_is_read(name):
    assert read_ldif_facts(CORPUS / name).recipients_scanned == READ[name]


def test_check_on_an_ldif_with_nothing_in_it_is_unknown():
    result = CliRunner().invoke(cli, ["check", "--ldif", str(CORPUS / "version-only.ldf")])
    assert result.exit_code == 3 and "no entries" in result.output


def test_forty_thousand_continuation_lines_are_joined_whole(tmp_path):
    path = tmp_path / "folded.ldf"
    path.write_text(crafted.folded_ldif(40_000))
    facts = read_ldif_facts(path)        # quadratic joining took 37 s here
    assert facts.recipients_scanned == 1


def test_a_line_past_the_limit_is_refused_not_read_into_memory(tmp_path):
    path = tmp_path / "long.ldf"
    with path.open("w") as out:
        out.write(crafted.ENTRY + "description: ")
        chunk = "x" * (1 << 20)
        for _ in range((MAX_LINE >> 20) + 1):
            out.write(chunk)
    with pytest.raises(LdifError, match=":4: a line .* longer than"):
        read_ldif_facts(path)
