"""The log view's row cache lets go of rows at once: no cyclic garbage for the collector."""

from __future__ import annotations

import gc

from rich.segment import Segment
from textual.strip import Strip

from liar_tui.ui.widgets.logview import LogView, RowCache


def cyclic_garbage_after(fill_and_clear) -> int:  # type: ignore[no-untyped-def]
    gc.collect()
    gc.disable()
    try:
        fill_and_clear()
        return gc.collect()
    finally:
        gc.enable()


def test_clearing_the_rows_leaves_nothing_for_the_collector() -> None:
    view = LogView(100)

    def fill_and_clear() -> None:
        for seq in range(300):  # more than it keeps: evictions too
            view._cache[(seq, 0, 80)] = Strip([Segment(f"line {seq}".ljust(80))], 80)
        assert view._cache.get((299, 0, 80)) is not None and view._cache.get((0, 0, 80)) is None
        view._cache.clear()

    assert cyclic_garbage_after(fill_and_clear) == 0
    assert isinstance(view._cache, RowCache)


def test_least_recently_used_goes_first() -> None:
    cache = RowCache(2)
    a, b, c = (Strip([Segment(t)]) for t in "abc")
    cache[(1, 0, 1)] = a
    cache[(2, 0, 1)] = b
    assert cache.get((1, 0, 1)) is a  # used: now the newest
    cache[(3, 0, 1)] = c
    assert cache.get((2, 0, 1)) is None and cache.get((1, 0, 1)) is a and len(cache) == 2


def test_fit_strip_is_crop_extend_without_the_reference_cycle() -> None:
    from rich.style import Style

    from liar_tui.ui.widgets.bars import fit_strip

    pad = Style(bgcolor="red")
    for text in ("", "short", "x" * 80, "y" * 200, "ünïcode ✓ 表示" * 8):
        for start, end in ((0, 80), (0, 10), (5, 85), (79, 159), (0, 0)):
            want = Strip([Segment(text)]).crop_extend(start, end, pad)
            got = fit_strip(Strip([Segment(text)]), start, end, pad)
            assert (list(got), got.cell_length) == (list(want), want.cell_length), (text, start, end)

    def exact_width_rows(fit) -> None:  # type: ignore[no-untyped-def]
        rows = [fit(Strip([Segment(f"{n:<80}")]), 0, 80, pad) for n in range(100)]
        del rows

    assert cyclic_garbage_after(lambda: exact_width_rows(lambda s, a, b, st: s.crop_extend(a, b, st))) > 0, \
        "Textual's crop_extend no longer makes a cycle: fit_strip can go"
    assert cyclic_garbage_after(lambda: exact_width_rows(fit_strip)) == 0
