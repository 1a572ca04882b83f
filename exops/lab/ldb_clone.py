"""Adds many recipients to a stopped lab DC's domain partition as copies of ones seeded over LDAP.

Run by Samba's own Python (the interpreter of `samba-tool`, which has the `ldb` module), never
imported by exops: `python3 ldb_clone.py <partition.ldb> <job.json>`.

Why: Samba keeps, for every indexed value, the list of the objects that hold it, and an add
within a transaction copies each list it touches (one allocation per object). Every mailbox
user shares objectClass, objectCategory, primaryGroupID, userAccountControl, sAMAccountType
and homeMDB with all the others, so an add costs time in proportion to the users already there:
100,000 users seeded over LDAP would take hours. Here the partition's attribute indexes are
dropped, the copies are written in one transaction, and the indexes are restored, which rebuilds
them in one pass.

A copy is its template's stored record (what Samba's modules made of an LDAP add: security
descriptor, objectCategory, sAMAccountType, ...) with the recipient's own names and addresses
from the job, a new objectGUID, an objectSid whose RID comes from a block taken from the RID
Manager's pool (so that Samba never hands them out again), and the next USNs, also in its
replication metadata (Samba's USN counter moves past them).
"""
import json
import os
import struct
import sys
import uuid

import ldb
import tdb

DN_VALUED = {"homemdb"}     # stored with the target's GUID: must name the template's target


def main(partition: str, job_file: str) -> int:
    with open(job_file, encoding="utf-8") as handle:
        job = json.load(handle)
    db = ldb.Ldb()
    db.connect(f"tdb://{partition}")
    templates = {dn: _one(db, dn) for dn in {entry["template"] for entry in job["entries"]}}
    index = _one(db, "@INDEXLIST")
    kept = ldb.Message(ldb.Dn(db, "@INDEXLIST"))
    for name in ("@IDXATTR", "@IDXONE"):
        if name in index:
            kept[name] = ldb.MessageElement([], ldb.FLAG_MOD_DELETE, name)
    db.modify(kept)                                  # drops the attribute indexes
    # Samba's partition module counts USNs in metadata.tdb, next to the partitions.
    metadata = tdb.Tdb(os.path.join(os.path.dirname(partition), "metadata.tdb"), 0, tdb.DEFAULT,
                       os.O_RDWR)
    usn = int(metadata.get(b"SEQ_NUM"))
    rid = _reserve_rids(db, len(job["entries"]))
    db.transaction_start()
    try:
        for entry in job["entries"]:
            usn, rid = usn + 1, rid + 1
            db.add(_copy(db, templates[entry["template"]], entry, usn, rid))
        db.transaction_commit()
    except Exception:
        db.transaction_cancel()
        raise
    restored = ldb.Message(ldb.Dn(db, "@INDEXLIST"))
    for name in ("@IDXATTR", "@IDXONE"):
        if name in index:
            restored[name] = ldb.MessageElement([bytes(v) for v in index[name]],
                                                ldb.FLAG_MOD_REPLACE, name)
    db.modify(restored)                              # rebuilds every index in one pass
    metadata.transaction_start()
    metadata.store(b"SEQ_NUM", str(usn).encode(), tdb.REPLACE)
    metadata.transaction_commit()
    changed = ldb.Message(ldb.Dn(db, "@REPLCHANGED"))
    changed["uSNHighest"] = ldb.MessageElement([str(usn).encode()], ldb.FLAG_MOD_REPLACE,
                                               "uSNHighest")
    db.modify(changed)
    print(len(job["entries"]))
    return 0


def _one(db: ldb.Ldb, dn: str) -> ldb.Message:
    found = db.search(base=dn, scope=ldb.SCOPE_BASE)
    if len(found) != 1:
        raise SystemExit(f"{dn}: not in the partition")
    return found[0]


def _reserve_rids(db: ldb.Ldb, count: int) -> int:
    """Take `count` RIDs from the RID Manager's available pool; the last RID before them."""
    manager = db.search(expression="(cn=RID Manager$)", attrs=["rIDAvailablePool"])
    if len(manager) != 1:
        raise SystemExit("no RID Manager$ in the partition")
    pool = int(str(manager[0]["rIDAvailablePool"][0]))
    low, high = pool & 0xFFFFFFFF, pool >> 32
    if low + count > high:
        raise SystemExit(f"the RID pool has {high - low} RIDs left, {count} needed")
    update = ldb.Message(manager[0].dn)
    update["rIDAvailablePool"] = ldb.MessageElement(
        [str((high << 32) | (low + count)).encode()], ldb.FLAG_MOD_REPLACE, "rIDAvailablePool")
    db.modify(update)
    return low - 1


def _copy(db: ldb.Ldb, template: ldb.Message, entry: dict, usn: int, rid: int) -> ldb.Message:
    copy = ldb.Message(ldb.Dn(db, entry["dn"]))
    own = {name.lower(): values for name, values in entry["attrs"].items()}
    rdn = copy.dn.get_rdn_value()
    for name in template.keys():
        if name in ("dn", "distinguishedName"):
            continue
        values = [bytes(v) for v in template[name]]
        key = name.lower()
        if key in ("cn", "name"):
            values = [rdn.encode()]
        elif key in DN_VALUED:
            if [v.split(b">;", 1)[-1].lower() for v in values] != \
                    [v.encode().lower() for v in own.pop(key)]:
                raise SystemExit(f"{entry['dn']}: {name} differs from its template's")
        elif key in own:
            values = [v.encode() for v in own.pop(key)]
        elif key == "objectguid":
            values = [uuid.uuid4().bytes_le]
        elif key == "objectsid":
            values = [values[0][:-4] + struct.pack("<I", rid)]
        elif key in ("usncreated", "usnchanged"):
            values = [str(usn).encode()]
        elif key == "replpropertymetadata":
            values = [_metadata_usn(values[0], usn)]
        copy[name] = ldb.MessageElement(values, ldb.FLAG_MOD_ADD, name)
    if own:
        raise SystemExit(f"{entry['dn']}: its template has no {', '.join(sorted(own))}")
    return copy


def _metadata_usn(blob: bytes, usn: int) -> bytes:
    """replPropertyMetaData (version 1: a header of 16 bytes, then 48 bytes per attribute whose
    last 16 are the originating and local USNs) with every USN set to `usn`."""
    version, count = struct.unpack_from("<I4xI", blob)
    if version != 1 or len(blob) < 16 + 48 * count:
        raise SystemExit("replPropertyMetaData in an unknown format")
    out = bytearray(blob)
    for n in range(count):
        struct.pack_into("<QQ", out, 16 + 48 * n + 32, usn, usn)
    return bytes(out)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
