"""Widgets that draw lines of Rich Text with the line API and repaint only the lines that changed.

A pane's uptime or CPU figure changes every second; its image, ports and title do not. Going
through `render()` would re-wrap and re-render the whole widget each time; here each line is a
cached Strip and `refresh(region)` marks only changed lines dirty, so the compositor redraws those.
"""

from __future__ import annotations

from typing import NamedTuple

from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget


def fit_strip(strip: Strip, start: int, end: int, style: Style | None) -> Strip:
    """`strip.crop_extend(start, end, style)` without its one self-reference.

    When the strip already spans exactly [0, end), crop_extend returns the strip itself and also
    stores it in the strip's own cache: a reference cycle, so the row is freed only by the cyclic
    collector. A log line at least as wide as the view is exactly that case."""
    if strip.cell_length < end:
        strip = strip.extend_cell_length(end, style)
    if start > 0 or strip.cell_length > end:
        strip = strip.crop(start, end)
    return strip


class LineWidget(Widget):
    """Shows a list of Text lines (no wrapping: lines are cut at the width)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._lines: list[Text] = []
        self._strips: dict[int, Strip] = {}

    @property
    def lines(self) -> list[Text]:
        return self._lines

    def set_lines(self, lines: list[Text]) -> bool:
        """Replace the lines; refresh only those that differ. True when anything changed."""
        old = self._lines
        if lines == old:
            return False
        self._lines = lines
        changed = [y for y in range(max(len(old), len(lines))) if y >= len(old) or y >= len(lines) or old[y] != lines[y]]
        for y in changed:
            self._strips.pop(y, None)
        width = self.size.width
        if not width:
            self.refresh()
            return True
        regions: list[Region] = []
        for y in changed:
            if regions and regions[-1].bottom == y:
                last = regions[-1]
                regions[-1] = Region(0, last.y, width, last.height + 1)
            else:
                regions.append(Region(0, y, width, 1))
        self.refresh(*regions)
        return True

    @property
    def plain(self) -> str:
        return "\n".join(line.plain for line in self._lines)

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(self._lines)

    def get_content_width(self, container, viewport) -> int:
        return max((line.cell_len for line in self._lines), default=0)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def _on_resize(self) -> None:
        self._strips.clear()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        strip = self._strips.get(y)
        if strip is not None and strip.cell_length == width:
            return strip
        base = self.rich_style
        if y < len(self._lines):
            text = self._lines[y].copy()
            text.no_wrap = True
            text.end = ""
            text.stylize_before(base)
            strip = fit_strip(Strip(text.render(self.app.console)), 0, width, base)
        else:
            strip = Strip.blank(width, base)
        self._strips[y] = strip
        return strip


class TextBar(LineWidget):
    """One line of Rich Text; `set_text` refreshes only on change."""

    DEFAULT_CSS = """
    TextBar { height: 1; width: 100%; }
    """

    def __init__(self, text: Text | str = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._lines = [text if isinstance(text, Text) else Text(text)]

    @property
    def text(self) -> Text:
        return self._lines[0] if self._lines else Text()

    def set_text(self, text: Text | str) -> bool:
        return self.set_lines([text if isinstance(text, Text) else Text(text)])


class BarPart(NamedTuple):
    """A part of a one-line bar: its text, its rank (0 is kept longest) and a shorter form."""

    text: Text
    rank: int
    short: Text | None = None


def join_parts(parts: list[BarPart], short: bool = False) -> Text:
    out = Text()
    for i, part in enumerate(parts):
        if i:
            out.append("  ")
        out.append_text(part.short if short and part.short is not None else part.text)
    return out


def fit_parts(parts: list[BarPart], width: int) -> Text:
    """The parts joined by two spaces, in `width` cells when it is known: the least important
    parts go first (the highest rank, the last of a rank first), then every part takes its
    shorter form, then more parts go; what still does not fit ends with '…'. A bar cut at its
    right edge lost its news (QA at 80 columns: `/LOG/ 6 matching l`)."""
    if width <= 0 or join_parts(parts).cell_len <= width:
        return join_parts(parts)
    kept = list(parts)
    order = sorted(range(len(parts)), key=lambda i: (-parts[i].rank, -i))
    for short, ranks in ((False, range(3, 99)), (True, range(3, 99)), (True, range(1, 3))):
        for i in order:
            if parts[i].rank in ranks and parts[i] in kept:
                if join_parts(kept, short).cell_len <= width:
                    return join_parts(kept, short)
                kept.remove(parts[i])
        if join_parts(kept, short).cell_len <= width:
            return join_parts(kept, short)
    text = join_parts(kept, short=True)
    text.truncate(width, overflow="ellipsis")
    return text
