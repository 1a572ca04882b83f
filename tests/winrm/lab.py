"""Helpers for tests against the lab: a litware DC plus its emulated Exchange servers."""
from __future__ import annotations

from pathlib import Path

from exops.config import Config, ExchangeSettings, ServerSettings
from exops.lab.samba import CA_DIR, RunningDC
from exops.lab.scenario import Scenario
from exops.lab.winrm_lab import RunningExchangeLab, start_exchange_lab

PASSWORD_ENV = "EXOPS_LAB_PASSWORD"


def exchange_lab(scenario: Scenario, dc: RunningDC, where: Path, **options) -> RunningExchangeLab:
    return start_exchange_lab(scenario, where, dc.directory_settings(password_env=PASSWORD_ENV),
                              ca_dir=Path(dc.target) / CA_DIR, password=dc.admin_password, **options)


def lab_config(dc: RunningDC, lab: RunningExchangeLab, *, journal: Path | None = None,
               directory: bool = True, **exchange) -> Config:
    meta = lab.meta
    settings = ExchangeSettings(
        user=meta.user, password_env=PASSWORD_ENV, transport=meta.auth, ca_file=meta.ca_file,
        servers=tuple(ServerSettings(e.server, e.url, e.roles) for e in meta.endpoints), **exchange)
    return Config(directory=dc.directory_settings(password_env=PASSWORD_ENV) if directory else None,
                  exchange=settings, journal=str(journal) if journal else None)


def write_lab_config(dc: RunningDC, lab: RunningExchangeLab, path: Path, *, journal: Path | None = None,
                     directory: bool = True) -> Path:
    """The configuration file a user would write for the lab (directory and exchange sections)."""
    import yaml
    content = {"exchange": lab.meta.exchange_settings()}
    if directory:
        content["directory"] = {"url": dc.url_ldaps, "base_dn": dc.base_dn, "user": dc.admin_user,
                                "password_env": PASSWORD_ENV, "ca_file": dc.ca_file}
    if journal:
        content["journal"] = str(journal)
    path.write_text(yaml.safe_dump(content))
    return path
