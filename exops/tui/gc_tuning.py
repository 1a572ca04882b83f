"""Garbage collection tuned so that it does not fall on a key while a big bundle is read.

CPython collects the youngest generation every 700 allocations, the middle one every tenth of
those, and everything (the oldest generation too) when enough has moved there; each holds the
GIL and starts on whatever allocation crosses its threshold, inside a key's handling as often as
not. Measured with a scan running and keys coming (bench/tui_latency.py):

- a screen switch in Textual leaves some 5,000 objects in reference cycles; with the default
  thresholds many are still alive at a young collection, reach the oldest generation and are
  freed by full collections: about one every 1.5 s, 50-120 ms each;
- full collections also walk the ~58,000 modules, classes and widgets made at start-up, which
  live as long as the app.

So, while the app runs: start-up's objects are frozen (`gc.freeze`: no collection walks them
again); the youngest generation is collected every 20,000 allocations instead of 700, so that a
key's garbage is already garbage when its generation is collected (then 20-55 ms every few
seconds, no full collection left over a 45 s scan); and the oldest generation, collected only
now and then, waits for the user to leave the keys alone for `idle` seconds, or `at_most`
seconds at most. Everything is put back when the app ends. Textual pauses collections for
smooth scrolling in the same spirit (App.PAUSE_GC_ON_SCROLL).
"""
from __future__ import annotations

import gc
import time

YOUNG = 20_000       # allocations between collections of the youngest generation
MIDDLE = 3           # youngest collections between collections of the middle one
NEVER = 1 << 30      # middle collections before the oldest is collected on its own
DUE_AFTER = 10       # middle collections before a full collection is due (CPython's own)
IDLE = 1.0           # seconds without input before a due full collection runs
AT_MOST = 60.0       # seconds a due full collection waits for an idle moment at most


class GarbageCollection:
    """`start()` when the app is up; `input_seen()` on every key or click; `tick()` a few times
    a second; `stop()` at the end. Each of start and stop acts once."""

    def __init__(self, idle: float = IDLE, at_most: float = AT_MOST, clock=time.monotonic) -> None:
        self.idle, self.at_most, self.clock = idle, at_most, clock
        self.last_input = self.last_full = clock()
        self.full_collections = 0
        self._saved: tuple[int, int, int] | None = None

    def start(self) -> None:
        if self._saved is not None:
            return
        self._saved = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(YOUNG, MIDDLE, NEVER)
        self.last_full = self.clock()

    def input_seen(self) -> None:
        self.last_input = self.clock()

    def tick(self) -> bool:
        """Run a due full collection if the keys have been left alone long enough, or it has
        waited `at_most`; whether it ran."""
        if self._saved is None or gc.get_count()[2] < DUE_AFTER:
            return False
        now = self.clock()
        if now - self.last_input < self.idle and now - self.last_full < self.at_most:
            return False
        gc.collect()
        self.last_full, self.full_collections = self.clock(), self.full_collections + 1
        return True

    def stop(self) -> None:
        if self._saved is None:
            return
        gc.set_threshold(*self._saved)
        gc.unfreeze()
        self._saved = None
