"""Service panes: one per service, full cards on wide terminals, one table row each on narrow ones."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.message import Message
from textual.reactive import reactive

from ...stack.model import SERVICE_KIND, SERVICES, ServiceState, StatsSample
from ..render import SERVICE_COLOURS, drift_marker, probe_marker, render_pane, render_row, render_table_header, shown_probe
from .bars import LineWidget, TextBar

HistorySource = Callable[[str], Sequence[StatsSample]]


class ServicePane(LineWidget):
    """Renders one service's state and stats history; repaints only the lines that change."""

    DEFAULT_CSS = """
    ServicePane {
        width: 1fr;
        height: 10;
        border: round $panel-lighten-2;
        border-title-color: $text;
        border-subtitle-align: right;
        padding: 0 1;
    }
    /* heavy, not only another colour: the selection shows under NO_COLOR too */
    ServicePane.-selected { border: heavy $accent 60%; }
    """

    class Clicked(Message):
        def __init__(self, service: str) -> None:
            super().__init__()
            self.service = service

    def __init__(self, service: str, history: HistorySource) -> None:
        super().__init__(id=f"pane-{service}", classes="pane")
        self.service = service
        self.state = ServiceState(service=service)
        self.connected: bool = True
        self.compact = False
        self.selected = False
        self.probe: Any = None  # the last ProbeResult (marker in the border / PROBE column)
        self.drift: Any = None  # the last DriftInfo (marker in place of the image line)
        self._marker_level: str | None = None  # the probe level the border shows
        #: which key applies a drift's fix (the keymap may move them)
        self.fix_keys: dict[str, str] = {"recreate": "R", "restart": "r"}
        self._history = history
        self.border_title = Text.assemble(
            (service, f"bold {SERVICE_COLOURS.get(service, '')}"), (f" · {SERVICE_KIND.get(service, '')}", "dim")
        )

    def on_resize(self, event: events.Resize) -> None:
        self.repaint()

    def on_click(self, event: events.Click) -> None:
        self.post_message(self.Clicked(self.service))

    def repaint(self, now_wall: datetime | None = None, now: float | None = None) -> bool:
        """Re-render from the given state and history; refresh only if the text changed."""
        self._sync_probe_marker()
        width = self.content_size.width
        if width <= 0:
            return False
        if now_wall is None or now is None:
            clock = getattr(self.app, "clock", None)
            now_wall, now = clock() if clock is not None else (datetime.now(timezone.utc), time.time())
        history = self._history(self.service) if self.state.running else ()
        if self.compact:
            probe = shown_probe(self.probe, self.state)
            lines = [render_row(self.state, history, width, now_wall, now, self.selected, self.connected, probe, self.drift)]
        else:
            marker = drift_marker(self.drift, self.fix_keys.get(self.drift.fix, "")) if self.drift is not None else None
            lines = render_pane(self.state, history, width, now_wall, now, self.connected, marker)
        return self.set_lines(lines)

    def _shown_level(self) -> str | None:
        shown = shown_probe(self.probe, self.state)
        return shown.level if shown is not None else None

    def _sync_probe_marker(self) -> None:
        """The card's bottom border shows the probe level worth showing for the current state."""
        level = self._shown_level()
        if level != self._marker_level:
            self._marker_level = level
            self.border_subtitle = probe_marker(shown_probe(self.probe, self.state))

    def set_probe(self, result: Any) -> None:
        """Show a probe's level: in the bottom border of a card, in the PROBE column of a row
        (not a stale 'ok' of a container that has stopped since: see render.shown_probe)."""
        before = self._shown_level()
        self.probe = result
        changed = self._shown_level() != before
        self._sync_probe_marker()
        if self.compact and changed:
            self.repaint()

    def set_drift(self, drift: Any) -> None:
        if drift != self.drift:
            self.drift = drift
            self.repaint()


class ServicesPanel(Vertical, can_focus=True):
    """The four panes and the selection; up/down (j/k) or 1-4 pick a service."""

    DEFAULT_CSS = """
    ServicesPanel { height: auto; }
    ServicesPanel #table-header { display: none; height: 1; }
    ServicesPanel.-compact #table-header { display: block; }
    ServicesPanel #panes { layout: horizontal; height: 10; }
    ServicesPanel.-compact #panes { layout: vertical; height: 4; }
    ServicesPanel:focus ServicePane.-selected { border: heavy $accent; }
    ServicesPanel.-compact ServicePane {
        width: 100%;
        height: 1;
        border: none;
        padding: 0;
    }
    ServicesPanel.-compact ServicePane.-selected { background: $accent 20%; border: none; }
    ServicesPanel.-compact:focus ServicePane.-selected { background: $accent 40%; border: none; }
    ServicesPanel.-stale ServicePane { opacity: 60%; }
    """

    BINDINGS = [
        Binding("down,j", "select_next", "Next service", id="services.next", show=False),
        Binding("up,k", "select_previous", "Previous service", id="services.previous", show=False),
        Binding("enter", "screen.health", "Health details", id="services.health", show=False),
        # QA: with the list focused (as after esc from a search) G, End and PgUp did nothing and
        # the log stayed paused; as in lazydocker, they move the log beside the list.
        Binding("pageup", "screen.log_scroll('page_up')", "Log: page up", id="services.log-page-up", show=False),
        Binding("pagedown", "screen.log_scroll('page_down')", "Log: page down", id="services.log-page-down", show=False),
        Binding("home,g", "screen.log_scroll('scroll_home')", "Log: oldest", id="services.log-home", show=False),
        Binding("end,G", "screen.log_scroll('scroll_end')", "Log: newest (follow)", id="services.log-end", show=False),
    ]

    selected: reactive[int] = reactive(0)

    class Selected(Message):
        """The selected service changed."""

        def __init__(self, service: str) -> None:
            super().__init__()
            self.service = service

    def __init__(self, history: HistorySource, services: tuple[str, ...] = SERVICES) -> None:
        super().__init__(id="services")
        self.services = services
        self.panes = [ServicePane(s, history) for s in services]
        self._header_width = -1

    def compose(self):
        yield TextBar(id="table-header")
        with Container(id="panes"):
            yield from self.panes

    def on_mount(self) -> None:
        self._mark_selected()

    @property
    def service(self) -> str:
        return self.services[self.selected]

    def pane(self, service: str) -> ServicePane:
        return self.panes[self.services.index(service)]

    def set_compact(self, compact: bool) -> None:
        if compact == self.has_class("-compact"):
            return
        self.set_class(compact, "-compact")
        for pane in self.panes:
            pane.compact = compact
        self.repaint_all()

    def set_connected(self, connected: bool) -> None:
        self.set_class(not connected, "-stale")
        for pane in self.panes:
            pane.connected = connected
        self.repaint_all()

    def repaint_all(self, now_wall: datetime | None = None, now: float | None = None) -> None:
        for pane in self.panes:
            pane.repaint(now_wall, now)
        self._repaint_header()

    def _repaint_header(self) -> None:
        width = self.content_size.width
        if self.has_class("-compact") and width != self._header_width and width > 0:
            self._header_width = width
            self.query_one("#table-header", TextBar).set_text(render_table_header(width))

    def on_resize(self, event: events.Resize) -> None:
        self._repaint_header()

    def update_state(self, state: ServiceState) -> None:
        if state.service in self.services:
            pane = self.pane(state.service)
            pane.state = state
            pane.repaint()

    def watch_selected(self, old: int, new: int) -> None:
        self._mark_selected()
        self.post_message(self.Selected(self.services[new]))

    def _mark_selected(self) -> None:
        for i, pane in enumerate(self.panes):
            sel = i == self.selected
            if pane.selected != sel:
                pane.selected = sel
                pane.set_class(sel, "-selected")
                pane.repaint()

    def select(self, service: str) -> None:
        if service in self.services:
            self.selected = self.services.index(service)

    def action_select_next(self) -> None:
        self.selected = (self.selected + 1) % len(self.services)

    def action_select_previous(self) -> None:
        self.selected = (self.selected - 1) % len(self.services)

    def on_service_pane_clicked(self, message: ServicePane.Clicked) -> None:
        self.select(message.service)
        self.focus()
