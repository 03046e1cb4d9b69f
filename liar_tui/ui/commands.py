"""Command palette (ctrl+p): every action of the screen it is opened over (the main screen or a
view), with its key, searchable."""

from __future__ import annotations

from functools import partial
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from .keys import KeyRow, rows_from
from .screens.style import SaysWhyKeyIsOff

#: Sections of the main screen's key list the palette leaves out: keys of a widget or a view (the
#: views' palette lists their own), and the app's own (ctrl+p, ctrl+q).
MAIN_SKIPPED = ("Log view", "Search box", "Services list", "App", "Health view", "Activity view", "Backups view", "Dialogs")


class ConsoleCommands(Provider):
    """Lists the main screen's bindings; greyed-out actions say why they are not available."""

    def _target(self) -> Any:
        """The screen the palette was opened over when it is one of the views (health, activity,
        backups: their own actions), else the main screen."""
        from .screens.main import MainScreen

        screen = self.screen
        if isinstance(screen, MainScreen):
            return screen
        if any(isinstance(b, Binding) and b.id for b in getattr(screen, "BINDINGS", ())):
            return screen
        return getattr(self.app, "main", None)

    def _rows(self) -> list[tuple[KeyRow, bool]]:
        from .screens.main import MainScreen

        screen = self._target()
        if screen is None:
            return []
        if isinstance(screen, MainScreen):
            candidates = [r for r in screen.key_rows() if r.section not in MAIN_SKIPPED]
        else:
            keymap = getattr(self.app, "keymap", {})
            candidates = rows_from(type(screen).__name__, screen.BINDINGS, keymap)
        rows = []
        for row in candidates:
            action = row.action.split("(")[0]
            allowed = True if "." in action else screen.check_action(action, ())
            if allowed is False:
                continue
            rows.append((row, bool(allowed)))
        return rows

    def _run(self, action: str, allowed: bool = True, keys: str = "") -> None:
        screen = self._target()
        if screen is None:
            return
        if not allowed:
            # QA: choosing a "(not available now)" command did nothing at all; its key says why
            reason = screen.disabled_reason(action.split("(")[0]) if isinstance(screen, SaysWhyKeyIsOff) else ""
            if reason:
                self.app.call_later(screen.say_disabled, keys, reason)
            return
        self.app.call_later(screen.run_action, action)

    def _title(self, row: KeyRow, allowed: bool) -> str:
        text = f"{row.description} · {row.keys}"
        return text if allowed else f"{text} (not available now)"

    async def discover(self) -> Hits:
        for row, allowed in self._rows():
            title = self._title(row, allowed)
            yield DiscoveryHit(Text(title), partial(self._run, row.action, allowed, row.keys), text=title, help=row.binding_id)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for row, allowed in self._rows():
            title = self._title(row, allowed)
            score = max(matcher.match(title), matcher.match(row.binding_id))
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self._run, row.action, allowed, row.keys), text=title,
                          help=row.binding_id)
