"""The subset of the Exchange schema extension that exops reads, added to a Samba AD over LDAP.

Samba 4.17 ships `legacyExchangeDN`, `proxyAddresses` and `msExchConfigurationContainer`, but
none of the attributes and classes below (REFERENCE.md §6). They are added as ordinary
attributeSchema/classSchema objects (ldap3 with `check_names=False`, then `schemaUpdateNow`), the
way Exchange's own setup /PrepareSchema does, so the lab directory has the tree of REFERENCE.md §1.

Object identifiers:
- Microsoft's own, where the Exchange Server 2003 SDK schema reference confirms them:
  `msExchAdminGroupMode` 1.2.840.113556.1.4.7000.102.50014 and
  `msExchPublicFolderTreeContainer` 1.2.840.113556.1.5.7000.62.50015.
- Everything else under 1.3.6.1.4.1.32473 (RFC 5612's arc for documentation and examples):
  attributes under .1.1, classes under .1.2. exops matches on lDAPDisplayName only, so a real
  directory's Microsoft OIDs make no difference to it; these lab OIDs must never be imported
  into a real forest.

Simplifications, kept deliberately small: every class derives from `container` (Exchange's derive
from `top`, `container` or `msExchMDB` with `ms-Exch-Base-Class` as auxiliary), `homeMDB` is not
a linked attribute (no `homeMDBBL`), and `mailNickname`, `homeMDB` and `msExchHomeServerName` are
added to `mailRecipient`, the auxiliary class that user, contact and group already carry.
"""
from __future__ import annotations

from dataclasses import dataclass

from ldap3 import BASE, LEVEL, MODIFY_ADD, MODIFY_REPLACE, Connection

from exops.lab.lab_ldap import borrowed_or_own

EXAMPLE_ARC = "1.3.6.1.4.1.32473"
# oMObjectClass of the DN syntax: 1.3.12.2.1011.28.0.714, BER-encoded.
DN_OBJECT_CLASS = b"\x2b\x0c\x02\x87\x73\x1c\x00\x85\x4a"

# attributeSyntax, oMSyntax
DN, UNICODE, OCTETS, INTEGER = ("2.5.5.1", 127), ("2.5.5.12", 64), ("2.5.5.10", 4), ("2.5.5.9", 2)
LARGE_INTEGER = ("2.5.5.16", 65)


class SchemaError(RuntimeError):
    """The directory refused part of the schema extension; the message names the object."""


@dataclass(frozen=True)
class AttributeDef:
    name: str            # lDAPDisplayName
    cn: str
    oid: str
    syntax: tuple[str, int]
    single: bool = True


@dataclass(frozen=True)
class ClassDef:
    name: str
    cn: str
    oid: str
    superiors: tuple[str, ...]
    may: tuple[str, ...] = ()
    parent: str = "container"


ATTRIBUTES = (
    AttributeDef("siteFolderServer", "Site-Folder-Server", f"{EXAMPLE_ARC}.1.1.1", DN),
    AttributeDef("siteFolderGUID", "Site-Folder-GUID", f"{EXAMPLE_ARC}.1.1.2", OCTETS),
    AttributeDef("homeMDB", "Home-MDB", f"{EXAMPLE_ARC}.1.1.3", DN),
    AttributeDef("mailNickname", "ms-Exch-Mail-Nickname", f"{EXAMPLE_ARC}.1.1.4", UNICODE),
    AttributeDef("msExchHomeServerName", "ms-Exch-Home-Server-Name", f"{EXAMPLE_ARC}.1.1.5", UNICODE),
    AttributeDef("msExchAdminGroupMode", "ms-Exch-Admin-Group-Mode",
                 "1.2.840.113556.1.4.7000.102.50014", INTEGER),
    AttributeDef("msExchVersion", "ms-Exch-Version", f"{EXAMPLE_ARC}.1.1.6", LARGE_INTEGER),
)

_LEGACY = ("legacyExchangeDN",)
CLASSES = (   # in creation order: a class's superiors exist before it
    ClassDef("msExchOrganizationContainer", "ms-Exch-Organization-Container", f"{EXAMPLE_ARC}.1.2.1",
             ("msExchConfigurationContainer",), _LEGACY),
    ClassDef("msExchAdminGroupContainer", "ms-Exch-Admin-Group-Container", f"{EXAMPLE_ARC}.1.2.2",
             ("msExchOrganizationContainer",)),
    ClassDef("msExchAdminGroup", "ms-Exch-Admin-Group", f"{EXAMPLE_ARC}.1.2.3",
             ("msExchAdminGroupContainer",),
             _LEGACY + ("siteFolderServer", "siteFolderGUID", "msExchAdminGroupMode")),
    ClassDef("msExchServersContainer", "ms-Exch-Servers-Container", f"{EXAMPLE_ARC}.1.2.4",
             ("msExchAdminGroup",)),
    ClassDef("msExchExchangeServer", "ms-Exch-Exchange-Server", f"{EXAMPLE_ARC}.1.2.5",
             ("msExchServersContainer",), _LEGACY + ("serialNumber", "msExchVersion")),
    ClassDef("msExchInformationStore", "ms-Exch-Information-Store", f"{EXAMPLE_ARC}.1.2.6",
             ("msExchExchangeServer",)),
    ClassDef("msExchStorageGroup", "ms-Exch-Storage-Group", f"{EXAMPLE_ARC}.1.2.7",
             ("msExchInformationStore",)),
    ClassDef("msExchPrivateMDB", "ms-Exch-Private-MDB", f"{EXAMPLE_ARC}.1.2.8",
             ("msExchStorageGroup", "msExchInformationStore"), _LEGACY),
    ClassDef("msExchPublicMDB", "ms-Exch-Public-MDB", f"{EXAMPLE_ARC}.1.2.9",
             ("msExchStorageGroup", "msExchInformationStore"), _LEGACY),
    ClassDef("msExchPublicFolderTreeContainer", "ms-Exch-Public-Folder-Tree-Container",
             "1.2.840.113556.1.5.7000.62.50015", ("msExchAdminGroup",)),
    ClassDef("msExchPFTree", "ms-Exch-PF-Tree", f"{EXAMPLE_ARC}.1.2.10",
             ("msExchPublicFolderTreeContainer",)),
)

# Existing classes that gain optional attributes.
MAY_CONTAIN = {"mailRecipient": ("mailNickname", "homeMDB", "msExchHomeServerName")}


def extend_schema(target) -> list[str]:
    """Add whatever of the subset is missing; returns the lDAPDisplayNames added (idempotent).

    `target` is a `RunningDC` (bound as its administrator) or a bound ldap3 Connection of a
    Schema Admin.
    """
    conn, own = borrowed_or_own(target)
    try:
        schema_dn = _schema_dn(conn)
        present = _present(conn, schema_dn)
        added = []
        for attr in ATTRIBUTES:
            if attr.name.lower() not in present:
                _add(conn, f"CN={attr.cn},{schema_dn}", _attribute_entry(attr))
                added.append(attr.name)
        _refresh(conn)
        for cls in CLASSES:
            if cls.name.lower() not in present:
                _add(conn, f"CN={cls.cn},{schema_dn}", _class_entry(cls))
                added.append(cls.name)
                _refresh(conn)    # the next class names this one as a superior
        for name, extra in MAY_CONTAIN.items():
            added += _extend_class(conn, schema_dn, name, extra)
        _refresh(conn)
        return added
    finally:
        if own:
            conn.unbind()


def _schema_dn(conn: Connection) -> str:
    conn.search("", "(objectClass=*)", BASE, attributes=["schemaNamingContext"])
    return conn.response[0]["attributes"]["schemaNamingContext"][0]


def _present(conn: Connection, schema_dn: str) -> set[str]:
    wanted = [a.name for a in ATTRIBUTES] + [c.name for c in CLASSES]
    query = "(|" + "".join(f"(lDAPDisplayName={n})" for n in wanted) + ")"
    conn.search(schema_dn, query, LEVEL, attributes=["lDAPDisplayName"])
    return {e["attributes"]["lDAPDisplayName"][0].lower()
            for e in conn.response if e["type"] == "searchResEntry"}


def _attribute_entry(attr: AttributeDef) -> dict:
    syntax, om_syntax = attr.syntax
    entry = {"objectClass": ["top", "attributeSchema"], "cn": attr.cn, "lDAPDisplayName": attr.name,
             "attributeID": attr.oid, "attributeSyntax": syntax, "oMSyntax": str(om_syntax),
             "isSingleValued": "TRUE" if attr.single else "FALSE", "searchFlags": "1"}
    if attr.syntax == DN:
        entry["oMObjectClass"] = DN_OBJECT_CLASS
    return entry


def _class_entry(cls: ClassDef) -> dict:
    entry = {"objectClass": ["top", "classSchema"], "cn": cls.cn, "lDAPDisplayName": cls.name,
             "governsID": cls.oid, "subClassOf": cls.parent, "objectClassCategory": "1",
             "rDNAttID": "cn", "possSuperiors": list(cls.superiors), "defaultHidingValue": "TRUE"}
    if cls.may:
        entry["mayContain"] = list(cls.may)
    return entry


def _extend_class(conn: Connection, schema_dn: str, name: str, extra: tuple[str, ...]) -> list[str]:
    conn.search(schema_dn, f"(lDAPDisplayName={name})", LEVEL, attributes=["mayContain"])
    entries = [e for e in conn.response if e["type"] == "searchResEntry"]
    if not entries:
        raise SchemaError(f"class {name} is missing from the schema")
    have = {v.lower() for v in entries[0]["attributes"].get("mayContain", [])}
    missing = [a for a in extra if a.lower() not in have]
    if missing and not conn.modify(entries[0]["dn"], {"mayContain": [(MODIFY_ADD, missing)]}):
        raise SchemaError(f"cannot add {', '.join(missing)} to {name}: {_why(conn)}")
    return [f"{name}.mayContain+{a}" for a in missing]


def _add(conn: Connection, dn: str, entry: dict) -> None:
    classes = entry.pop("objectClass")
    if not conn.add(dn, classes, entry):
        raise SchemaError(f"cannot add {dn}: {_why(conn)}")


def _refresh(conn: Connection) -> None:
    if not conn.modify("", {"schemaUpdateNow": [(MODIFY_REPLACE, ["1"])]}):
        raise SchemaError(f"schemaUpdateNow refused: {_why(conn)}")


def _why(conn: Connection) -> str:
    return f"{conn.result.get('description')} {conn.result.get('message', '').strip()}".strip()
