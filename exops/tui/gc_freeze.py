"""The app's start-up objects kept out of every later garbage collection.

CPython's full collection walks every object the process holds, holding the GIL, and starts on
whatever allocation crosses its threshold: inside a key's handling as often as not. Some 58,000
of those objects are the modules, classes and widgets made at start-up, which live as long as
the app; `gc.freeze` moves them where no collection looks again, so each full collection walks
only what came after. Measured while a big bundle was read and keys kept coming
(bench/tui_latency.py): the longest full collection fell from 121 ms to 88 ms, their total
from 2.7 s to 1.9 s over the scan. Unfrozen when the app ends, so that a process that
runs several apps (the tests) does not keep them.
"""
from __future__ import annotations

import gc


class StartupFrozen:
    """`freeze()` once the app is up, `thaw()` when it ends; each acts once."""

    def __init__(self) -> None:
        self.frozen = False

    def freeze(self) -> None:
        if not self.frozen:
            gc.freeze()
            self.frozen = True

    def thaw(self) -> None:
        if self.frozen:
            gc.unfreeze()
            self.frozen = False
