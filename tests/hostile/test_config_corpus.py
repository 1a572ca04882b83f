"""Crafted inventories (tests/hostile/corpus/config): each is one line naming file, line and field.

Nothing here may raise anything but ConfigError, and no message may repeat a value that was
meant to be secret.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from exops.config import ConfigError, load_config

CORPUS = Path(__file__).parent / "corpus" / "config"
SECRETS = ("Hunter2", "os.system")

REFUSED = {
    "alias-bomb.yaml": (1, "unknown section"),
    "bad-float-tag.yaml": (3, "directory.timeout: expected float"),
    "credentials-in-url.yaml": (2, "credentials do not belong in the URL"),
    "custom-tag.yaml": (2, "directory.url: expected a single str"),
    "deep-nesting.yaml": (1, "nested deeper than"),
    "duplicate-key.yaml": (3, "directory.url: given twice"),
    "duplicate-section.yaml": (3, "directory: given twice"),
    "exchange-bad-url.yaml": (3, "exchange.servers[0].url: not a valid URL"),
    "huge-number.yaml": (3, "directory.timeout: expected seconds"),
    "list-key.yaml": (2, "expected setting names"),
    "local-tag.yaml": (2, "custom YAML tags"),
    "no-host.yaml": (2, "names no host"),
    "not-utf8.yaml": (3, "not UTF-8 or UTF-16"),
    "open-bracket.yaml": (2, "not a valid URL"),
    "passwd-key.yaml": (3, "passwords do not belong in the file"),
    "password-as-env.yaml": (4, "looks like a password itself"),
    "port-not-number.yaml": (2, "not a valid URL"),
    "port-too-big.yaml": (2, "not a valid URL"),
    "timeout-bool.yaml": (3, "directory.timeout: expected float"),
    "timeout-inf.yaml": (3, "directory.timeout: expected seconds"),
    "timeout-nan.yaml": (3, "directory.timeout: expected seconds"),
    "timeout-negative.yaml": (3, "directory.timeout: expected seconds"),
    "utf16-truncated.yaml": (1, "expected a mapping"),
}


def test_every_corpus_file_has_an_expectation():
    assert {p.name for p in CORPUS.iterdir()} == set(REFUSED) | {"utf16-ok.yaml", "binary-tag.yaml"}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_crafted_inventory_is_one_line_naming_file_and_line(name):
    line, says = REFUSED[name]
    path = CORPUS / name
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert says in message and "\n" not in message
    assert not any(secret in message for secret in SECRETS)


def test_utf16_inventory_reads_like_utf8_and_warns_that_insecure_does_not_weaken_tls():
    config = load_config(CORPUS / "utf16-ok.yaml")
    assert config.directory.url == "ldaps://dc1" and config.directory.insecure
    assert "validates every TLS certificate" in config.warnings[0]


def test_plain_ldap_allowed_by_insecure_is_warned_about(tmp_path):
    path = tmp_path / "exops.yaml"
    path.write_text("directory:\n  url: ldap://dc1\n  insecure: true\n")
    assert "clear text" in load_config(path).warnings[0]
