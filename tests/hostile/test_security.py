"""Security at the CLI, against the real Samba DC (issue 9.1, 9.4).

`insecure: true` never weakens TLS: a DC certificate from another CA is refused before the bind,
through LDAPS and StartTLS alike. It permits plain LDAP, and then every run says so on stderr.
Credentials never appear in what exops prints.
"""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from exops.cli import cli
from exops.lab.samba import issue_ca

pytestmark = pytest.mark.samba
PASSWORD_ENV = "EXOPS_SECURITY_TEST_PASSWORD"


def _run(tmp_path, monkeypatch, dc, url: str, *args: str, **settings):
    lines = [f"url: {url}", f"base_dn: {dc.base_dn}", f"user: {dc.admin_user}",
             f"password_env: {PASSWORD_ENV}", *(f"{k}: {v}" for k, v in settings.items())]
    config = tmp_path / "exops.yaml"
    config.write_text("directory:\n" + "".join(f"  {line}\n" for line in lines))
    monkeypatch.setenv(PASSWORD_ENV, dc.admin_password)
    return CliRunner().invoke(cli, ["--config", str(config), *args])


@pytest.mark.parametrize("transport", ["ldaps", "start_tls"])
def test_insecure_with_a_foreign_ca_is_refused_before_the_bind(litware_dc, tmp_path, monkeypatch,
                                                                transport):
    foreign = issue_ca(tmp_path / "foreign", "a man in the middle")
    url, extra = (litware_dc.url_ldaps, {}) if transport == "ldaps" else \
        (litware_dc.url_ldap, {"start_tls": "true"})
    result = _run(tmp_path, monkeypatch, litware_dc, url, "check", insecure="true",
                  ca_file=str(foreign), **extra)
    assert result.exit_code == 3, result.output
    assert "TLS failed (untrusted certificate)" in result.output
    assert litware_dc.admin_password not in result.output


def test_config_check_says_insecure_does_not_weaken_tls(litware_dc, tmp_path, monkeypatch):
    result = _run(tmp_path, monkeypatch, litware_dc, litware_dc.url_ldaps, "config", "check",
                  insecure="true", ca_file=litware_dc.ca_file)
    assert result.exit_code == 0 and "validates every TLS certificate" in result.output


def test_plain_ldap_allowed_by_insecure_warns_on_every_run(litware_dc, tmp_path, monkeypatch):
    result = _run(tmp_path, monkeypatch, litware_dc, litware_dc.url_ldap, "check",
                  "--only", "FB-ORPHAN-DN", insecure="true")
    assert result.exit_code == 2, result.output
    assert result.output.count("warning:") == 1 and "clear text" in result.output


def test_credentials_in_the_url_are_refused_and_never_shown(litware_dc, tmp_path, monkeypatch):
    url = litware_dc.url_ldaps.replace("ldaps://", "ldaps://admin:Hunter2Secret@")
    for command in (("config", "check"), ("check",)):
        result = _run(tmp_path, monkeypatch, litware_dc, url, *command)
        assert result.exit_code in (1, 3) and "credentials do not belong in the URL" in result.output
        assert "Hunter2Secret" not in result.output
