"""First run without a configuration: plain `exops` says so and where to go; `config init`
writes a commented template that `config check` accepts, and never overwrites one."""
from __future__ import annotations

import os
import subprocess
import sys


def exops(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "EXOPS_CONFIG"}
    return subprocess.run([sys.executable, "-m", "exops", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, stdin=subprocess.DEVNULL)


def test_plain_exops_without_a_configuration_points_to_the_demo_and_init(tmp_path):
    result = exops(cwd=tmp_path)
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert "no configuration" in result.stderr
    assert "exops demo" in result.stderr and "exops config init" in result.stderr


def test_config_init_writes_a_commented_template_that_checks(tmp_path):
    written = exops("config", "init", cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    text = (tmp_path / "exops.yaml").read_text()
    assert "password_env: EXOPS_LDAP_PASSWORD" in text and "# exchange:" in text
    assert exops("config", "check", cwd=tmp_path).returncode == 0
    again = exops("config", "init", cwd=tmp_path)
    assert again.returncode == 3 and "--force" in again.stderr
    (tmp_path / "exops.yaml").write_text("kept")
    assert exops("config", "init", cwd=tmp_path).returncode == 3
    assert (tmp_path / "exops.yaml").read_text() == "kept"
    assert exops("config", "init", "--force", cwd=tmp_path).returncode == 0
