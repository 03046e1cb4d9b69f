"""The work-around for Textual's StylesCache.get_inner_outer cache (issue #6665): removed
widgets' render caches are let go, and the colours it returns are the same as before."""

from __future__ import annotations

import gc
import weakref

from textual._styles_cache import StylesCache
from textual.color import Color

import liar_tui.ui.app  # noqa: F401  (applies the fix, as the console does)


def test_a_styles_cache_is_not_kept_alive_by_the_colour_cache() -> None:
    cache = StylesCache()
    gone = weakref.ref(cache)
    inner, outer = cache.get_inner_outer(Color(10, 20, 30), Color(200, 0, 0, 0.5))
    del cache
    gc.collect()
    assert gone() is None, "get_inner_outer's cache still holds a StylesCache (Textual #6665)"
    # the same answer as Textual's own computation
    again = StylesCache().get_inner_outer(Color(10, 20, 30), Color(200, 0, 0, 0.5))
    assert again == (inner, outer)
    assert inner != outer  # the background over the base, and the base
