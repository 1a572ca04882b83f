"""Textual's Footer, without the leak that made a long session slower with every screen switch.

Footer.compose binds each key it makes to the footer's `compact` (`data_bind`), which leaves a
watcher entry (key, setter) on the footer; Textual prunes such entries only when `compact`
changes, and it never does. The footer recomposes on every screen switch, so each switch left
its old keys (with their styles and caches: some 2,000 objects) reachable for the life of the
app: 100 switches took the app from 114,000 objects to 311,000, and its full garbage
collections from 20 ms to over 300 ms while a scan ran (textual issue #6666, open for 8.2.8).
`ExopsFooter` drops the entries of keys that have left the DOM after each recompose.
"""
from __future__ import annotations

from textual.widgets import Footer

WATCHERS = "__watchers"   # where Textual keeps the (node, callback) entries watching a reactive


class ExopsFooter(Footer):
    """A compact footer for exops's screens that lets its old keys go."""

    def __init__(self, compact: bool = True) -> None:
        super().__init__(compact=compact)

    async def recompose(self) -> None:
        await super().recompose()
        for entries in getattr(self, WATCHERS, {}).values():
            entries[:] = [(node, callback) for node, callback in entries if node.is_attached]
