"""How the console keeps the cyclic garbage collector out of the way of a key press.

Reference counting frees almost everything the console makes; the cyclic collector is for the
rest. Its full collections scan every tracked object, and during a 100k-line log burst they came
every ~0.8 s and took 10-70 ms each on the UI thread: the longest key-press delays measured.

* freeze(): what start-up built (Textual's tree, the modules) lives as long as the app; frozen,
  the collector never scans it again.
* BurstHeap: while log lines pour in, only full collections are held back (young generations
  are still collected: they are cheap, and pausing them too cost ~3 MB of peak RSS per burst);
  they come back (and freed heap goes back to the OS) when the app calls settle(), a few seconds
  after the last big batch. A burst that never ends still gets a full collection every
  `max_pause` seconds, so memory stays bounded.

No Textual here: the app calls burst() from its batch handler, settle() from a timer and tick()
from its 1 Hz repaint.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any


def freeze() -> None:
    """Move every object alive now out of the collector's sight (gc.freeze: O(1))."""
    gc.freeze()


def limit_malloc_arenas(arenas: int = 2) -> None:
    """At most `arenas` glibc malloc arenas (as MALLOC_ARENA_MAX does; a no-op elsewhere).

    glibc gives threads that allocate at the same time arenas of their own (up to 8 per core),
    each holding on to its own freed pages. The console's threads (engine events, stats, log
    readers, probes) allocate little but often: capped at two, RSS after two 100k-line log
    bursts was ~1 MB lower (bench, interleaved runs), with no change in CPU. Call it before
    the threads start."""
    M_ARENA_MAX = -8  # malloc.h
    _glibc("mallopt", M_ARENA_MAX, arenas)


def release_free_memory() -> None:
    """Return freed heap pages to the OS (glibc malloc_trim; a no-op elsewhere)."""
    _glibc("malloc_trim", 0)


def _glibc(function: str, *args: int) -> None:
    """Call a glibc function; without glibc (or that function), do nothing."""
    try:
        import ctypes

        getattr(ctypes.CDLL("libc.so.6"), function)(*args)
    except (OSError, AttributeError):
        pass


def tidy() -> None:
    """A full collection, then freed heap back to the OS: for when a view has just been closed
    (its widgets are cycles, parent <-> child, that only a full collection frees)."""
    gc.collect()
    release_free_memory()


class BurstHeap:
    """Holds back full collections during a log burst; see the module's docstring."""

    #: gen2 runs after this many gen1 collections: never, in practice, during a burst.
    HELD_THRESHOLD = 1_000_000

    def __init__(
        self,
        *,
        max_pause: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        collector: Any = gc,
        release: Callable[[], None] = release_free_memory,
    ) -> None:
        self.max_pause = max_pause
        self._clock = clock
        self._gc = collector
        self._release = release
        self._saved: tuple[int, ...] | None = None  # the thresholds to put back
        self._since = 0.0  # when full collections were held back, or last run

    @property
    def paused(self) -> bool:
        return self._saved is not None

    def burst(self) -> None:
        """A big batch of lines arrived: hold back full collections (young ones go on)."""
        if self._saved is None:
            saved = tuple(self._gc.get_threshold())
            self._gc.set_threshold(saved[0], saved[1], self.HELD_THRESHOLD)
            self._saved = saved
            self._since = self._clock()

    def tick(self) -> None:
        """Called about once a second: a burst that goes on and on still gets collected."""
        if self._saved is not None and self._clock() - self._since >= self.max_pause:
            self._gc.collect()
            self._since = self._clock()

    def settle(self) -> None:
        """The burst is over: full collections as before, and freed heap goes back to the OS."""
        if self._saved is not None:
            self._gc.set_threshold(*self._saved)
            self._saved = None
        self._release()
