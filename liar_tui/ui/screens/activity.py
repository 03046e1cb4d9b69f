"""The Activity view (`A`): every action, state change, health transition, probe alarm, drift,
bucket and autoheal step, newest last. The history comes from the activity file (which CLI
processes write too), then live entries: this console's own as they are recorded, and other
processes' as they are appended to the file. At most ACTIVITY_KEEP entries are kept.

Reading a night's worth: `1`-`4` show one service's entries (the same key again: all), `/`
keeps the entries holding a text (any case; kind, service and words alike), `esc` clears them.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input

from ...stack.activity import entry_matches
from ..render import activity_row, autoheal_word
from ..widgets.bars import TextBar
from ..widgets.inputs import OrderedInput
from ..widgets.scrolling import KeyRichLog

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
    ActivityScreen > #activity-filter { display: none; height: 1; border: none; padding: 0 1; }
    ActivityScreen > #activity-filter.-active { display: block; }
    """
    BINDINGS = [
        Binding("escape,A,q", "back", "Back", id="activity.back", tooltip="Back to the services"),
        Binding("ctrl+a", "app.toggle_autoheal", "Autoheal on/off", id="autoheal.toggle",
                tooltip="Autoheal on/off: restart a service that stays unhealthy"),
        Binding("end,G", "newest", "Newest", id="activity.newest", show=False, tooltip="Jump to the newest entry"),
        Binding("slash", "filter", "Filter", id="activity.filter", tooltip="Only the entries holding a text (esc clears)"),
        Binding("1", "only('postgres')", "postgres", id="activity.only-1", show=False, tooltip="Only postgres's entries (again: all)"),
        Binding("2", "only('redis')", "redis", id="activity.only-2", show=False, tooltip="Only redis's entries (again: all)"),
        Binding("3", "only('nginx')", "nginx", id="activity.only-3", show=False, tooltip="Only nginx's entries (again: all)"),
        Binding("4", "only('minio')", "minio", id="activity.only-4", show=False, tooltip="Only minio's entries (again: all)"),
        # the main view's help binding (same id: a remap moves it everywhere)
        Binding("question_mark,f1", "help", "Help", id="app.help", tooltip="Every key"),
    ]

    def __init__(self, project_name: str, path_label: str) -> None:
        super().__init__(id="activity-screen")
        self.project_name = project_name
        self.path_label = path_label
        self.bar = TextBar(id="activity-bar")
        self.log_view = KeyRichLog(max_lines=ACTIVITY_KEEP, min_width=20, wrap=True, markup=False, highlight=False, auto_scroll=True, id="activity-log")
        self.count = 0
        self.loaded = False
        self.entries: deque[Any] = deque(maxlen=ACTIVITY_KEEP)  # what is shown when nothing is filtered
        self.service_filter = ""
        self.text_filter = ""
        self.filter_box = OrderedInput(placeholder="entries holding… (enter keeps it, esc clears)", id="activity-filter")
        self._filter_timer: Any = None
        self._seen: set[str] = set()
        self._order: deque[str] = deque()
        self._pending: list[Any] = []  # live entries that arrived before the history

    @property
    def liar(self) -> "LiarApp":
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield self.bar
        yield self.log_view
        yield self.filter_box
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
        self.loaded = True
        fresh = [e for e in entries[-ACTIVITY_KEEP:] if self._remember(e)]
        pending, self._pending = self._pending, []
        fresh += [e for e in pending if self._remember(e)]
        self.entries.extend(fresh)
        self.count = len(self.entries)
        self._redraw()

    def add(self, entry: Any) -> None:
        if not self.loaded:
            self._pending.append(entry)
            del self._pending[:-ACTIVITY_KEEP]
            return
        if not self._remember(entry):
            return
        if len(self.entries) == self.entries.maxlen and self.matches(self.entries[0]):
            self.shown -= 1  # the oldest goes out of the bounded list
        self.entries.append(entry)
        self.count = len(self.entries)
        if self.matches(entry):
            if self.shown == 0:
                self.log_view.clear()
            # a reader scrolled up stays where they are (QA: a crash-looping service's entries,
            # every few seconds, pulled the view back to the end); at the end, it follows
            view = self.log_view
            following = view.scroll_target_y >= view.max_scroll_y
            view.write(activity_row(entry), expand=True, scroll_end=following)
            self.shown += 1
        self.update_bar()

    # -- filters ------------------------------------------------------------------------------
    shown = 0  # entries drawn (those the filters keep)

    @property
    def filtering(self) -> bool:
        return bool(self.service_filter or self.text_filter)

    def matches(self, entry: Any) -> bool:
        return entry_matches(entry, self.service_filter, self.text_filter)

    def _redraw(self) -> None:
        kept = [e for e in self.entries if self.matches(e)]
        self.log_view.clear()
        if not self.entries:
            self.log_view.write(Text(f"no activity yet ({self.path_label})", style="dim"))
        elif not kept:
            self.log_view.write(Text(f"no entry matches {self._filter_words()}: esc shows them all", style="dim"))
        for entry in kept:
            self.log_view.write(activity_row(entry), expand=True)
        self.shown = len(kept)
        self.log_view.scroll_end(animate=False)
        self.update_bar()

    def _filter_words(self) -> str:
        parts = []
        if self.service_filter:
            parts.append(f"{self.service_filter} only")
        if self.text_filter:
            parts.append(f"/{self.text_filter}/")
        return " · ".join(parts)

    def action_only(self, service: str) -> None:
        self.service_filter = "" if self.service_filter == service else service
        self._redraw()

    def action_filter(self) -> None:
        self.filter_box.add_class("-active")
        self.filter_box.value = self.text_filter
        self.call_after_refresh(self.filter_box.focus)

    @on(Input.Changed, "#activity-filter")
    def _typed(self, event: Input.Changed) -> None:
        # redrawn once typing pauses: up to 1000 entries are laid out again on each change
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(0.15, lambda: self._apply_text(event.value))

    @on(Input.Submitted, "#activity-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._apply_text(event.value)
        self._close_box()

    def _apply_text(self, value: str) -> None:
        value = value.strip()
        if value != self.text_filter:
            self.text_filter = value
            self._redraw()

    def _close_box(self) -> None:
        self.filter_box.remove_class("-active")
        self.log_view.focus()

    def update_bar(self) -> None:
        app = self.liar
        width = self.bar.content_region.width or self.app.size.width - 2
        # short: at 80 columns the path and 'times UTC' must still fit (newest is last, as in a log)
        if self.filtering:
            count = Text(f"  {self.shown:,}/{self.count:,}", style="bold")
        else:
            count = Text(f"  {self.count:,} entr{'y' if self.count == 1 else 'ies'}", style="dim")
        status = Text(" │ ", style="dim")
        status.append_text(autoheal_word(app.autoheal_on, app.autoheal_standby))
        status.append(" │ ", style="dim")
        error = getattr(getattr(app.wiring, "_activity", None), "write_error", "")
        if error:
            tail = Text(f"NOT SAVED: {error}", style="bold red")
        elif self.filtering:  # in the path's place; esc shows it again
            words, esc = self._filter_words(), " · esc: all"
            room = width - len("ACTIVITY") - count.cell_len - status.cell_len - len(esc)
            if len(words) > room:  # a long text filter at 80 columns hid the way out
                words = words[:max(room - 1, 8)] + "…"
            tail = Text(words, style="bold yellow")
            tail.append(esc, style="dim")
        else:
            tail = Text(f"{self.path_label} · times UTC", style="dim")
        text = Text()
        text.append("ACTIVITY", style="bold")  # (a span: Text(..., style=) would embolden the whole bar)
        project = Text(f"  {self.project_name}", style="bold cyan")
        # a filter takes the project name's room when it needs it (every other view names it)
        if not self.filtering or text.cell_len + project.cell_len + count.cell_len + status.cell_len + tail.cell_len <= width:
            text.append_text(project)
        for part in (count, status, tail):
            text.append_text(part)
        self.bar.set_text(text)

    def on_unmount(self) -> None:
        self.liar.activity_closed(self)

    # -- actions ------------------------------------------------------------------------------
    def action_back(self) -> None:
        """esc: out of the filter box, then clear the filters, then back to the services."""
        if self.filter_box.has_class("-active"):
            if self._filter_timer is not None:
                self._filter_timer.stop()
            self._close_box()
            self._apply_text("")  # enter keeps a filter; esc in the box drops it
            return
        if self.filtering:
            self.service_filter = self.text_filter = ""
            self._redraw()
            return
        self.app.pop_screen()

    def action_help(self) -> None:
        self.liar.main.action_help()

    def action_newest(self) -> None:
        self.log_view.scroll_end(animate=False)
