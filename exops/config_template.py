"""The commented exops.yaml that `exops config init` writes: every section, explained where it is
set, with the directory the only one switched on (the others are examples to uncomment)."""
from __future__ import annotations

TEMPLATE = """\
# exops inventory: what exops reads from and may change. Check it with: exops config check
# Passwords are never written here: each section names the environment variable that holds one.
# Reference: docs/config.md

directory:
  url: ldaps://dc1.example.com          # ldaps:// (or ldap:// with start_tls: true); a DC in the Exchange site
  # start_tls: false
  # base_dn: DC=example,DC=com          # read from the rootDSE when absent
  user: exops@example.com               # UPN, DOMAIN\\\\user or a DN
  password_env: EXOPS_LDAP_PASSWORD     # export EXOPS_LDAP_PASSWORD=... before running exops
  auth: simple                          # simple | ntlm | kerberos
  # ca_file: /etc/exops/ca.pem          # the CA of the DC's certificate; default: the system store
  # insecure: false                     # true allows plain ldap:// (the password in clear text)
  # timeout: 10                         # seconds

# exchange:                             # Exchange servers over WinRM (remote PowerShell)
#   user: EXAMPLE\\\\exopsadmin
#   password_env: EXOPS_WINRM_PASSWORD
#   transport: ntlm                     # basic | ntlm | kerberos | credssp
#   servers:
#     - {name: EX1, url: https://ex1.example.com:5986/wsman, roles: [cas, hub, mailbox]}

# loadbalancers:
#   - {name: edge, type: haproxy, socket: /run/haproxy/admin.sock}
#   - {name: vlm1, type: kemp, url: https://vlm1.example.com, user: bal, password_env: EXOPS_LB_PASSWORD}

# journal: ~/.local/state/exops/journal.sqlite   # where changes are journaled for history and undo
"""
