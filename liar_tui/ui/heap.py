"""How the console keeps the cyclic garbage collector out of the way of a key press.

Reference counting frees almost everything the console makes; the cyclic collector is for the
rest. Its full collections scan every tracked object, and during a 100k-line log burst they came
every ~0.8 s and took 10-70 ms each on the UI thread: the longest key-press delays measured.

* freeze(): what start-up built (Textual's tree, the modules) lives as long as the app; frozen,
  the collector never scans it again.
* BurstHeap: while log lines pour in, the collector is paused; it resumes (and freed heap goes
  back to the OS) `settle_after` seconds after the last big batch. A burst that never ends still
  gets a full collection every `max_pause` seconds, so memory stays bounded.

No Textual here: the app calls burst() from its batch handler, settle() from a timer and tick()
from its 1 Hz repaint.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable


def freeze() -> None:
    """Move every object alive now out of the collector's sight (gc.freeze: O(1))."""
    gc.freeze()


def release_free_memory() -> None:
    """Return freed heap pages to the OS (glibc malloc_trim; a no-op elsewhere)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class BurstHeap:
    """Pauses the cyclic collector during a log burst; see the module's docstring."""

    def __init__(
        self,
        *,
        max_pause: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        collector: object = gc,
        release: Callable[[], None] = release_free_memory,
    ) -> None:
        self.max_pause = max_pause
        self._clock = clock
        self._gc = collector
        self._release = release
        self._paused_at: float | None = None  # when this object paused the collector (or last collected)

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def burst(self) -> None:
        """A big batch of lines arrived: pause the collector (if it runs and nobody else paused it)."""
        if self._paused_at is None and self._gc.isenabled():
            self._gc.disable()
            self._paused_at = self._clock()

    def tick(self) -> None:
        """Called about once a second: a burst that goes on and on still gets collected."""
        if self._paused_at is not None and self._clock() - self._paused_at >= self.max_pause:
            self._gc.collect()
            self._paused_at = self._clock()

    def settle(self) -> None:
        """The burst is over: the collector runs again, and freed heap goes back to the OS."""
        if self._paused_at is not None:
            self._paused_at = None
            self._gc.enable()
        self._release()
