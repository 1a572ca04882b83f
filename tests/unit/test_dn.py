"""legacyExchangeDN parsing: prefixes, case, and DNs inside event text."""
from __future__ import annotations

import pytest

from exops.dn import BadLegacyDN, admin_group_prefix, escape_rdn, parse_admin_group_dn, prefixes_named

ORPHAN = "/o=EUROPE/ou=First Administrative Group"


def test_prefix_of_a_user_value_keeps_its_spelling():
    assert admin_group_prefix(f"{ORPHAN}/cn=Recipients/cn=jdoe") == ORPHAN
    assert admin_group_prefix("/O=Europe/OU=first administrative group/cn=x") == "/o=Europe/ou=first administrative group"
    assert admin_group_prefix("/o=EUROPE/cn=Recipients/cn=old55") is None


@pytest.mark.parametrize("value", ["First Administrative Group", "/o=EUROPE", "/o=EUROPE/ou=AG/cn=Recipients",
                                   "*)(objectClass=*", ""])
def test_anything_but_an_admin_group_value_is_refused(value):
    with pytest.raises(BadLegacyDN, match="expected /o=<Organization>/ou=<Administrative Group>"):
        parse_admin_group_dn(value)


def test_folder_names_are_accepted_as_admin_group_values():
    assert parse_admin_group_dn(f"EX:{ORPHAN}") == ("EUROPE", "First Administrative Group")


def test_exact_items_win_over_guesses_from_sentences():
    texts = [ORPHAN.lower(), f"Failed to publish to {ORPHAN} because the folder could not be found.", "0x8004010F"]
    assert prefixes_named(texts) == [ORPHAN.lower()]
    assert prefixes_named([f"SCHEDULE+ FREE BUSY\\EX:{ORPHAN}"]) == [ORPHAN]
    assert prefixes_named(["no dn here"]) == []


def test_rdn_escaping_follows_rfc_4514():
    assert escape_rdn("Sales, Europe") == "Sales\\, Europe"
    assert escape_rdn(" lead") == "\\ lead"
