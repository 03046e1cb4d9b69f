"""The log's search and sideways scrolling, as a reader at 80x24 meets them (QA's log-view pass)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from typing import Any

from textual.widgets import Input
from uikit import drawn, offline_app, run_sync, send_keys_at_once, sample_log_lines, wait_until

from liar_tui.stack.logs import LogLine

TS = "2024-06-01T12:00:00.000000000Z"


@asynccontextmanager
async def log_at_80x24(*extra: LogLine) -> AsyncIterator[tuple[Any, Any, Any]]:
    """An offline console at 80x24 with the sample log, then `extra`, in its log: (app, pilot, view)."""
    app, _, _ = offline_app()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.main.log_view
        view.add_lines(sample_log_lines())
        if extra:
            view.add_lines(list(extra))
        yield app, pilot, view


def test_a_pathological_search_cannot_hang_the_console() -> None:
    """QA: `(a+)+$` over a line of 25 `a`s and a `!` held the UI ~40 s at 100% CPU, keys typed
    meanwhile landed in the search box and esc was lost. Now each search has a time limit: a
    pattern over it is dropped and the bar says so, and esc still gets back to the log."""
    async def run() -> None:
        async with log_at_80x24(LogLine("redis", TS, "a" * 25 + "!"),
                                LogLine("redis", TS, "a" * 60 + "!")) as (app, pilot, view):
            main = app.main
            await pilot.press("l", "slash")
            await pilot.pause(0.1)
            started = time.monotonic()
            await pilot.press(*"(a+)+$")  # `re` took ~40 s over the 25 `a`s
            await pilot.pause(0.3)
            main.logs.search.query_one(Input).value = "(a|aa)+$"  # backtracks even in `regex`
            await pilot.pause(0.3)
            await pilot.press("escape")
            elapsed = time.monotonic() - started
            assert elapsed < 5, f"the console was held {elapsed:.1f}s"
            assert app.focused is view  # esc was not lost
            assert view.search_error == "search too slow: simplify the pattern"
            assert "search too slow: simplify the pattern" in main.logs.bar.text.plain
            assert view.pattern is None and view.match_count == 0
            # a plain search works again at once
            await pilot.press("slash")
            await pilot.pause(0.1)
            main.logs.search.query_one(Input).value = "error"
            await pilot.press("enter")
            assert view.search_error == "" and view.match_count > 0

    run_sync(run())


def test_a_pattern_too_slow_to_draw_is_dropped_not_waited_for() -> None:
    """Drawing highlights every match of a row in view: a pattern that is slow there (after a
    recount that was fast enough) draws the row without more highlights and is then dropped."""
    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(80, 24)) as pilot:
            view = app.main.log_view
            view.add_lines([LogLine("redis", TS, ("b" + "a" * 24 + "c") * 40)])
            view.set_search("b")
            assert view.match_count == 1
            from liar_tui.ui.widgets.logview import compile_search

            view.pattern = compile_search("(a|aa)+!", True, True)  # as if the recount had passed
            view._cache.clear()
            started = time.monotonic()
            assert "baaaa" in drawn(view)
            assert time.monotonic() - started < 2
            await wait_until(pilot, lambda: view.search_error == "search too slow: simplify the pattern", 5,
                             what="the too-slow search dropped")
            assert view.pattern is None

    run_sync(run())


def test_typing_a_search_recounts_once_typing_pauses() -> None:
    """QA: with three 16,000-char lines a key took 12 s, each key recounting the whole ring on the
    UI thread. Keys typed together recount once; enter acts on all of them."""
    async def run() -> None:
        async with log_at_80x24(*(LogLine("nginx", TS, "y" * 16_000) for _ in range(3))) as (app, pilot, view):
            calls: list[str] = []
            real = view.set_search

            def counting(text: str, **kw: Any) -> None:
                calls.append(text)
                real(text, **kw)

            view.set_search = counting  # type: ignore[method-assign]
            await pilot.press("l", "slash")
            await pilot.pause(0.1)
            started = time.monotonic()
            send_keys_at_once(app, *".*x")
            await wait_until(pilot, lambda: calls, 5, what="the debounced search", step=0.02)
            assert time.monotonic() - started < 2
            await pilot.pause(0.3)
            assert calls == [".*x"], calls
            send_keys_at_once(app, "backspace", *"error", "enter")
            await wait_until(pilot, lambda: len(calls) >= 2, 5, what="the search on enter", step=0.02)
            await pilot.pause(0.3)
            assert calls[-1] == ".*error" and len(calls) == 2, calls
            assert app.focused is view and view.current_match is not None

    run_sync(run())


def test_an_empty_search_closes_its_row() -> None:
    """QA: `/` then enter with nothing typed left the search row open after esc, esc: a row of
    the 24 lost. Enter or esc on an empty search closes it, and the log has the focus."""
    async def run() -> None:
        async with log_at_80x24() as (app, pilot, view):
            main = app.main
            await pilot.press("l")
            rows = view.size.height
            await pilot.press("slash")
            await pilot.pause(0.1)
            assert main.logs.search.has_class("-active") and view.size.height == rows - 1
            await pilot.press("enter")
            await pilot.pause(0.1)
            assert not main.logs.search.has_class("-active") and view.size.height == rows
            assert app.focused is view
            # a search typed, then cleared: esc closes the row too
            await pilot.press("slash")
            await pilot.pause(0.1)
            await pilot.press(*"error", "enter")
            assert view.match_count > 0 and app.focused is view
            await pilot.press("slash")
            await pilot.pause(0.1)
            main.logs.search.query_one(Input).value = ""
            await pilot.pause(0.05)
            await pilot.press("enter")
            await pilot.pause(0.1)
            assert not main.logs.search.has_class("-active") and view.pattern is None
            assert view.size.height == rows and app.focused is view

    run_sync(run())


def test_next_match_scrolls_sideways_to_a_match_past_the_edge() -> None:
    """QA: with `zzz` past column 80, `n` said `2/2 matching lines` but no highlighted match was
    on screen. As in less, the log scrolls sideways to the match, and back for one near the start."""
    async def run() -> None:
        async with log_at_80x24(LogLine("nginx", TS, "zzz near the start"),
                                LogLine("nginx", TS, "x" * 150 + " zzz far right " + "y" * 300)) as (app, pilot, view):
            main = app.main
            await pilot.press("l", "slash")
            await pilot.pause(0.1)
            await pilot.press(*"zzz", "enter")
            await pilot.pause(0.1)
            match_style = view.get_component_rich_style("logview--current-match", partial=True)

            def highlighted() -> str:
                out = []
                for y in range(view.size.height):
                    out.extend(seg.text for seg in view.render_line(y) if seg.style and seg.style.bgcolor == match_style.bgcolor)
                return "".join(out)

            assert view.current_match_index == 0 and view.scroll_x == 0 and highlighted() == "zzz"
            await pilot.press("n")
            await pilot.pause(0.1)
            assert view.current_match_index == 1
            assert view.scroll_x > 0 and highlighted() == "zzz", (view.scroll_x, drawn(view))
            assert f"← col {round(view.scroll_x) + 1}" in main.logs.bar.text.plain
            await pilot.press("n")  # wraps to the first: back to column 1
            await pilot.pause(0.1)
            assert view.current_match_index == 0 and view.scroll_x == 0 and highlighted() == "zzz"
            # with timestamps on the text starts further right: still in view
            await pilot.press("t", "N")
            await pilot.pause(0.1)
            assert view.current_match_index == 1 and highlighted() == "zzz"

    run_sync(run())


def test_the_sideways_width_follows_the_lines_still_in_the_ring() -> None:
    """QA, `--log-lines 100`: one 16K line then 150 short ones, and ctrl+pgdn still scrolled to
    `← col 238` over a blank screen. The scrollable width is that of the widest line in the ring."""
    from liar_tui.config import Settings

    async def run() -> None:
        app, _, _ = offline_app(settings=Settings(up=False, log_lines=100))
        async with app.run_test(size=(80, 24)) as pilot:
            main = app.main
            view = main.log_view
            view.clear()
            view.add_lines([LogLine("nginx", TS, "w" * 16_000)])
            await pilot.press("l", "ctrl+pagedown", "ctrl+pagedown")
            await pilot.pause(0.1)
            assert view.scroll_x > 0 and "← col" in main.logs.bar.text.plain
            view.add_lines([LogLine("nginx", TS, f"short {i}") for i in range(50)])
            await pilot.pause(0.1)
            assert view.virtual_size.width == 16_000  # the long line is still in the ring
            view.add_lines([LogLine("nginx", TS, f"short {i}" + "." * 90 * (i == 120)) for i in range(50, 150)])
            await pilot.pause(0.1)
            assert view.line_count == 100 and all(len(view.line(s).text) < 200 for s in range(view.first_seq, view.first_seq + 100))
            assert view.virtual_size.width == len("short 120") + 90
            assert view.scroll_x <= view.max_scroll_x
            await pilot.press("ctrl+pagedown", "ctrl+pagedown", "ctrl+pagedown")
            await pilot.pause(0.1)
            assert view.scroll_x == view.max_scroll_x == len("short 120") + 90 - view.scrollable_content_region.width
            # the last wide line leaves: nothing to scroll sideways at all
            view.add_lines([LogLine("nginx", TS, f"tiny {i}") for i in range(100)])
            await pilot.pause(0.1)
            assert view.scroll_x == 0 and view.virtual_size.width == len("tiny 99")
            await pilot.press("ctrl+pagedown")
            await pilot.pause(0.1)
            assert view.scroll_x == 0 and "← col" not in main.logs.bar.text.plain

    run_sync(run())


def test_a_pattern_too_big_to_compile_is_refused_before_compiling(tmp_path: Path) -> None:
    """QA: typing `a{99999999}` froze the search box and took gigabytes: only matching had a time
    limit, not compiling. Such a pattern is refused with a one-line reason; as plain text it is
    just text. And a save over something that is not a regular file (a device) is refused: the
    rename would have put a file in its place."""
    import os

    from liar_tui.ui.app import write_log_file
    from liar_tui.ui.widgets.logview import compile_search

    for pattern in ("a{99999999}", "a{2,99999}", "(a{300}){300}", "x" * 1001):
        with pytest.raises(ValueError, match="bad regex"):
            compile_search(pattern, True, False)
    assert compile_search("a{3}", True, False).search("caaat")
    assert compile_search("a{99999999}", False, False).search("a{99999999}")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        write_log_file(fifo, ["x"], overwrite=False)  # said at once, not after "overwrite?"
    assert fifo.is_fifo()


def test_match_keys_on_a_bad_regex_say_the_regex_is_bad() -> None:
    """QA at 80x24: `/(unclosed`, enter, then o said "no search yet: / searches the log" of a
    search that was there but did not compile. o, n and N now say the regex is not valid, why,
    and the two ways on (fix it, or search it as plain text); x makes it a plain search."""
    async def run() -> None:
        async with log_at_80x24(LogLine("redis", TS, "call (unclosed paren")) as (app, pilot, view):
            main = app.main
            await pilot.press("slash")
            await pilot.pause(0.1)
            await pilot.press(*"(unclosed", "enter")
            await pilot.pause(0.2)
            assert view.search_error.startswith("bad regex")
            for action in ("only_matching", "next_match", "previous_match"):
                said = main.disabled_reason(action)  # Python's own words for the regex in the middle
                assert said.startswith("the search is not a valid regex (missing )"), said
                assert said.endswith("): / fixes it, x searches it as plain text"), said
            await pilot.press("o")
            await pilot.pause(0.1)
            assert any("not a valid regex" in str(n.message) for n in app._notifications)
            await pilot.press("x")
            await pilot.pause(0.2)
            assert not view.search_regex and view.match_count == 1 and main.check_action("only_matching", ()) is True

    run_sync(run())
