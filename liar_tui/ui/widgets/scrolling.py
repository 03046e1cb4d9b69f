"""Arrow and page keys that scroll by every press, however fast they come.

Textual's scroll actions defer the scroll until after the next refresh and compute where to go
from where the view is now: presses that arrive together (a held key over SSH, a burst typed
into tmux) all start from the same place, so ten down-arrows scrolled one line (QA, help at
80x24; the logs the same). Here each press scrolls at once, from where the last one left the
view, clamped to the content.
"""

from __future__ import annotations

from typing import Any

from textual.actions import SkipAction
from textual.containers import VerticalScroll
from textual.widgets import RichLog


class KeyScroll:
    """Mixin for a scrolling widget (put it before the Textual class)."""

    def _scroll_now(self: Any, dx: float = 0, dy: float = 0) -> None:
        if (dy and not self.allow_vertical_scroll) or (dx and not self.allow_horizontal_scroll):
            raise SkipAction()  # the key goes on to the screen's bindings, as Textual's does
        x = min(max(self.scroll_target_x + dx, 0), self.max_scroll_x) if dx else None
        y = min(max(self.scroll_target_y + dy, 0), self.max_scroll_y) if dy else None
        self.scroll_to(x, y, animate=False, immediate=True)

    def action_scroll_up(self: Any) -> None:
        self._scroll_now(dy=-1)

    def action_scroll_down(self: Any) -> None:
        self._scroll_now(dy=1)

    def action_scroll_left(self: Any) -> None:
        self._scroll_now(dx=-1)

    def action_scroll_right(self: Any) -> None:
        self._scroll_now(dx=1)

    def action_page_up(self: Any) -> None:
        self._scroll_now(dy=-self.scrollable_content_region.height)

    def action_page_down(self: Any) -> None:
        self._scroll_now(dy=self.scrollable_content_region.height)

    def action_page_left(self: Any) -> None:
        self._scroll_now(dx=-self.scrollable_content_region.width)

    def action_page_right(self: Any) -> None:
        self._scroll_now(dx=self.scrollable_content_region.width)


class KeyVerticalScroll(KeyScroll, VerticalScroll):
    pass


class KeyRichLog(KeyScroll, RichLog):
    pass
