"""Work-arounds for Textual bugs, applied once when the UI loads (or the app is made).

* StylesCache.get_inner_outer is an instance method under @lru_cache(1024) (Textual issue
  #6665, open in 8.2.8): the cache's keys hold up to 1024 StylesCache objects of widgets long
  removed, each with its rendered lines. Every view opened and closed left ~25 of them behind:
  QA saw RSS climb by ~1 MB per Activity view opened (67 -> 78 MB after 15, no plateau in sight
  before 1024). The colours alone decide the result, so the cache is keyed on them only.
* On TERM=dumb (or unknown) Rich gives the app's console the size 80x25 whatever the terminal's
  is. The first resize took that size and the driver's the real one (80x24), and the main screen
  then bounced between the two without end: a core at 100%, half a frame drawn, no keys (QA, in
  tmux with TERM=dumb). size_dumb_console gives the console the terminal's real size.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from typing import Any


def size_dumb_console(console: Any) -> bool:
    """A dumb terminal's console gets the terminal's size instead of Rich's 80x25. False when
    nothing was done (not a dumb terminal, or no terminal to ask)."""
    if not console.is_dumb_terminal:
        return False
    if sys.__stdout__ is None:
        return False
    try:
        size = os.get_terminal_size(sys.__stdout__.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    console.size = (size.columns, size.lines)
    return True


def unpin_styles_caches() -> bool:
    """Key get_inner_outer's cache on its two colours, not on the StylesCache too. False when
    this Textual has no such cached method (fixed upstream, or renamed): nothing to do."""
    from textual._styles_cache import StylesCache

    method = StylesCache.__dict__.get("get_inner_outer")
    compute = getattr(method, "__wrapped__", None)
    if compute is None or getattr(method, "_liar_unpinned", False):
        return False

    @lru_cache(1024)
    def by_colours(base_background: Any, background: Any) -> Any:
        return compute(None, base_background, background)  # `self` is not used

    def get_inner_outer(self: Any, base_background: Any, background: Any) -> Any:
        return by_colours(base_background, background)

    get_inner_outer._liar_unpinned = True  # type: ignore[attr-defined]
    StylesCache.get_inner_outer = get_inner_outer  # type: ignore[method-assign,assignment]
    method.cache_clear()  # type: ignore[union-attr]  # let go of whatever it holds already
    return True
