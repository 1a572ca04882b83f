"""legacyExchangeDN and X.500 helpers.

Exchange compares legacyExchangeDN values case-insensitively, so every comparison in exops goes
through `fold`. The free/busy site folder of a user is named by the `/o=<Org>/ou=<AG>` part.
"""
from __future__ import annotations

import re

# /o=<org>/ou=<ag> at the start of a value; org and AG names may hold spaces and most punctuation.
_PREFIX = re.compile(r"^/o=(?P<org>[^/]+)/ou=(?P<ag>[^/]+)", re.IGNORECASE)
# The same, anywhere in free text (event messages). Where an AG name ends in a sentence is a
# guess: at a path, quote, line or sentence end, or before a word that starts a clause.
_CLAUSE = ("because|could|cannot|can|was|were|is|are|does|did|do|has|had|have|will|would|"
           "should|may|might|must|not|on|in|at|from|to|with|by|which|that|when|while|after|"
           "before|since|until|as|if")
# An AG name may hold balanced parentheses ("(FYDIBOHF23SPDLT)"); an unbalanced ")" closes the
# text around it, as in "legacyExchangeDN (/o=.../ou=...)".
_IN_TEXT = re.compile(r"/o=[^/\r\n\t\"<>]+?/ou=(?:[^/\r\n\t\"<>()]|\([^/\r\n\t\"<>()]*\))+?"
                      rf"(?=/|[\"<>\r\n\t)]|\s*$|[.;:]\s|,\s|\s(?:{_CLAUSE})\b)", re.IGNORECASE)
EX_FOLDER = "EX:"
MODERN_AG = "Exchange Administrative Group (FYDIBOHF23SPDLT)"


class BadLegacyDN(ValueError):
    """A value that is not an `/o=<Org>/ou=<AG>` legacyExchangeDN."""


def fold(value: str) -> str:
    return value.casefold().strip()


def admin_group_prefix(legacy_dn: str) -> str | None:
    """`/o=EUROPE/ou=First Administrative Group` from a user's or AG's legacyExchangeDN."""
    match = _PREFIX.match(legacy_dn.strip())
    if not match:
        return None
    return f"/o={match['org'].strip()}/ou={match['ag'].strip()}"


def parse_admin_group_dn(value: str) -> tuple[str, str]:
    """Split an `/o=<Org>/ou=<AG>` value into (org, AG), refusing anything else."""
    value = value.strip()
    if value.upper().startswith(EX_FOLDER):
        value = value[len(EX_FOLDER):]
    match = _PREFIX.match(value)
    if not match or match.end() != len(value):
        raise BadLegacyDN(
            f"{value!r} is not an administrative group legacyExchangeDN; "
            "expected /o=<Organization>/ou=<Administrative Group>, "
            "e.g. /o=EUROPE/ou=First Administrative Group")
    return match["org"].strip(), match["ag"].strip()


def prefixes_in_text(text: str) -> list[str]:
    """Every `/o=.../ou=...` named in a message or data item, in order, without repeats."""
    seen: dict[str, str] = {}
    for match in _IN_TEXT.finditer(text):
        prefix = admin_group_prefix(match.group(0).rstrip(" .,;:'"))
        if prefix and fold(prefix) not in seen:
            seen[fold(prefix)] = prefix
    return list(seen.values())


def prefixes_named(texts: list[str] | tuple[str, ...]) -> list[str]:
    """The `/o=.../ou=...` values a set of event data items and messages name.

    An item that is itself a legacyExchangeDN is exact; a value found inside a sentence is a
    guess, kept only when it is not an exact value with words run on after it.
    """
    exact: dict[str, str] = {}
    for text in texts:
        prefix = admin_group_prefix(text) if text.strip().lower().startswith("/o=") else None
        if prefix:
            exact.setdefault(fold(prefix), prefix)
    found = dict(exact)
    for text in texts:
        for prefix in prefixes_in_text(text):
            key = fold(prefix)
            if key not in found and not any(key.startswith(e + " ") for e in exact):
                found[key] = prefix
    return list(found.values())


def rdn_value(dn: str) -> str:
    """The value of a DN's first RDN (`CN=First Administrative Group,...` -> the name)."""
    first = re.split(r"(?<!\\),", dn, maxsplit=1)[0]
    return first.split("=", 1)[-1].replace("\\,", ",").strip()


def parent_dn(dn: str) -> str:
    parts = re.split(r"(?<!\\),", dn, maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def is_deleted_reference(dn: str | None) -> bool:
    """AD mangles a link to a deleted object into `CN=name\\0ADEL:<guid>,CN=Deleted Objects,...`."""
    return bool(dn) and ("DEL:" in dn.upper() or "CN=DELETED OBJECTS," in dn.upper())


def server_of(database_dn: str) -> str | None:
    """The msExchExchangeServer DN holding a database: what follows `CN=InformationStore,`."""
    at = database_dn.upper().find(",CN=INFORMATIONSTORE,")
    return database_dn[at + len(",CN=InformationStore,"):] if at >= 0 else None


# ---------------------------------------------------------------- where Exchange keeps things in AD

def configuration_dn(base_dn: str) -> str:
    return f"CN=Configuration,{base_dn}"


def exchange_dn(base_dn: str) -> str:
    return f"CN=Microsoft Exchange,CN=Services,{configuration_dn(base_dn)}"


def organization_dn(base_dn: str, org: str) -> str:
    return f"CN={escape_rdn(org)},{exchange_dn(base_dn)}"


def admin_groups_dn(base_dn: str, org: str) -> str:
    return f"CN=Administrative Groups,{organization_dn(base_dn, org)}"


def admin_group_dn(base_dn: str, org: str, ag: str) -> str:
    return f"CN={escape_rdn(ag)},{admin_groups_dn(base_dn, org)}"


def escape_rdn(value: str) -> str:
    """RFC 4514 escaping for an RDN value (AG names hold spaces, parentheses, sometimes commas)."""
    out = "".join("\\" + c if c in ',+"\\<>;=' else c for c in value)
    if out.startswith((" ", "#")):
        out = "\\" + out
    if out.endswith(" "):
        out = out[:-1] + "\\ "
    return out
