"""The inventory file: the documented example loads, and every mistake names file, line and field."""
from __future__ import annotations

import pytest

from exops.config import ConfigError, load_config, secret

EXAMPLE = """\
directory:
  url: ldaps://dc1.litware.com
  start_tls: false
  base_dn: DC=litware,DC=com
  user: Administrator@litware.com
  password_env: EXOPS_LDAP_PASSWORD
  auth: simple
  ca_file: /etc/exops/ca.pem
  insecure: false
exchange:
  user: LITWARE\\\\exopsadmin
  password_env: EXOPS_WINRM_PASSWORD
  transport: ntlm
  ca_file: /etc/exops/ca.pem
  servers:
    - {name: L12EX1, url: https://l12ex1.litware.com:5986/wsman, roles: [cas, hub, mailbox]}
loadbalancers:
  - {name: vlm1, type: kemp, url: https://vlm1.litware.com, user: bal, password_env: EXOPS_LB_PASSWORD}
  - {name: edge, type: haproxy, socket: /run/haproxy/admin.sock}
"""


def write(tmp_path, text):
    path = tmp_path / "exops.yaml"
    path.write_text(text)
    return path


def test_documented_example_loads(tmp_path):
    config = load_config(write(tmp_path, EXAMPLE))
    assert config.directory.url == "ldaps://dc1.litware.com"
    assert config.exchange.servers[0].roles == ("cas", "hub", "mailbox")
    assert [b.type for b in config.loadbalancers] == ["kemp", "haproxy"]


@pytest.mark.parametrize("text, where, says", [
    ("directory:\n  url: ldap://dc1\n", ":2: directory.url", "insecure: true"),
    ("directory:\n  url: ldaps://dc1\n  auth: digest\n", ":3: directory.auth", "simple, ntlm, kerberos"),
    ("directory:\n  url: ldaps://dc1\n  pasword_env: X\n", ":3: directory.pasword_env", "unknown setting"),
    ("directory:\n  url: ldaps://dc1\n  password: hunter2\n", ":3: directory.password", "password_env"),
    ("directory:\n  start_tls: yes\n", ":2: directory.url", "required"),
    ("directory:\n  url: ldaps://dc1\n  insecure: maybe\n", ":3: directory.insecure", "expected bool"),
    ("exchange:\n  servers:\n    - {name: X, url: http://x:5985/wsman}\n", ":3: exchange.servers[0].url", "https"),
    ("loadbalancers:\n  - {name: a, type: nginx, url: https://a}\n", ":2: loadbalancers[0].type", "haproxy, kemp, f5"),
    ("loadbalancers:\n  - {name: a, type: haproxy}\n", ":2: loadbalancers[0]", "socket"),
    ("directory: [1, 2]\n", ":1: directory", "mapping"),
    ("directory:\n  url: ldaps://dc1\n bad indent: 1\n", ":3", "not valid YAML"),
    ("dirctory: {}\n", ":1: dirctory", "unknown section"),
])
def test_mistakes_name_file_line_and_field(tmp_path, text, where, says):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}{where}"), message
    assert says in message


def test_plain_ldap_is_allowed_only_when_insecure_is_said(tmp_path):
    config = load_config(write(tmp_path, "directory:\n  url: ldap://dc1\n  insecure: true\n"))
    assert config.directory.insecure is True
    config = load_config(write(tmp_path, "directory:\n  url: ldap://dc1\n  start_tls: true\n"))
    assert config.directory.start_tls is True


def test_missing_password_without_a_terminal_says_which_variable(monkeypatch):
    monkeypatch.delenv("EXOPS_TEST_PW", raising=False)
    with pytest.raises(ConfigError, match="export EXOPS_TEST_PW="):
        secret("EXOPS_TEST_PW", "the directory")
    monkeypatch.setenv("EXOPS_TEST_PW", "s3cret")
    assert secret("EXOPS_TEST_PW", "the directory") == "s3cret"
