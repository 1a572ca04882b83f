"""Fixtures for the WinRM lab: a lab CA and endpoints on loopback driven by pywinrm itself."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from exops.lab.samba import issue_ca, issue_certificate
from exops.lab.winrm_server import Account, WinRMEndpoint
from exops.lab.wsman import Runner, ShellService

LAB_USER, LAB_PASSWORD = "LITWARE\\exopsadmin", "Lab-Passw0rd!2011"


@pytest.fixture(scope="session")
def lab_tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(ca.pem, key.pem, cert.pem): a lab CA and a certificate for 127.0.0.1 / l12ex1.litware.com."""
    root = tmp_path_factory.mktemp("lab-ca")
    ca = issue_ca(root / "ca")
    key, cert = issue_certificate(root / "ca", root / "server", "l12ex1.litware.com",
                                  addresses=("127.0.0.1",), dns_names=("l12ex1.litware.com",))
    return ca, key, cert


@pytest.fixture
def endpoint(lab_tls) -> Iterator[Callable[..., WinRMEndpoint]]:
    """`endpoint(runner, auth="basic", **options)`: a started endpoint, stopped after the test."""
    started: list[WinRMEndpoint] = []
    _, key, cert = lab_tls

    def make(runner: Runner, auth: str = "basic", idle_timeout: float = 120.0, **options) -> WinRMEndpoint:
        service = ShellService(runner, "L12EX1", idle_timeout=idle_timeout)
        server = WinRMEndpoint(service, Account(LAB_USER, LAB_PASSWORD), cert_file=cert, key_file=key,
                               auth=auth, **options).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
