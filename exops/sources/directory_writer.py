"""Applies plan steps to Active Directory over an ldap3 connection (the `ldap.*` actions).

States are read back from the directory itself, never assumed, so the engine can verify each
step and tell a finished change from one a crash interrupted.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ldap3 import BASE, MODIFY_REPLACE, Connection
from ldap3.core.exceptions import LDAPNoSuchObjectResult

from exops.errors import ExopsError
from exops.plan import State, Step

if TYPE_CHECKING:
    from exops.sources.directory import DirectorySource


class DirectoryWriteError(ExopsError, RuntimeError):
    """The directory refused a change; the message carries its reason."""


class LdapExecutor:
    """The `ldap` executor: adds and modifies directory objects through the source's connection,
    bound when the first step runs."""

    def __init__(self, source: DirectorySource):
        self.source = source

    @property
    def conn(self) -> Connection:
        return self.source.connection

    def same(self, a: State | None, b: State | None) -> bool:
        """States compare as AD compares these values: case-insensitively, in any order."""
        return _normal(a) == _normal(b)

    def read(self, step: Step) -> State:
        names = sorted(set(step.after.get("attributes", {})) | set(step.before.get("attributes", {})))
        try:
            found = self.conn.search(step.target, "(objectClass=*)", search_scope=BASE,
                                     attributes=names or ["objectClass"])
        except LDAPNoSuchObjectResult:
            found = False
        if not found or not self.conn.entries:
            if self.conn.result.get("result") not in (0, 32):  # 32: noSuchObject
                raise DirectoryWriteError(f"reading {step.target}: {self._why()}")
            return {"exists": False, "attributes": {}}
        entry = self.conn.entries[0]
        attrs = {}
        for name in names:
            values = entry[name].values if name in entry else []
            attrs[name] = sorted(str(v) for v in values)
        return {"exists": True, "attributes": attrs}

    def apply(self, step: Step) -> None:
        if step.action == "ldap.add":
            attrs = {k: v for k, v in step.after["attributes"].items() if v}
            ok = self.conn.add(step.target, step.params["objectClass"], attrs)
            if not ok and self.conn.result.get("result") == 68:  # entryAlreadyExists: a racing run
                return
        elif step.action == "ldap.modify":
            ok = self.conn.modify(step.target, _replace(step.after["attributes"]))
        else:
            raise DirectoryWriteError(f"unknown directory action {step.action!r}")
        if not ok:
            raise DirectoryWriteError(f"{step.action} {step.target}: {self._why()}")

    def restore(self, step: Step, before: State) -> None:
        if not before.get("exists"):
            if not self.conn.delete(step.target) and self.conn.result.get("result") != 32:
                raise DirectoryWriteError(f"removing {step.target}: {self._why()}")
            return
        if not self.conn.modify(step.target, _replace(before["attributes"])):
            raise DirectoryWriteError(f"restoring {step.target}: {self._why()}")

    def _why(self) -> str:
        result = self.conn.result or {}
        return f"{result.get('description', 'error')} {result.get('message', '')}".strip()


def _normal(state: State | None):
    if state is None:
        return None
    attrs = {k.lower(): sorted(str(v).casefold() for v in vs)
             for k, vs in state.get("attributes", {}).items() if vs}
    return bool(state.get("exists")), attrs


def _replace(attrs: dict[str, list[str]]) -> dict:
    """Set every named attribute to exactly these values (none: remove the attribute, which a
    replace with no values does without failing when it is already absent)."""
    return {name: [(MODIFY_REPLACE, values)] for name, values in attrs.items()}
