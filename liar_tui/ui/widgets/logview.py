"""The log view: a bounded ring of lines drawn with the line API (only visible lines are rendered).

Search highlights matches (regex or plain, case toggle), `n`/`N` jump between matching lines, and
the "only matching" filter shows matching lines alone. Appending is O(batch); a 16 KiB line costs
only the cells that are on screen.
"""

from __future__ import annotations

import bisect
import re
import time
from collections import OrderedDict, deque
from collections.abc import Iterable
from itertools import islice
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.geometry import Offset, Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer
from textual.widgets import Input, Label

from ...stack.logs import LogLine, LogRange
from ..render import SERVICE_COLOURS
from .bars import BarPart, TextBar, fit_parts, fit_strip, join_parts
from .inputs import OrderedInput
from .scrolling import KeyScroll

if TYPE_CHECKING:
    import regex as regexlib


class RowCache:
    """Rendered rows by (seq, scroll x, width), least recently used dropped first.

    Not Textual's LRUCache: that one links its entries in a circular list, so everything a
    `clear()` (a timestamps toggle, a resize, a search) lets go of -- 256 strips, each with its
    own caches -- is cyclic garbage the collector has to find, and did: during and after a log
    burst most of what each collection freed was these rows. Here they are freed at once."""

    __slots__ = ("_rows", "maxsize")

    def __init__(self, maxsize: int) -> None:
        self._rows: OrderedDict[tuple[int, int, int], Strip] = OrderedDict()
        self.maxsize = maxsize

    def get(self, key: tuple[int, int, int]) -> Strip | None:
        strip = self._rows.get(key)
        if strip is not None:
            self._rows.move_to_end(key)
        return strip

    def __setitem__(self, key: tuple[int, int, int], strip: Strip) -> None:
        rows = self._rows
        rows[key] = strip
        rows.move_to_end(key)
        if len(rows) > self.maxsize:
            rows.popitem(last=False)

    def __len__(self) -> int:
        return len(self._rows)

    def clear(self) -> None:
        self._rows.clear()


SERVICE_WIDTH = 9  # 'postgres ' etc.
TS_WIDTH = 19  # '11-26 06:50:00.123 '


def short_ts(ts: str) -> str:
    """'2024-11-26T06:50:00.123456789Z' -> '11-26 06:50:00.123' (UTC, as docker logs -t)."""
    if len(ts) < 23:
        return ts.ljust(TS_WIDTH - 1)
    return f"{ts[5:10]} {ts[11:23]}"


#: What a search may cost the UI thread, in seconds: the recount over the whole ring (or over a
#: new batch), the jump to a match, and a row's highlighting. Past it the search is dropped and the
#: bar says SEARCH_TOO_SLOW, rather than the console freezing (keys typed meanwhile would land in
#: the search box).
SEARCH_BUDGET = 0.3
ROW_BUDGET = 0.02
SEARCH_TOO_SLOW = "search too slow: simplify the pattern"
#: The search box recounts once typing pauses this long (not at every key).
SEARCH_DEBOUNCE = 0.15


#: Bounds on what the search box compiles (a log line is at most 16 KiB).
MAX_PATTERN = 1000
MAX_REPEAT = 255  # nested, (a{255}){255} compiles in ~30 ms; (a{999}){999} took 0.6 s
_REPEAT_COUNT = re.compile(r"\{\s*(\d+)\s*(?:,\s*(\d*)\s*)?\}")


def compile_search(text: str, is_regex: bool, ignore_case: bool) -> regexlib.Pattern[str] | None:
    """The search as a pattern; None when empty. Raises ValueError for a bad regex."""
    if not text:
        return None
    # `regex`, not `re`: each search can be given a time limit. With `re` a pathological pattern
    # typed in the search box (`(a+)+$` over a line of 25 `a`s and a `!`) held the UI ~40 s.
    # Imported at the first search: it costs ~35 ms, which the launch need not wait for.
    import regex as regexlib

    flags = regexlib.IGNORECASE if ignore_case else 0
    if is_regex:
        # Compiling has no time limit: `a{99999999}` took the console's memory by gigabytes.
        if len(text) > MAX_PATTERN:
            raise ValueError(f"bad regex: longer than {MAX_PATTERN} characters")
        if any(int(n) > MAX_REPEAT for m in _REPEAT_COUNT.finditer(text) for n in m.groups() if n):
            raise ValueError(f"bad regex: a repeat count over {MAX_REPEAT}")
    try:
        return regexlib.compile(text if is_regex else regexlib.escape(text), flags)
    except regexlib.error as exc:
        raise ValueError(str(exc)) from exc


def matching_seqs(pattern: regexlib.Pattern[str], lines: Iterable[LogLine], first_seq: int, budget: float) -> list[int] | None:
    """The seqs of `lines` (numbered from `first_seq`) that match; None when that took longer than
    `budget` seconds (each search is cut short at what is left of it)."""
    deadline = time.monotonic() + budget
    search = pattern.search
    found: list[int] = []
    try:
        for i, ln in enumerate(lines):
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if search(ln.text, timeout=left):
                found.append(first_seq + i)
    except TimeoutError:
        return None
    return found


class LogView(KeyScroll, ScrollView, can_focus=True):
    """A ring buffer of LogLines; renders the rows in view, with search highlighting and filter."""

    COMPONENT_CLASSES = {"logview--timestamp", "logview--match", "logview--current-match"}

    DEFAULT_CSS = """
    LogView {
        background: $surface;
        color: $text;
        overflow: auto auto;
        scrollbar-size-vertical: 1;
        /* No horizontal bar (as in less or lnav): it costs a row at 80x24, and redrawing it was a
           third of the frame a width change (timestamps on/off) waits for. The log bar shows the
           column instead. */
        scrollbar-size-horizontal: 0;
    }
    LogView:focus { background-tint: $foreground 3%; }
    LogView > .logview--timestamp { color: $text-muted; }
    LogView > .logview--match { background: $warning 45%; color: $text; text-style: underline; }
    LogView > .logview--current-match { background: $accent; color: $text; text-style: bold reverse; }
    """

    BINDINGS = [
        Binding("up,k", "scroll_up", "Up", show=False, id="logs.up"),
        Binding("down,j", "scroll_down", "Down", show=False, id="logs.down"),
        Binding("home,g", "scroll_home", "Oldest", show=False, id="logs.home"),
        Binding("end,G", "scroll_end", "Newest (follow)", show=False, id="logs.end"),
        Binding("pageup", "page_up", "Page up", show=False, id="logs.page-up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="logs.page-down"),
        Binding("left", "scroll_left", "Scroll long lines left", show=False, id="logs.left"),
        Binding("right", "scroll_right", "Scroll long lines right", show=False, id="logs.right"),
        Binding("ctrl+pageup", "page_left", "A page left", show=False, id="logs.page-left"),
        Binding("ctrl+pagedown", "page_right", "A page right", show=False, id="logs.page-right"),
    ]

    class StatusChanged(Message):
        """Line counts, follow or search state changed: the bar above redraws."""

    def __init__(self, max_lines: int = 5_000, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.max_lines = max_lines
        self._lines: deque[LogLine] = deque(maxlen=max_lines)
        # each line's width in cells, alongside: the scrollable width is the widest line still in
        # the ring (a 16 KiB line that had left kept 16 K columns of blank to scroll through)
        self._widths: deque[int] = deque(maxlen=max_lines)
        self._next_seq = 0
        self._matches: list[int] = []  # seqs of lines matching the search, oldest first
        self._text_width = 0
        # A few screens' worth of rendered rows (a burst renders every new row once: a bigger
        # cache only holds rows that have scrolled away).
        self._cache = RowCache(256)
        self.follow = True
        self.show_ts = False
        self.show_service = False
        self.only_matching = False
        self.search_text = ""
        self.search_regex = True
        self.search_case = False  # case sensitive?
        self.search_error = ""
        self.pattern: regexlib.Pattern[str] | None = None
        self.current_match: int | None = None
        self.dropped = 0
        self.backlog_loading = False
        self.flooding = False  # a followed service floods its log: only its newest lines come
        self._frame: tuple[Offset, int, Style] | None = None  # set while a frame renders

    # -- data ---------------------------------------------------------------------------------
    @property
    def first_seq(self) -> int:
        return self._next_seq - len(self._lines)

    @property
    def line_count(self) -> int:
        return len(self._lines)

    @property
    def match_count(self) -> int:
        return len(self._matches)

    @property
    def filtering(self) -> bool:
        return self.only_matching and self.pattern is not None

    @property
    def row_count(self) -> int:
        return len(self._matches) if self.filtering else len(self._lines)

    def seq_at(self, row: int) -> int:
        return self._matches[row] if self.filtering else self.first_seq + row

    def line(self, seq: int) -> LogLine:
        return self._lines[seq - self.first_seq]

    def visible_lines(self) -> list[LogLine]:
        """Every line of the current view (after the filter), oldest first."""
        if self.filtering:
            first = self.first_seq
            return [self._lines[s - first] for s in self._matches]
        return list(self._lines)

    def clear(self) -> None:
        self._lines.clear()
        self._widths.clear()
        self._matches.clear()
        self._next_seq = 0
        self._text_width = 0
        self.current_match = None
        self.dropped = 0
        self.flooding = False
        self._cache.clear()
        self._update_virtual_size()
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()
        self.post_message(self.StatusChanged())

    def add_lines(self, lines: Iterable[LogLine], dropped: int = 0, replace: Iterable[tuple[str, str]] = ()) -> None:
        """Append a batch (the ring drops the oldest) and keep the view at the end when following.
        `replace`: (service, ts) pairs whose newer lines go first (the batch brings them again)."""
        new = list(lines)
        self.dropped += dropped
        replaced = False
        if replace:
            new, replaced = self._take_back(dict(replace), new)
        if not new and not dropped and not replaced:
            return
        if len(new) > self.max_lines:
            self.dropped += len(new) - self.max_lines
            skipped = len(new) - self.max_lines
            self._next_seq += skipped
            new = new[skipped:]
        start = self._next_seq
        first_before = self.first_seq
        leaving = len(self._lines) + len(new) - self.max_lines
        widest_left = leaving > 0 and max(islice(self._widths, leaving), default=0) >= self._text_width
        widths = [len(ln.text) if ln.text.isascii() else cell_len(ln.text) for ln in new]
        self._lines.extend(new)
        self._widths.extend(widths)
        self._next_seq += len(new)
        if widest_left:
            # one pass over the ring's widths (ints), only when the widest line has just left
            self._text_width = max(self._widths, default=0)
        elif widths:
            self._text_width = max(self._text_width, max(widths))
        pattern = self.pattern
        if pattern is not None:
            found = matching_seqs(pattern, new, start, SEARCH_BUDGET)
            if found is None:
                self._drop_slow_search()
            else:
                self._matches.extend(found)
        trimmed = self._trim_matches()
        self._update_virtual_size()
        if self.follow:
            self._scroll_to_end()
        else:
            # Paused on a full ring: the oldest rows went, every other row moved up by as many.
            # Move the view with them, so what the reader is looking at stays where it is.
            shift = trimmed if self.filtering else self.first_seq - first_before
            if shift and self.scroll_y > 0:
                self.scroll_to(y=max(0, self.scroll_y - shift), animate=False, immediate=True)
        self.refresh()
        self.post_message(self.StatusChanged())

    def _take_back(self, after: dict[str, str], new: list[LogLine]) -> tuple[list[LogLine], bool]:
        """A flood's refill (once per flood): forget each service's lines newer than its
        timestamp in `after` (`new` brings them again), and take back the other services' lines
        newer than that to merge them with `new` in time order. The ring is rebuilt and matches
        recounted. Returns the lines to append, and whether the ring changed."""
        oldest = min(after.values())
        kept: list[tuple[LogLine, int]] = []
        moved: list[LogLine] = []
        for ln, width in zip(self._lines, self._widths):
            if ln.service in after:
                if ln.ts > after[ln.service]:
                    continue
            elif ln.ts > oldest:
                moved.append(ln)
                continue
            kept.append((ln, width))
        gone = len(self._lines) - len(kept)
        if not gone:
            return new, False
        self._lines.clear()
        self._widths.clear()
        self._lines.extend(ln for ln, _ in kept)
        self._widths.extend(w for _, w in kept)
        self._next_seq -= gone
        self._text_width = max(self._widths, default=0)
        self._cache.clear()
        self._recount_matches()
        if moved:
            new = sorted(moved + new, key=lambda ln: ln.ts)
        return new, True

    def _scroll_to_end(self) -> None:
        # After the new virtual size is laid out (else the end is the old end), and only if still
        # following then: a key that paused follow in the same frame as new lines (g, up, pgup in
        # a burst) found the view sent back to the end by the scroll those lines had asked for.
        self.call_after_refresh(self._end_if_following)

    def _end_if_following(self) -> None:
        if self.follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def watch_scroll_x(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_x(old_value, new_value)
        if round(old_value) != round(new_value):
            self.post_message(self.StatusChanged())  # the bar shows the column

    def on_resize(self, event: events.Resize) -> None:
        self._cache.clear()
        if self.follow:
            self._scroll_to_end()

    def _trim_matches(self) -> int:
        """Forget matches of lines the ring dropped; returns how many."""
        first = self.first_seq
        gone = 0
        if self._matches and self._matches[0] < first:
            gone = bisect.bisect_left(self._matches, first)
            del self._matches[:gone]
        if self.current_match is not None and self.current_match < first:
            self.current_match = None
        return gone

    # -- presentation -------------------------------------------------------------------------
    @property
    def prefix_width(self) -> int:
        return (TS_WIDTH if self.show_ts else 0) + (SERVICE_WIDTH if self.show_service else 0)

    def _update_virtual_size(self) -> None:
        size = Size(self.prefix_width + self._text_width, self.row_count)
        if size == self.virtual_size:
            return
        if not self.is_mounted or not self.container_size:
            self.virtual_size = size
            return
        # `virtual_size` is a layout reactive: setting it re-lays out and re-renders the whole
        # screen (~20-40 ms while a log burst shares the interpreter), though this view's own size
        # does not depend on it. Only the scrollbars do: update them here; when one appears or
        # disappears, its own (layout) reactive asks for the layout that is then really needed.
        height_changed = size.height != self.virtual_size.height
        self.set_reactive(LogView.virtual_size, size)
        if height_changed:
            self._scroll_update(size)
        else:
            # Only the width: there is no horizontal bar to redraw, and redrawing the vertical one
            # (through Rich, ~2 ms) was a third of the frame that timestamps on/off waits for.
            self.scroll_x = self.validate_scroll_x(self.scroll_x)
        self.refresh()

    def _changed(self, keep_position: bool = True) -> None:
        self._cache.clear()
        self._update_virtual_size()
        if self.follow:
            self._scroll_to_end()
        self.refresh()
        self.post_message(self.StatusChanged())

    def set_options(self, *, show_ts: bool | None = None, show_service: bool | None = None) -> None:
        if show_ts is not None:
            self.show_ts = show_ts
        if show_service is not None:
            self.show_service = show_service
        self._changed()

    def set_follow(self, follow: bool) -> None:
        if follow == self.follow:
            return
        self.follow = follow
        if follow:
            self._scroll_to_end()
        self.post_message(self.StatusChanged())

    def set_search(self, text: str, *, regex: bool | None = None, case: bool | None = None) -> None:
        """Change the search; recounts matches over the buffer (bounded: at most max_lines)."""
        self.search_text = text
        if regex is not None:
            self.search_regex = regex
        if case is not None:
            self.search_case = case
        try:
            self.pattern = compile_search(text, self.search_regex, not self.search_case)
            self.search_error = ""
        except ValueError as exc:
            self.pattern = None
            self.search_error = f"bad regex: {exc}"
        self._recount_matches()
        self._changed()

    def _recount_matches(self) -> None:
        """Match the search over the whole buffer again (bounded: at most max_lines, and by time)."""
        self._matches = []
        self.current_match = None
        if self.pattern is not None:
            found = matching_seqs(self.pattern, self._lines, self.first_seq, SEARCH_BUDGET)
            if found is None:
                self._drop_slow_search()
            else:
                self._matches = found

    def _drop_slow_search(self) -> None:
        """The search took too long: no pattern (nothing more is matched), the bar says why."""
        self.pattern = None
        self.search_error = SEARCH_TOO_SLOW
        self._matches = []
        self.current_match = None

    def _search_too_slow_while_drawing(self) -> None:
        if self.pattern is not None:
            self._drop_slow_search()
            self._changed()

    def set_only_matching(self, only: bool) -> None:
        anchor = self.current_match
        self.only_matching = only
        self._changed()
        if anchor is not None and not self.follow:
            self._scroll_to_seq(anchor)

    # -- match navigation ---------------------------------------------------------------------
    def _row_of(self, seq: int) -> int:
        if self.filtering:
            return bisect.bisect_left(self._matches, seq)
        return seq - self.first_seq

    def _scroll_to_seq(self, seq: int) -> None:
        row = self._row_of(seq)
        height = self.scrollable_content_region.height
        self.scroll_to(y=max(0, row - height // 2), animate=False, immediate=False)

    def goto_match(self, forward: bool = True) -> bool:
        """Move to the next (or previous) line with a match; stops following. False when none."""
        if not self._matches:
            return False
        if self.current_match is None:
            # start from the top line in view (forward) or the bottom one (backward)
            top = int(self.scroll_offset.y)
            ref_row = top if forward else top + self.scrollable_content_region.height - 1
            ref_row = max(0, min(ref_row, self.row_count - 1)) if self.row_count else 0
            ref = self.seq_at(ref_row) if self.row_count else self.first_seq
            idx = bisect.bisect_left(self._matches, ref) if forward else bisect.bisect_right(self._matches, ref) - 1
        else:
            cur = bisect.bisect_left(self._matches, self.current_match)
            idx = cur + 1 if forward else cur - 1
        idx %= len(self._matches)
        self.current_match = self._matches[idx]
        self.follow = False
        self._cache.clear()
        self._scroll_to_seq(self.current_match)
        self._reveal_match_x(self.current_match)
        self.refresh()
        self.post_message(self.StatusChanged())
        return True

    def _reveal_match_x(self, seq: int) -> None:
        """Scroll sideways, as less does, so the line's first match is in view (a match past the
        right edge left `2/2 matching lines` in the bar and nothing highlighted on screen)."""
        if self.pattern is None:
            return
        text = self.line(seq).text
        try:
            m = self.pattern.search(text, timeout=SEARCH_BUDGET)
        except TimeoutError:
            return
        if m is None:
            return
        width = self.scrollable_content_region.width
        if width <= 0:
            return
        start = self.prefix_width + cell_len(text[: m.start()])
        stop = max(start + 1, self.prefix_width + cell_len(text[: m.end()]))
        x = round(self.scroll_x)
        if x <= start and (stop <= x + width or start == x):
            return  # already in view
        if stop <= width:
            target = 0  # in the first screen's width: the line's start stays in view too
        else:
            # a quarter of the width of what comes before, as much of the match as fits
            target = min(start, max(start - width // 4, stop - width))
        self.scroll_to(x=max(0, target), animate=False, immediate=False)

    @property
    def current_match_index(self) -> int | None:
        if self.current_match is None:
            return None
        i = bisect.bisect_left(self._matches, self.current_match)
        return i if i < len(self._matches) and self._matches[i] == self.current_match else None

    # -- scrolling: leaving the end pauses follow ----------------------------------------------
    def action_scroll_up(self) -> None:
        self.set_follow(False)
        super().action_scroll_up()

    def action_page_up(self) -> None:
        self.set_follow(False)
        super().action_page_up()

    def action_scroll_home(self) -> None:
        self.set_follow(False)
        super().action_scroll_home()

    def action_scroll_end(self) -> None:
        self.set_follow(True)
        super().action_scroll_end()

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.set_follow(False)
        super()._on_mouse_scroll_up(event)

    # -- rendering ----------------------------------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def render_lines(self, crop: Region) -> list[Strip]:
        # What every row needs, looked up once a frame: `rich_style` walks the ancestors and
        # `scrollable_content_region` builds regions, and per row they were most of a burst
        # frame's cost (which a key press waits behind).
        if not self._plain_box():
            self._frame = self._frame_values(self.scrollable_content_region.width)
            try:
                return super().render_lines(crop)
            finally:
                self._frame = None
        # No border, padding, outline, tint or opacity (the CSS above): Textual's generic per-line
        # styling would only copy each row once more. Rows are drawn the full width (the
        # scrollbar is drawn over the last column) and the app's line filters (ANSI colours,
        # NO_COLOR) still apply.
        width = self.size.width
        self._frame = self._frame_values(width)
        try:
            filters = self.get_line_filters()
            background = self.background_colors[1]
            render_line = self.render_line
            strips = []
            for y in crop.line_range:
                strip = render_line(y)
                for line_filter in filters:
                    strip = strip.apply_filter(line_filter, background)
                strips.append(strip)
        finally:
            self._frame = None
        if crop.column_span != (0, width):
            x1, x2 = crop.column_span
            strips = [strip.crop(x1, x2) for strip in strips]
        return strips

    def _frame_values(self, width: int) -> tuple[Offset, int, Style]:
        return self.scroll_offset, width, self.rich_style

    def _plain_box(self) -> bool:
        styles = self.styles
        return (
            not any(styles.gutter)
            and not any(edge for edge, _colour in styles.outline)
            and not styles.tint.a
            and self.opacity == 1.0
            and styles.text_opacity == 1.0
            and self._border_title is None
            and self._border_subtitle is None
        )

    def render_line(self, y: int) -> Strip:
        frame = self._frame or self._frame_values(self.scrollable_content_region.width)
        (scroll_x, scroll_y), width, base = frame
        row = scroll_y + y
        if row >= self.row_count or row < 0:
            return Strip.blank(width, base)
        seq = self.seq_at(row)
        key = (seq, scroll_x, width)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        strip = self._render_row(self.line(seq), seq, scroll_x, width, base)
        self._cache[key] = strip
        return strip

    def _render_row(self, line: LogLine, seq: int, scroll_x: int, width: int, base: Style) -> Strip:
        segments: list[Segment] = []
        if self.show_ts:
            ts_style = base + self.get_component_rich_style("logview--timestamp", partial=True)
            segments.append(Segment(short_ts(line.ts) + " ", ts_style))
        if self.show_service:
            colour = SERVICE_COLOURS.get(line.service, "")
            segments.append(Segment(f"{line.service:<{SERVICE_WIDTH - 1}} ", base + Style.parse(f"bold {colour}")))
        prefix = self.prefix_width
        # Only the part of the text up to the right edge is styled: a 16 KiB line costs `width` cells.
        end = max(0, scroll_x + width - prefix)
        text = line.text[:end]
        pattern = self.pattern
        if pattern is not None and text:
            # Segments cut by hand, each with a style: Rich's Text.render leaves a line without a
            # match unstyled (style None), which NO_COLOR's Monochrome filter cannot take.
            style = base + self.get_component_rich_style(
                "logview--current-match" if seq == self.current_match else "logview--match", partial=True
            )
            pos = 0
            try:
                for m in pattern.finditer(line.text, timeout=ROW_BUDGET):
                    start, stop = m.start(), min(m.end(), end)
                    if start >= end:
                        break
                    if stop <= start:
                        continue
                    if start > pos:
                        segments.append(Segment(text[pos:start], base))
                    segments.append(Segment(text[start:stop], style))
                    pos = stop
            except TimeoutError:
                # The row is drawn with the matches found so far; the search is dropped after
                # this frame (the bar says why) and the rows redrawn without it.
                self.call_later(self._search_too_slow_while_drawing)
            if pos < len(text):
                segments.append(Segment(text[pos:], base))
        elif text:
            segments.append(Segment(text, base))
        return fit_strip(Strip(segments), scroll_x, scroll_x + width, base)

    # -- status -------------------------------------------------------------------------------
    def status(self) -> Text:
        return join_parts(self.status_parts())

    def status_parts(self) -> list[BarPart]:
        """The bar's account of the log, each part with its rank (0 kept longest) and a shorter
        form: at 80 columns the bar keeps what matters (QA: `/LOG/ 6 matching l`)."""
        parts = []
        if self.backlog_loading:
            parts.append(BarPart(Text("loading…", style="yellow"), 1))
        parts.append(BarPart(Text("● follow" if self.follow else "‖ paused", style="green" if self.follow else "yellow"), 1))
        parts.append(BarPart(Text(f"{self.line_count:,}/{self.max_lines:,} lines", style="dim"), 4))
        if round(self.scroll_x) > 0:
            parts.append(BarPart(Text(f"← col {round(self.scroll_x) + 1}", style="bold"), 1))
        if self.flooding:
            parts.append(BarPart(Text("flood: newest lines only", style="bold yellow"), 1, Text("flood", style="bold yellow")))
        if self.dropped:
            parts.append(BarPart(Text(f"{self.dropped:,} dropped", style="yellow"), 2))
        if self.search_error:
            parts.append(BarPart(Text(self.search_error, style="red"), 0))
        elif self.pattern is not None:
            idx = self.current_match_index
            where = f"{idx + 1}/" if idx is not None else ""
            parts.append(BarPart(Text(f"/{self.search_text}/ {where}{self.match_count} matching lines", style="bold"), 0,
                                 Text(f"/{self.search_text}/ {where}{self.match_count}", style="bold")))
            if self.filtering:
                parts.append(BarPart(Text("only matching", style="bold yellow"), 1, Text("only", style="bold yellow")))
        return parts


class SearchBar(Horizontal):
    """`/`: type a search; Enter jumps to the next match, Esc goes back to the log."""

    DEFAULT_CSS = """
    SearchBar { height: 1; display: none; background: $boost; }
    SearchBar.-active { display: block; }
    SearchBar > Label { width: auto; padding: 0 1; color: $text-muted; }
    SearchBar > Input { border: none; height: 1; width: 1fr; padding: 0; background: $boost; }
    SearchBar > Input:focus { border: none; }
    """

    BINDINGS = [
        Binding("escape", "close", "Back to log", id="search.close"),
        Binding("ctrl+r", "toggle_regex", "Regex on/off", id="search.regex"),
        Binding("ctrl+t", "toggle_case", "Case sensitive on/off", id="search.case"),
    ]

    class Changed(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Submitted(Message):
        pass

    class Closed(Message):
        pass

    class OptionToggled(Message):
        def __init__(self, option: str) -> None:
            super().__init__()
            self.option = option

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._pending: str | None = None  # typed, not yet searched for
        self._debounce: Timer | None = None

    def compose(self):
        yield Label("/", id="search-label")
        yield OrderedInput(placeholder="search (regex) — enter: next, ctrl+r regex, ctrl+t case, esc: back", id="search-input")

    def set_flags(self, regex: bool, case: bool) -> None:
        flags = ("regex" if regex else "text") + (" Aa" if case else " aa")
        self.query_one("#search-label", Label).update(Text(f"/ {flags}"))

    @on(Input.Changed, "#search-input")
    def _changed(self, event: Input.Changed) -> None:
        # A recount is a pass over the whole ring: once typing pauses, not at every key.
        event.stop()
        self._pending = event.value
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(SEARCH_DEBOUNCE, self.flush)

    def flush(self) -> None:
        """Search for what was typed now (before enter, esc or a toggle acts on it)."""
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None
        if self._pending is not None:
            text, self._pending = self._pending, None
            self.post_message(self.Changed(text))

    @on(Input.Submitted, "#search-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.flush()
        # enter on an empty search: nothing to jump to, so it is esc (which closes the box); as
        # a jump it left the box open, focus in the log, where esc no longer reached it
        self.post_message(self.Submitted() if event.value else self.Closed())

    def action_close(self) -> None:
        self.flush()
        self.post_message(self.Closed())

    def action_toggle_regex(self) -> None:
        self.flush()
        self.post_message(self.OptionToggled("regex"))

    def action_toggle_case(self) -> None:
        self.flush()
        self.post_message(self.OptionToggled("case"))


class LogPanel(Vertical):
    """Title bar + LogView + SearchBar. The screen feeds it batches and tells it what it shows."""

    DEFAULT_CSS = """
    LogPanel { height: 1fr; }
    LogPanel > #log-bar { height: 1; background: $panel; padding: 0 1; }
    LogPanel > LogView { height: 1fr; }
    """

    def __init__(self, max_lines: int) -> None:
        super().__init__(id="log-panel")
        self.view = LogView(max_lines, id="log-view")
        self.bar = TextBar(id="log-bar")
        self.search = SearchBar(id="search-bar")
        self.target = ""
        self.log_range = LogRange()
        #: (service, its status) of the selected service, shown while the log is zoomed (the
        #: table is hidden); after the target's name when it is the one followed.
        self.selected_status: tuple[str, Text] | None = None

    def compose(self):
        yield self.bar
        yield self.view
        yield self.search

    def on_mount(self) -> None:
        self.search.set_flags(self.view.search_regex, self.view.search_case)
        self.update_bar()

    def update_bar(self) -> None:
        text = Text()
        text.append("LOGS ", style="bold")
        text.append(self.target or "-", style=f"bold {SERVICE_COLOURS.get(self.target, 'cyan')}")
        if self.selected_status is not None:
            service, status = self.selected_status
            if service != self.target:
                text.append("  ▸ ", style="dim")
                text.append(service, style=f"bold {SERVICE_COLOURS.get(service, '')}")
            text.append(" ")
            text.append_text(status)
        parts = [BarPart(text, 0), BarPart(Text(self.log_range.describe(), style="dim"), 3)]
        if self.view.show_ts:
            parts.append(BarPart(Text("ts", style="dim"), 3))
        parts += self.view.status_parts()
        self.bar.set_text(fit_parts(parts, self.bar.content_size.width or self.size.width))

    def on_resize(self) -> None:
        self.update_bar()

    def on_log_view_status_changed(self, message: LogView.StatusChanged) -> None:
        message.stop()
        self.update_bar()
