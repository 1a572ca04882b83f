"""`exops lab up|status|down`: a running lab that the rest of exops talks to as to any directory."""
from __future__ import annotations

import pytest

from tests.integration.lab_cli import lab_cli

pytestmark = pytest.mark.samba


def test_lab_up_check_status_down(tmp_path):
    exops = lab_cli(tmp_path)

    try:
        up = exops("lab", "up")
        assert up.returncode == 0, up.stderr
        assert (tmp_path / "exops.lab.yaml").is_file()
        assert exops("lab", "status").stdout.startswith("lab litware: up, answering")
        check = exops("--config", "exops.lab.yaml", "check", "--only", "FB-ORPHAN-DN")
        assert check.returncode == 2 and "152 mailboxes" in check.stdout
        again = exops("lab", "up")
        assert again.returncode == 0 and up.stdout.splitlines()[0] == again.stdout.splitlines()[0]
    finally:
        down = exops("lab", "down")
    assert down.stdout.strip() == "lab litware: stopped"
    status = exops("lab", "status")
    assert status.returncode == 3 and "down" in status.stdout
