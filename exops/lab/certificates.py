"""Server certificates from the lab CA (made by `exops.lab.samba.issue_ca`) for any lab endpoint:
the emulated CAS servers, the balancer's virtual service, the KEMP and F5 API emulators.

Signed by the lab's one signer (`exops.lab.samba.issue_certificate`), then laid out as HAProxy
and the emulators read them: `<stem>.pem`, `<stem>.key` and `<stem>.bundle.pem` (both).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from exops.lab.samba import issue_certificate as sign


def issue_certificate(ca_dir: Path, out_dir: Path, stem: str, names: list[str],
                      addresses: list[str]) -> tuple[Path, Path]:
    """`<stem>.pem` (certificate), `<stem>.key` (private key, mode 600) and `<stem>.bundle.pem`
    (both, as HAProxy reads them), valid for the names and addresses given."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        key, cert = sign(ca_dir, Path(tmp), (names or addresses)[0], addresses=tuple(addresses),
                         dns_names=tuple(names))
        cert_pem, key_pem = cert.read_bytes(), key.read_bytes()
        cert_path, key_path = out_dir / f"{stem}.pem", out_dir / f"{stem}.key"
        shutil.copyfile(cert, cert_path)
    for path, data in ((key_path, key_pem), (out_dir / f"{stem}.bundle.pem", cert_pem + key_pem)):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
    return cert_path, key_path
