"""Faults injected around real parts (issue 9.18): each ends in a clear message and exit code.

The directory killed mid-scan (Samba SIGKILLed) and its connection cut or hung mid-scan (the
fault proxy in front of the real DC), and a disk that fills while a report or a bundle is
written. A re-run once the fault is gone completes.
"""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from exops.cli import cli
from exops.sources.directory import (DirectoryError, DirectorySource, DirectoryTimeout,
                                     DirectoryUnreachable)
from tests.conftest import SCENARIOS
from tests.hostile.faults import FaultyProxy, crash, small_disk

LITWARE = str(SCENARIOS / "litware" / "bundle")
PASSWORD_ENV = "EXOPS_FAULT_TEST_PASSWORD"


def _config(tmp_path, dc, url: str, timeout: float = 2.0):
    path = tmp_path / "exops.yaml"
    path.write_text(f"directory:\n  url: {url}\n  base_dn: {dc.base_dn}\n  user: {dc.admin_user}\n"
                    f"  password_env: {PASSWORD_ENV}\n  ca_file: {dc.ca_file}\n  timeout: {timeout}\n")
    return path


def _check(config, monkeypatch, dc):
    monkeypatch.setenv(PASSWORD_ENV, dc.admin_password)
    return CliRunner().invoke(cli, ["--config", str(config), "check"])


def _one_line(result, code: int, says: str) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and result.output.count("error:") == 1
    assert says in result.output, result.output


@pytest.mark.samba
def test_directory_killed_mid_scan_is_one_error_and_a_rerun_completes(fresh_dc, dc_settings):
    samba = fresh_dc()
    dc = samba.running
    settings, password = dc_settings(dc)
    # paged, as Active Directory is read, so there is a page boundary to kill it at (Samba's
    # unpaged answer for litware arrives whole; cutting one mid-answer is the proxy tests' job)
    source = DirectorySource(settings, password, page_size=50, unpaged=False)

    def kill_after_first_page(progress) -> None:
        if progress.phase == "recipients":
            crash(dc.pid)

    with pytest.raises(DirectoryError) as caught:
        source.collect(progress=kill_after_first_page)
    assert isinstance(caught.value, (DirectoryUnreachable, DirectoryTimeout))
    assert dc.url_ldaps in str(caught.value) and "\n" not in str(caught.value)
    source.close()

    samba.stop()
    again = samba.start()
    settings, password = dc_settings(again)
    with DirectorySource(settings, password) as rerun:
        assert rerun.collect().recipients_scanned == 555


@pytest.mark.samba
def test_connection_cut_mid_scan_is_unknown_in_one_line(litware_dc, tmp_path, monkeypatch):
    with FaultyProxy((litware_dc.address, 636), litware_dc.address, cut_after=30_000) as proxy:
        result = _check(_config(tmp_path, litware_dc, f"ldaps://{proxy.address}"), monkeypatch,
                        litware_dc)
    _one_line(result, 3, "closed the connection")


@pytest.mark.samba
def test_server_hanging_mid_scan_is_a_timeout_in_one_line(litware_dc, tmp_path, monkeypatch):
    with FaultyProxy((litware_dc.address, 636), litware_dc.address, stall_after=30_000) as proxy:
        result = _check(_config(tmp_path, litware_dc, f"ldaps://{proxy.address}", timeout=1),
                        monkeypatch, litware_dc)
    _one_line(result, 3, "no answer within 1 s")


@pytest.mark.samba
def test_a_slow_server_is_still_read_completely(litware_dc, dc_settings):
    with FaultyProxy((litware_dc.address, 636), litware_dc.address, delay=0.01) as proxy:
        settings, password = dc_settings(litware_dc, url=f"ldaps://{proxy.address}")
        with DirectorySource(settings, password) as source:
            assert source.collect().recipients_scanned == 555
        assert proxy.connections == 1


def test_report_on_a_full_disk_is_one_line_and_leaves_no_partial_report():
    with small_disk("16k") as disk:
        result = CliRunner().invoke(cli, ["check", "--bundle", LITWARE, "--format", "html",
                                          "-o", str(disk / "report.html")])
        assert list(disk.iterdir()) == []
    _one_line(result, 3, "No space left on device")


def test_bundle_on_a_full_disk_is_one_line_and_leaves_nothing_behind():
    with small_disk("256k") as disk:
        result = CliRunner().invoke(cli, ["lab", "bundle", "-o", str(disk / "bundle")])
        assert list(disk.iterdir()) == []       # no staging folder, no half bundle
    _one_line(result, 1, "cannot write the bundle")
    assert "No space left on device" in result.output
