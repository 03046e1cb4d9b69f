"""The main screen: host bar, service panes, logs, activity line, footer; every action a Binding."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input

from ...stack.logs import LogRange
from ...stack.model import SERVICES, ServiceState
from ..keys import KeyRow, rows_from
from ..statusword import status_word
from ..widgets.bars import TextBar
from ..widgets.logview import LogPanel, LogView, SearchBar
from ..widgets.panes import ServicesPanel
from .modals import ConfirmDownScreen, HelpScreen, LogRangeScreen, SaveLogScreen
from .style import SaysWhyKeyIsOff

if TYPE_CHECKING:
    from textual.timer import Timer

    from ..app import LiarApp

#: Below this size the panes collapse into a compact table.
WIDE_MIN_WIDTH = 120
WIDE_MIN_HEIGHT = 32

#: `w` while the log loads waits this long at most for its backlog, then opens the dialog anyway
SAVE_LOAD_WAIT = 3.0
SERVICE_ACTIONS = ("restart", "recreate", "toggle_service", "shell")


_DECLARED: dict[type, dict[str, int]] = {}


def _declared_order(cls: type) -> dict[str, int]:
    """Each binding's place (by id, else action) among the bindings `cls` declares, before any keymap."""
    order = _DECLARED.get(cls)
    if order is None:
        order = {}
        for bindings in cls._merge_bindings().key_to_bindings.values():  # type: ignore[attr-defined]
            for b in bindings:
                order.setdefault(b.id or b.action, len(order))
        _DECLARED[cls] = order
    return order


class CalmFooter(Footer):
    """Textual's Footer, recomposed once per frame however often the bindings change in it.

    Each bindings change makes the stock footer rebuild all its keys (~15 widgets) after the next
    refresh; start-up alone changes them five times within ~100 ms (focus, screen stack, the first
    selection, the engine, the first state)."""

    # The palette key is docked right, over the keys that did not fit, but Textual places it one
    # cell short of the edge, and that cell showed a letter of a key beneath it (`…CommandsA`).
    DEFAULT_CSS = """
    CalmFooter FooterKey.-command-palette { offset-x: 1; }
    """

    _recompose_pending = False

    def compose(self) -> ComposeResult:
        """The stock footer's keys, in the order their bindings are declared. A key remapped in
        config.toml went last (Textual's keymap re-adds it at the end of its map): QA with
        `service.restart = "ctrl+r"`, restart left the 80-column footer for `^r` after `a All logs`."""
        from textual.widgets._footer import FooterKey

        items = list(super().compose())
        palette = [i for i in items if isinstance(i, FooterKey) and i.has_class("-command-palette")]
        keys: list[Any] = [i for i in items if i not in palette]  # FooterKeys (checked below)
        if not all(isinstance(k, FooterKey) for k in keys):
            yield from items  # groups or labels (none here): the stock order
            return
        rank: dict[str, tuple[int, int]] = {}
        nodes: dict[Any, int] = {}  # each binding's node, in the order the bindings come
        for node, binding, _enabled, _tooltip in self.screen.active_bindings.values():
            declared = _declared_order(type(node))
            place = declared.get(binding.id or binding.action, len(declared))
            rank.setdefault(binding.action, (nodes.setdefault(node, len(nodes)), place))
        yield from sorted(keys, key=lambda k: rank.get(k.action, (len(nodes), 0)))
        yield from palette

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus or not self.is_attached or screen is not self.screen:
            return
        if not self._recompose_pending:
            self._recompose_pending = True
            self.call_after_refresh(self._recompose_now)

    async def _recompose_now(self) -> None:
        self._recompose_pending = False
        await self.recompose()
        self._forget_removed_keys()
        self.fit_keys()

    def _forget_removed_keys(self) -> None:
        """Drop the watchers the removed keys left on this footer. Each FooterKey is data-bound to
        the footer's `compact`, and Textual forgets such a watcher only when `compact` changes,
        which here it never does: every recompose (each bindings change: a state change, a view
        opened or closed) kept the ~14 old keys alive, about 60 KB each (QA: RSS 69 -> 117 MB
        after opening and closing the views a few dozen times)."""
        watchers = getattr(self, "__watchers", None)
        if not watchers:
            return
        for callbacks in watchers.values():
            callbacks[:] = [(node, callback) for node, callback in callbacks
                            if not (getattr(node, "_closed", False) or getattr(node, "_closing", False))]

    def on_resize(self) -> None:
        self.fit_keys()

    def fit_keys(self) -> None:
        """Show only the keys that fit whole before the palette key: at 80 columns the stock
        footer cut the last one in half (QA: `u U▏^p Commands`). The keys come in the order of
        the bindings, the most used first."""
        from textual.widgets._footer import FooterKey

        width = self.size.width
        if not width:
            return
        keys = [k for k in self.children if isinstance(k, FooterKey)]
        palette = [k for k in keys if k.has_class("-command-palette")]
        room = width - sum(_key_cells(k) + 1 for k in palette)  # its left border
        x = 0
        for key in keys:
            if key in palette:
                continue
            x += _key_cells(key)
            fits = x <= room
            if key.display != fits:
                key.display = fits
            x += 1  # the margin after each key (compact)


def _key_cells(key: Any) -> int:
    """A compact FooterKey's width: its key, a space and its description."""
    return len(key.key_display) + (1 + len(key.description) if key.description else 0)


class MainScreen(SaysWhyKeyIsOff, Screen[None]):
    """Owns the widgets; I/O goes through the app's workers, results come back as messages."""

    DEFAULT_CSS = """
    MainScreen { layout: vertical; }
    MainScreen > #host-bar { background: $panel; padding: 0 1; }
    MainScreen > #engine-banner { background: $error 30%; color: $text; padding: 0 1; display: none; height: auto; max-height: 3; }
    MainScreen.-disconnected > #engine-banner, MainScreen.-elsewhere > #engine-banner { display: block; }
    MainScreen > #activity { padding: 0 1; color: $text-muted; }
    MainScreen.-zoomed > #services { display: none; }
    """

    BINDINGS = [
        # first: the footer shows keys in this order, and at 80 columns it has room for about eight
        Binding("question_mark,f1", "help", "Help", id="app.help", tooltip="Every key"),
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit liar-tui"),
        # the selected service (lazydocker/k9s habits)
        Binding("r", "restart", "Restart", id="service.restart", tooltip="Restart the selected service"),
        Binding("R", "recreate", "Recreate", id="service.recreate", tooltip="Recreate the selected service's container (force)"),
        Binding("s", "toggle_service", "Stop/Start", id="service.toggle", tooltip="Stop the selected service, or start it when stopped (up: a new container when it has none)"),
        Binding("E", "shell", "Shell", id="service.shell", tooltip="Open a shell in the selected service (psql, redis-cli, sh)"),
        Binding("H", "health", "Health", id="service.health", tooltip="Health view: probes (green/amber/red, why, figures), drift, autoheal, failing streak and last checks"),
        Binding("1", "select('postgres')", "postgres", id="service.select-1", show=False, tooltip="Select postgres"),
        Binding("2", "select('redis')", "redis", id="service.select-2", show=False, tooltip="Select redis"),
        Binding("3", "select('nginx')", "nginx", id="service.select-3", show=False, tooltip="Select nginx"),
        Binding("4", "select('minio')", "minio", id="service.select-4", show=False, tooltip="Select minio"),
        # the whole stack
        Binding("u", "up", "Up", id="stack.up", tooltip="Bring every service up (compose up -d)"),
        Binding("D", "down", "Down", id="stack.down", tooltip="Down the stack (asks; deleting data needs the project name)"),
        Binding("ctrl+a", "toggle_autoheal", "Autoheal", id="autoheal.toggle", show=False,
                tooltip="Autoheal on/off: restart a service that stays unhealthy (with backoff and a cap)"),
        # backups
        Binding("B", "backup_service", "Backup", id="backup.service", show=False,
                tooltip="Back up the selected service (postgres, redis or minio) into a new set"),
        Binding("ctrl+b", "backup_all", "Backup all", id="backup.all", show=False,
                tooltip="Back up postgres, redis and minio into a new set (in tmux: press ctrl+b twice)"),
        # views
        Binding("A", "activity", "Activity", id="view.activity", tooltip="Activity view: actions, state changes, probe alarms, autoheal steps"),
        Binding("V", "backups", "Backups", id="view.backups", tooltip="Backups view: the sets, verify, restore"),
        # logs
        Binding("slash", "search", "Search", id="logs.search", tooltip="Search the log (regex)"),
        Binding("n", "next_match", "Next", id="logs.next-match", show=False, tooltip="Next matching line"),
        Binding("N", "previous_match", "Prev", id="logs.previous-match", show=False, tooltip="Previous matching line"),
        Binding("o", "only_matching", "Only matching", id="logs.only-matching", show=False, tooltip="Show only matching lines on/off"),
        Binding("c", "toggle_case", "Case", id="logs.case", show=False, tooltip="Case-sensitive search on/off"),
        Binding("x", "toggle_regex", "Regex", id="logs.regex", show=False, tooltip="Regex or plain-text search"),
        Binding("f", "toggle_follow", "Follow", id="logs.follow", tooltip="Follow new lines on/off"),
        Binding("t", "toggle_timestamps", "Timestamps", id="logs.timestamps", show=False, tooltip="Timestamps on/off"),
        Binding("a", "toggle_all_logs", "All logs", id="logs.all", tooltip="All services interleaved / the selected service"),
        Binding("b", "log_range", "How far back", id="logs.range", show=False, tooltip="How far back: tail N lines or since a duration"),
        Binding("w", "save_log", "Save log", id="logs.save", show=False, tooltip="Save the visible log to a file"),
        Binding("z,plus", "zoom_logs", "Zoom log", id="logs.zoom", show=False,
                tooltip="The log full screen on/off (the service keys still act on the selected service)"),
        # navigation
        Binding("l,tab,shift+tab", "switch_focus", "Switch", id="focus.switch", show=False, tooltip="Switch focus: services / logs"),
        Binding("escape", "back", "Back", id="focus.back", show=False, tooltip="Back (logs -> services)"),
    ]

    def __init__(self, max_lines: int, project_name: str) -> None:
        super().__init__(id="main")
        self.project_name = project_name
        self.host_bar = TextBar(id="host-bar")
        self.engine_banner = TextBar(id="engine-banner")
        self.elsewhere = ""  # set when the containers were made from another copy (show_elsewhere)
        self.services = ServicesPanel(self._history)
        self.logs = LogPanel(max_lines)
        self.activity = TextBar(Text("starting…", style="dim"), id="activity")
        self._follow_timer: Timer | None = None
        self._save_pending = False  # `w` while the log loads: the dialog opens once it has
        self._state_bindings: tuple[str, bool, bool] | None = None

    @property
    def liar(self) -> "LiarApp":
        return self.app  # type: ignore[return-value]

    def _history(self, service: str):
        return self.liar.history(service)

    def compose(self) -> ComposeResult:
        yield self.host_bar
        yield self.engine_banner
        yield self.services
        yield self.logs
        yield self.activity
        yield CalmFooter(compact=True)

    def on_mount(self) -> None:
        self.services.focus()

    _shown_before = False

    def on_screen_resume(self) -> None:
        if self._shown_before:  # not at start-up: back from a view or a dialog
            self.liar.view_closed()
        self._shown_before = True

    def on_resize(self, event: events.Resize) -> None:
        self.apply_size(event.size.width, event.size.height)
        self.call_after_refresh(self.liar.render_host_bar)

    def apply_size(self, width: int, height: int) -> None:
        self.services.set_compact(width < WIDE_MIN_WIDTH or height < WIDE_MIN_HEIGHT)

    @property
    def selected(self) -> str:
        return self.services.service

    @property
    def log_view(self) -> LogView:
        return self.logs.view

    # -- rendering state given by the app ------------------------------------------------------
    def show_state(self, state: ServiceState) -> None:
        self.services.update_state(state)
        if state.service == self.selected:
            if self.zoomed:
                self._show_selected_status()
            # Only what check_action reads of a state; a health change alone leaves the keys as
            # they are (each refresh recomposes the footer: ~15 widgets).
            key = (state.service, state.running, bool(state.container_id))
            if key != self._state_bindings:
                self._state_bindings = key
                self.refresh_bindings()

    def show_engine(self, connected: bool | None, error: str = "") -> None:
        self.set_class(connected is False, "-disconnected")
        if connected is False:
            self._banner(f"⚠ {error or 'Docker engine unreachable'} — reconnecting…")
        elif self.elsewhere:
            self._banner(self.elsewhere)
        self.services.set_connected(connected is not False)
        self.refresh_bindings()

    def show_elsewhere(self, message: str) -> None:
        """The project name's containers belong to another copy of the project: said at once in
        the banner (every action refuses), not first when an action fails."""
        self.elsewhere = message
        self.set_class(bool(message), "-elsewhere")
        if message and not self.has_class("-disconnected"):
            self._banner(f"⚠ {message}")

    def _banner(self, text: str) -> None:
        banner = Text(text, style="bold")
        width = max(20, (self.size.width or 80) - 2)
        self.engine_banner.set_lines(list(banner.wrap(self.app.console, width))[:3])
        self.engine_banner.refresh(layout=True)

    def show_activity(self, text: Text | str) -> None:
        self.activity.set_text(text)

    # -- selection -> log follower ------------------------------------------------------------
    @on(ServicesPanel.Selected)
    def _selected(self, message: ServicesPanel.Selected) -> None:
        self.refresh_bindings()
        if self.zoomed:
            self._show_selected_status()
        if self.liar.logs_all or self.logs.target == message.service:
            return
        # Holding j/k must not open and close a log stream per pane passed: settle first.
        if self._follow_timer is not None:
            self._follow_timer.stop()
        self._follow_timer = self.set_timer(0.15, self.liar.follow_logs)

    # -- check_action: hide or grey out what does not apply -----------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        app = self.liar
        if action in SERVICE_ACTIONS:
            if not app.engine_connected:
                return None
            if app.compose_conflict(self.selected, compose=action != "shell"):
                return None
            state = app.state_of(self.selected)
            if action == "restart":
                # (a crash-looping container waits ever longer between Docker's restarts: r after
                # the fix restarts it now; a paused one restarts too)
                return True if state.state in ("running", "restarting", "paused") else None
            if action == "shell":
                return True if state.running else None
            return True
        if action == "up":
            return None if (not app.engine_connected or app.compose_conflict(None)) else True
        if action == "down":
            if not app.engine_connected or app.compose_conflict(None):
                return None
            return True if any(app.state_of(s).container_id for s in SERVICES) else None
        if action in ("backup_service", "backup_all"):
            if not app.engine_connected or app.backup_job is not None:
                return None
            wanted = ("postgres", "redis", "minio") if action == "backup_all" else (self.selected,)
            if action == "backup_service" and self.selected not in ("postgres", "redis", "minio"):
                return None  # nginx holds no data
            if app.job_conflict(wanted):
                return None
            return True if all(app.state_of(s).running for s in wanted) else None
        if action in ("next_match", "previous_match"):
            return True if self.log_view.match_count else None
        if action == "only_matching":
            return True if self.log_view.pattern is not None or self.log_view.only_matching else None
        return True

    def disabled_reason(self, action: str) -> str:
        """Why `action` does not apply now, in one line with what to do ('' when it does)."""
        app = self.liar
        service = self.selected
        key = app.key_for
        if action in SERVICE_ACTIONS or action in ("up", "down", "backup_service", "backup_all"):
            if not app.engine_connected:
                return "the Docker engine is unreachable: actions come back when it does"
        if action in SERVICE_ACTIONS:
            conflict = app.compose_conflict(service, compose=action != "shell")
            if conflict:
                return conflict
            state = app.state_of(service)
            if action in ("restart", "shell") and not state.running:
                if state.state == "restarting":  # only the shell is refused (QA: it said "start it with s", and s stops)
                    return (f"{service} keeps exiting and Docker starts it again (its log says why): no shell until "
                            f"it runs; {key('service.restart')} restarts it now, {key('service.toggle')} stops it")
                if state.state == "paused":
                    return f"{service} is paused: {key('service.toggle')} resumes it"
                if state.container_id:
                    return f"{service} is not running: start it with {key('service.toggle')}"
                return f"{service} has no container: {key('service.toggle')} brings it up"
        if action in ("up", "down") and (conflict := app.compose_conflict(None)):
            return conflict
        if action == "down":
            return "nothing to take down: the stack has no containers"
        if action in ("backup_service", "backup_all"):
            backed = app.backup_services
            if action == "backup_service" and service not in backed:
                return f"{service} has no backup: backups cover {', '.join(backed[:-1])} and {backed[-1]}"
            if app.backup_job is not None:
                return f"a {app.backup_job.kind} is running: one at a time"
            wanted = backed if action == "backup_all" else (service,)
            return app.job_conflict(wanted) or app.not_running_reason(wanted, "a backup")
        error = self.log_view.search_error
        if action in ("next_match", "previous_match", "only_matching") and error:
            # QA: `(unclosed` then o said "no search yet"
            if error.startswith("bad regex: "):
                return (f"the search is not a valid regex ({error.removeprefix('bad regex: ')}): "
                        f"{key('logs.search')} fixes it, {key('logs.regex')} searches it as plain text")
            return f"{error} ({key('logs.search')} changes the search)"
        if action in ("next_match", "previous_match"):
            return f"no match in the log: {key('logs.search')} searches it"
        if action == "only_matching":
            return f"no search yet: {key('logs.search')} searches the log"
        return ""

    # -- service actions ----------------------------------------------------------------------
    def action_restart(self) -> None:
        self.liar.run_service_action("restart", self.selected)

    def action_recreate(self) -> None:
        self.liar.run_service_action("recreate", self.selected)

    def action_toggle_service(self) -> None:
        state = self.liar.state_of(self.selected)
        if not state.container_id:
            # QA: s on a removed container only said to bring the whole stack up; start means
            # "make it run", as lazydocker's up on a compose service does: up -d SVC
            self.liar.run_service_action("up", self.selected)
            return
        self.liar.run_service_action("stop" if state.running or state.state == "restarting" else "start", self.selected)

    def action_shell(self) -> None:
        self.liar.open_shell(self.selected)

    def action_health(self) -> None:
        from .health import HealthScreen

        self.app.push_screen(HealthScreen(self.liar.state_of(self.selected)))
        self.liar.inspect_health(self.selected)
        self.liar.trigger_probes(now=True)  # fresh figures for the view

    def action_activity(self) -> None:
        self.liar.open_activity()

    def action_backups(self) -> None:
        self.liar.open_backups()

    def action_backup_service(self) -> None:
        self.liar.start_backup_job("backup", (self.selected,))

    def action_backup_all(self) -> None:
        self.liar.start_backup_job("backup", self.liar.backup_services)

    def action_toggle_autoheal(self) -> None:
        self.liar.action_toggle_autoheal()

    def action_select(self, service: str) -> None:
        self.services.select(service)

    def action_up(self) -> None:
        self.liar.bring_up()

    def action_down(self) -> None:
        if self.elsewhere:
            # the dialog would name this copy's data folder and ask for the project name, only
            # for the stack to refuse afterwards (QA)
            self.notify(self.elsewhere, severity="error", timeout=8)
            return

        def done(choice: str | None) -> None:
            if choice is not None:
                self.liar.bring_down(volumes=choice == "volumes")

        self.app.push_screen(ConfirmDownScreen(self.project_name, self.liar.project.data_dir), done)

    # -- log actions ---------------------------------------------------------------------------
    def action_search(self) -> None:
        self.logs.search.add_class("-active")
        # focus once it is displayed (a hidden widget cannot take focus)
        self.call_after_refresh(self.logs.search.query_one(Input).focus)

    @on(SearchBar.Changed)
    def _search_changed(self, message: SearchBar.Changed) -> None:
        self.log_view.set_search(message.text)
        self.refresh_bindings()

    @on(SearchBar.Submitted)
    def _search_submitted(self) -> None:
        self.log_view.goto_match(forward=True)
        self.log_view.focus()

    @on(SearchBar.Closed)
    def _search_closed(self) -> None:
        if not self.log_view.search_text:
            self.logs.search.remove_class("-active")
        self.log_view.focus()

    @on(SearchBar.OptionToggled)
    def _search_option(self, message: SearchBar.OptionToggled) -> None:
        if message.option == "regex":
            self.action_toggle_regex()
        else:
            self.action_toggle_case()

    def action_next_match(self) -> None:
        self.log_view.goto_match(forward=True)

    def action_previous_match(self) -> None:
        self.log_view.goto_match(forward=False)

    def action_only_matching(self) -> None:
        self.log_view.set_only_matching(not self.log_view.only_matching)

    def action_toggle_case(self) -> None:
        view = self.log_view
        view.set_search(view.search_text, case=not view.search_case)
        self.logs.search.set_flags(view.search_regex, view.search_case)

    def action_toggle_regex(self) -> None:
        view = self.log_view
        view.set_search(view.search_text, regex=not view.search_regex)
        self.logs.search.set_flags(view.search_regex, view.search_case)

    def action_toggle_follow(self) -> None:
        self.log_view.set_follow(not self.log_view.follow)

    def action_toggle_timestamps(self) -> None:
        self.log_view.set_options(show_ts=not self.log_view.show_ts)
        self.logs.update_bar()

    def action_toggle_all_logs(self) -> None:
        self.liar.logs_all = not self.liar.logs_all
        self.liar.follow_logs()

    def action_log_range(self) -> None:
        def done(rng: LogRange | None) -> None:
            if rng is not None:
                self.liar.log_range = rng
                self.liar.follow_logs()

        self.app.push_screen(LogRangeScreen(self.liar.log_range), done)

    def action_save_log(self) -> None:
        # QA: `2` then `w` at once saved postgres's lines as "...-redis-....log": the view
        # switches 0.15 s after a selection (_selected). Switch now, and save what it loads.
        if not self.liar.logs_all and self.logs.target != self.selected:
            if self._follow_timer is not None:
                self._follow_timer.stop()
            self.liar.follow_logs()
        if self.log_view.backlog_loading:
            if not self._save_pending:
                self._save_pending = True
                self.set_timer(SAVE_LOAD_WAIT, self.log_loaded)  # an engine gone meanwhile: no backlog comes
            return
        self._save_pending = False
        self._open_save_dialog()

    def log_loaded(self) -> None:
        """The log view's backlog is in (or SAVE_LOAD_WAIT passed): a save asked for meanwhile opens."""
        if self._save_pending:
            self._save_pending = False
            self._open_save_dialog()

    def _open_save_dialog(self) -> None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        target = "all" if self.liar.logs_all else self.logs.target  # what the view holds
        default = Path.cwd() / f"liar-tui-{self.project_name}-{target}-{stamp}.log"

        # the lines as they are now: the dialog may stay open a while (an existing file, an error)
        lines, show_ts, show_service = self.log_view.visible_lines(), self.log_view.show_ts, self.log_view.show_service

        def save(path: Path, overwrite: bool, dialog: SaveLogScreen) -> None:
            self.liar.save_log(path, lines, show_ts, show_service, overwrite=overwrite, dialog=dialog)

        self.app.push_screen(SaveLogScreen(default, len(lines), save))

    @property
    def zoomed(self) -> bool:
        return self.has_class("-zoomed")

    def action_zoom_logs(self) -> None:
        self.set_zoom(not self.zoomed)

    def set_zoom(self, zoomed: bool) -> None:
        """The log takes the services' rows too (more lines at 80x24); the selection stays."""
        self.set_class(zoomed, "-zoomed")
        if zoomed and self.focused is self.services:
            self.log_view.focus()  # the hidden table cannot keep the focus
        self._show_selected_status()

    def _show_selected_status(self) -> None:
        """Zoomed, the log bar says what the hidden table would: the selected service's status."""
        status: tuple[str, Text] | None = None
        if self.zoomed:
            word, style = status_word(self.liar.state_of(self.selected), self.liar.engine_connected)
            status = (self.selected, Text(word, style=style))
        if status != self.logs.selected_status:
            self.logs.selected_status = status
            self.logs.update_bar()

    # -- navigation ---------------------------------------------------------------------------
    def action_log_scroll(self, how: str) -> None:
        """The services list's PgUp/PgDn/g/G: the log view's own action, run from beside it."""
        if how in ("page_up", "page_down", "scroll_home", "scroll_end"):
            getattr(self.log_view, f"action_{how}")()

    def action_switch_focus(self) -> None:
        if self.zoomed:  # the services are hidden: show them and go there
            self.set_zoom(False)
            self.services.focus()
        elif self.focused is self.services:
            self.log_view.focus()
        else:
            self.services.focus()

    def action_back(self) -> None:
        if self.zoomed:
            self.set_zoom(False)
        if self.focused is not self.services:
            self.services.focus()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.key_rows()))

    def action_quit(self) -> None:
        self.liar.action_quit_console()

    def key_rows(self) -> list[KeyRow]:
        # screens (and their widgets: RichLog, DataTable, ProgressBar) load on first use
        from .activity import ActivityScreen
        from .backups import BackupsScreen, JobScreen, QuitDuringJobScreen, RestoreConfirmScreen, SetsTable
        from .health import HealthScreen
        from .modals import ConfirmDownScreen, HelpScreen, LogRangeScreen, SaveLogScreen

        keymap = self.liar.keymap
        sections: list[tuple[str, list]] = [
            ("Service", [b for b in self.BINDINGS if isinstance(b, Binding) and (b.id or "").startswith("service.")]),
            ("Stack", [b for b in self.BINDINGS if isinstance(b, Binding) and (b.id or "").startswith(("stack.", "autoheal."))]),
            ("Backups", [b for b in self.BINDINGS if isinstance(b, Binding) and (b.id or "").startswith("backup.")]),
            ("Views", [b for b in self.BINDINGS if isinstance(b, Binding) and (b.id or "").startswith("view.")]),
            ("Services list", list(ServicesPanel.BINDINGS)),
            ("Logs", [b for b in self.BINDINGS if isinstance(b, Binding) and (b.id or "").startswith("logs.")]),
            ("Log view", list(LogView.BINDINGS)),
            ("Search box", list(SearchBar.BINDINGS)),
            ("Navigation", [b for b in self.BINDINGS if isinstance(b, Binding) and (b.id or "").startswith(("focus.", "app."))]),
            ("App", list(self.liar.BINDINGS)),
            ("Health view", list(HealthScreen.BINDINGS)),
            ("Activity view", [b for b in ActivityScreen.BINDINGS if isinstance(b, Binding) and b.id != "autoheal.toggle"]),
            ("Backups view", list(BackupsScreen.BINDINGS) + list(SetsTable.BINDINGS) + list(JobScreen.BINDINGS) + list(RestoreConfirmScreen.BINDINGS)
             + list(QuitDuringJobScreen.BINDINGS)),
            ("Dialogs", list(ConfirmDownScreen.BINDINGS) + list(SaveLogScreen.BINDINGS) + list(LogRangeScreen.BINDINGS)
             + list(HelpScreen.BINDINGS)),
        ]
        rows: list[KeyRow] = []
        for name, bindings in sections:
            rows.extend(rows_from(name, bindings, keymap))
        return rows
