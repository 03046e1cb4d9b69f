"""Command palette (ctrl+p): every action of the main screen, with its key, searchable."""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual.command import DiscoveryHit, Hit, Hits, Provider

from .keys import KeyRow


class ConsoleCommands(Provider):
    """Lists the main screen's bindings; greyed-out actions say why they are not available."""

    def _rows(self) -> list[tuple[KeyRow, bool]]:
        from .screens.main import MainScreen

        screen = self.screen if isinstance(self.screen, MainScreen) else getattr(self.app, "main", None)
        if screen is None:
            return []
        rows = []
        for row in screen.key_rows():
            if row.section in ("Log view", "Search box", "Services list", "App", "Health view", "Activity view", "Backups view"):
                continue
            action = row.action.split("(")[0]
            allowed = screen.check_action(action, ())
            if allowed is False:
                continue
            rows.append((row, bool(allowed)))
        return rows

    def _run(self, action: str) -> None:
        screen = getattr(self.app, "main", None)
        if screen is not None:
            self.app.call_later(screen.run_action, action)

    def _title(self, row: KeyRow, allowed: bool) -> str:
        text = f"{row.description} · {row.keys}"
        return text if allowed else f"{text} (not available now)"

    async def discover(self) -> Hits:
        for row, allowed in self._rows():
            title = self._title(row, allowed)
            yield DiscoveryHit(Text(title), partial(self._run, row.action), text=title, help=row.binding_id)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for row, allowed in self._rows():
            title = self._title(row, allowed)
            score = max(matcher.match(title), matcher.match(row.binding_id))
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self._run, row.action), text=title, help=row.binding_id)
