"""The command palette: exops's own commands first, each with what it does and its key, then
Textual's (theme, keys panel, maximize) after them.

Commands are read from the bindings (ids `exops.*`) of the screen and the app, so a new binding is
in the palette without being listed twice; its tooltip is the description. Actions the screen
refuses (`check_action`) are left out. Exporting in a given format and opening one check's
findings are added by name. A modal screen (the fix screen) keeps the app's keys away while it is
open, and so does the palette. One provider yields everything, so the order is this one (Textual
gathers several providers' commands in whatever order they arrive).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from textual.actions import parse
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode

from exops.tui.screens.export import FORMAT_NAMES

Command = tuple[str, str, Callable[[], object]]


def binding_commands(node: DOMNode) -> Iterator[Command]:
    for binding in node.BINDINGS:
        if not isinstance(binding, Binding) or not (binding.id or "").startswith("exops."):
            continue
        _, name, params = parse(binding.action)
        if node.check_action(name, params) is False:
            continue
        key = f"key {node.app.get_key_display(binding)}"
        yield (binding.description or name, f"{binding.tooltip} · {key}" if binding.tooltip else key,
               partial(node.app.run_action, binding.action, node))


class TriageCommands(Provider):
    def commands(self) -> list[Command]:
        ours = self.exops_commands()
        return ours + self.textual_commands({name for name, _, _ in ours})

    def exops_commands(self) -> list[Command]:
        app = self.app
        session = app.session  # type: ignore[attr-defined]  (the provider is ExopsApp's)
        out = list(binding_commands(self.screen))
        if self.screen.is_modal:
            return out
        out += binding_commands(app)
        if session.report is not None:
            out += [(f"Export as {name}", f"Write the findings as {name} to a file you name",
                     partial(app.action_export, fmt)) for fmt, name in FORMAT_NAMES.items()]
        out += [(f"Findings of {check.id}", check.title, partial(app.open_findings, check.id))
                for check in session.checks]
        return out

    def textual_commands(self, taken: set[str]) -> list[Command]:
        """Textual's own (theme, keys, maximize), less those exops does its way (quit waits for
        a change; a screenshot says where it went)."""
        return [(c.title, c.help, c.callback) for c in self.app.get_system_commands(self.screen)
                if c.title not in taken]

    async def discover(self) -> Hits:
        for name, help_text, run in self.commands():
            yield DiscoveryHit(name, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, run in self.commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), run, help=help_text)
