"""The Activity view (`A`): every action, state change, health transition, probe alarm, drift,
bucket and autoheal step, newest last. The history comes from the activity file (which CLI
processes write too), then live entries: this console's own as they are recorded, and other
processes' as they are appended to the file. At most ACTIVITY_KEEP entries are kept.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, RichLog

from ..render import activity_row, autoheal_word
from ..widgets.bars import TextBar

if TYPE_CHECKING:
    from ..app import LiarApp

#: Entries shown (and remembered to drop duplicates) at most.
ACTIVITY_KEEP = 1000


class ActivityScreen(Screen[None]):
    """A bounded list of activity entries; it renders what the app hands it."""

    DEFAULT_CSS = """
    ActivityScreen { layout: vertical; }
    ActivityScreen > #activity-bar { background: $panel; padding: 0 1; }
    ActivityScreen > RichLog { height: 1fr; padding: 0 1; background: $surface; scrollbar-size-vertical: 1; scrollbar-gutter: stable; }
    """
    BINDINGS = [
        Binding("escape,A,q", "back", "Back", id="activity.back", tooltip="Back to the services"),
        Binding("ctrl+a", "app.toggle_autoheal", "Autoheal on/off", id="autoheal.toggle",
                tooltip="Autoheal on/off: restart a service that stays unhealthy"),
        Binding("end,G", "newest", "Newest", id="activity.newest", show=False, tooltip="Jump to the newest entry"),
        # the main view's help binding (same id: a remap moves it everywhere)
        Binding("question_mark,f1", "help", "Help", id="app.help", tooltip="Every key"),
    ]

    def __init__(self, project_name: str, path_label: str) -> None:
        super().__init__(id="activity-screen")
        self.project_name = project_name
        self.path_label = path_label
        self.bar = TextBar(id="activity-bar")
        self.log_view = RichLog(max_lines=ACTIVITY_KEEP, min_width=20, wrap=True, markup=False, highlight=False, auto_scroll=True, id="activity-log")
        self.count = 0
        self.loaded = False
        self._seen: set[str] = set()
        self._order: deque[str] = deque()
        self._pending: list[Any] = []  # live entries that arrived before the history

    @property
    def liar(self) -> "LiarApp":
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield self.bar
        yield self.log_view
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.log_view.write(Text("reading the activity log…", style="dim"))
        self.update_bar()
        self.log_view.focus()

    # -- entries from the app -----------------------------------------------------------------
    def _remember(self, entry: Any) -> bool:
        """False when this entry is already shown (it came by both the subscription and the file)."""
        key = entry.to_line()
        if key in self._seen:
            return False
        self._seen.add(key)
        self._order.append(key)
        while len(self._order) > 2 * ACTIVITY_KEEP:
            self._seen.discard(self._order.popleft())
        return True

    def load_history(self, entries: list[Any]) -> None:
        self.log_view.clear()
        self.loaded = True
        fresh = [e for e in entries[-ACTIVITY_KEEP:] if self._remember(e)]
        pending, self._pending = self._pending, []
        fresh += [e for e in pending if self._remember(e)]
        if not fresh:
            self.log_view.write(Text(f"no activity yet ({self.path_label})", style="dim"))
        for entry in fresh:
            self.log_view.write(activity_row(entry), expand=True)
        self.count = len(fresh)
        self.update_bar()

    def add(self, entry: Any) -> None:
        if not self.loaded:
            self._pending.append(entry)
            del self._pending[:-ACTIVITY_KEEP]
            return
        if not self._remember(entry):
            return
        if self.count == 0:
            self.log_view.clear()
        self.log_view.write(activity_row(entry), expand=True)
        self.count = min(ACTIVITY_KEEP, self.count + 1)
        self.update_bar()

    def update_bar(self) -> None:
        app = self.liar
        text = Text()
        text.append("ACTIVITY", style="bold")
        text.append(f"  {self.project_name}", style="bold cyan")
        # short: at 80 columns the path and 'times UTC' must still fit (newest is last, as in a log)
        text.append(f"  {self.count:,} entr{'y' if self.count == 1 else 'ies'}", style="dim")
        text.append("  │  ", style="dim")
        text.append_text(autoheal_word(app.autoheal_on, app.autoheal_standby))
        text.append("  │  ", style="dim")
        error = getattr(getattr(app.wiring, "_activity", None), "write_error", "")
        if error:
            text.append(f"NOT SAVED: {error}", style="bold red")
        else:
            text.append(f"{self.path_label} · times UTC", style="dim")
        self.bar.set_text(text)

    def on_unmount(self) -> None:
        self.liar.activity_closed(self)

    # -- actions ------------------------------------------------------------------------------
    def action_back(self) -> None:
        self.app.pop_screen()

    def action_help(self) -> None:
        self.liar.main.action_help()

    def action_newest(self) -> None:
        self.log_view.scroll_end(animate=False)
