"""Administrator connections to a lab DC, shared by the schema extension, the seeding and tests.

Over validated LDAPS against the lab's own CA, like every connection exops makes.
"""
from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from ldap3 import NONE, Connection, Server, Tls

if TYPE_CHECKING:
    from exops.lab.samba import RunningDC


def admin_connection(dc: RunningDC, **options) -> Connection:
    """An ldap3 connection bound as the domain administrator over validated LDAPS."""
    tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=dc.ca_file)
    server = Server(dc.url_ldaps, use_ssl=True, tls=tls, connect_timeout=5, get_info=NONE)
    return Connection(server, dc.admin_user, dc.admin_password, auto_bind=True,
                      check_names=False, raise_exceptions=False, **options)


def borrowed_or_own(target: Connection | RunningDC) -> tuple[Connection, bool]:
    """A caller's open connection (not ours to close), or a new one to the DC (ours)."""
    if isinstance(target, Connection):
        return target, False
    return admin_connection(target), True
