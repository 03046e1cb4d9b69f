"""One-line bars that repaint only when their text changes (no layout pass: fixed height 1)."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget


class Bar(Widget):
    """A single line of Rich Text; `set_text` refreshes only on change."""

    DEFAULT_CSS = """
    Bar { height: 1; width: 100%; }
    """

    def __init__(self, text: Text | str = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._text = text if isinstance(text, Text) else Text(text)

    @property
    def text(self) -> Text:
        return self._text

    def render(self) -> Text:
        return self._text

    def set_text(self, text: Text | str) -> bool:
        new = text if isinstance(text, Text) else Text(text)
        if new == self._text:
            return False
        self._text = new
        self.refresh()
        return True
