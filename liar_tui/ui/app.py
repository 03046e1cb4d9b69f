"""The liar-tui console: a Textual app over the stack layer.

Threads and workers never touch widgets. StackMonitor's callbacks (state from the engine's event
stream, stats from one stream per container, engine status) and the LogFollower's batches are
posted as messages; compose actions run in thread workers that post ActionProgressed and
ActionFinished. Handlers on the app thread hand the facts to the main screen, which renders them.
State changes render at once; stats, uptime and the host bar repaint once per refresh interval.

Deep health runs beside that, started after the first frame: a ProbeRunner (its own thread, a
round every PROBE_INTERVAL seconds; held only until the launch's `up` is done), a drift check in a
worker as soon as a file or container it compares changes (looked at every DRIFT_INTERVAL s), the bucket
bootstrap after the console's own `up`, and the AutoHealer (off unless toggled or configured).
Everything that happens is recorded in the ActivityLog (ConsoleWiring) and shown by the activity
view (`A`).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import App, ScreenStackError, SuspendNotSupported, SystemCommand
from textual.binding import Binding
from textual.color import Color as TColor
from textual.filter import Monochrome, monochrome_style

from ..config import Settings
from ..stack.errors import StackError
from ..stack.logs import LogBatch, LogFollower, LogLine, LogRange
from ..stack.model import BACKUP_DIR_ENV, SERVICES, ActionResult, ProcessRow, ServiceState, StatsSample, format_bytes
from ..stack.monitor import EngineStatus
from ..stack.project import Project
from ..stack.shell import SHELL_LABELS, ShellHungUp, hung_up_note, run_shell
from ..term import job_control_shell, silence_terminal
from .commands import ConsoleCommands
from .heap import BurstHeap, release_free_memory, tidy
from .textual_fixes import size_dumb_console, unpin_styles_caches
from .heap import freeze as freeze_heap
from .keys import effective_keys
from .messages import (
    ActionFinished,
    ActionProgressed,
    ActivityHistoryLoaded,
    ActivityRecorded,
    AutohealStepped,
    BackupJobFinished,
    BackupProgressed,
    BackupSetsListed,
    BucketCreated,
    BucketsEnsured,
    DeepHealthStarted,
    DriftChecked,
    EngineStatusChanged,
    HealthInspected,
    LogLinesArrived,
    LogSaved,
    ServiceProbed,
    ServiceStateChanged,
    TerminalGone,
)
from .relay import MonitorRelay
from .render import EngineLine, HostSample, render_host_bar
from .screens.main import MainScreen
from .screens.modals import HelpScreen
from .wiring import ConsoleWiring

#: Seconds between probe rounds while their results are on screen (markers or the health view).
PROBE_INTERVAL = 10.0
#: Seconds between looks at what a drift check compares (the compose files', .env's and
#: nginx.conf's mtimes, the containers): a few stats; the check itself runs only when one of them
#: changed (wiring.drift_due), so an edit shows within this long (`liar-tui status` shows it at once).
DRIFT_INTERVAL = 2.0
#: At most this many seconds a drift check waits for a log burst to end (_wait_out_burst).
DRIFT_BURST_WAIT = 30.0
#: After launch, deep health waits this long: the first frame and the engine's state come first.
DEEP_HEALTH_DELAY = 0.5
#: A log batch this large means a burst: full collections are held back (ui/heap.py) until
#: HEAP_SETTLE_AFTER seconds after the last one; then freed heap goes back to the OS.
HEAP_SETTLE_BATCH = 1000
HEAP_SETTLE_AFTER = 3.0
#: A view closed this long ago has been let go of: collect it and release the freed heap.
VIEW_TIDY_AFTER = 1.0
#: The signals that end the console as a quit does (end_unasked), and what the activity log says.
UNASKED_WHY: dict[int, str] = {signal.SIGHUP: "its terminal went away (SIGHUP)", signal.SIGTERM: "SIGTERM"}
#: State changes come in bursts (die, start, health_status): one probe round after the burst.
PROBE_TRIGGER_DELAY = 1.0
#: Autoheal steps that deserve a notification (the others go to the activity line and view).
_LOUD_STEPS = {"restarting": "warning", "restart-failed": "error", "gave-up": "error", "recovered": "information",
               "inherited": "information",  # the counts of the liar-tui that healed before
               "standby": "information"}  # another liar-tui heals this project

_DEFAULT = object()

unpin_styles_caches()  # a Textual bug kept removed widgets' render caches alive (textual_fixes.py)


class MonitorLike(Protocol):
    """What the app needs from StackMonitor (tests pass a fake with fixed data)."""

    def start(self) -> Any: ...
    def stop(self) -> None: ...
    def states(self) -> dict[str, ServiceState]: ...
    def state(self, service: str) -> ServiceState: ...
    def history(self, service: str) -> list[StatsSample]: ...
    def refresh(self, service: str) -> ServiceState: ...
    def processes(self, service: str) -> list[ProcessRow] | None: ...
    def container_config(self, service: str) -> Any: ...


MonitorFactory = Callable[..., MonitorLike]
FollowerFactory = Callable[..., Any]
Clock = Callable[[], tuple[datetime, float]]


def default_clock() -> tuple[datetime, float]:
    return datetime.now(timezone.utc), time.time()


def sample_host(path: Path) -> HostSample:
    """Host CPU, load, memory and free disk of the data folder (psutil reads /proc; no subprocess)."""
    import psutil

    vm = psutil.virtual_memory()
    target = path
    while not target.exists() and target != target.parent:
        target = target.parent
    disk = psutil.disk_usage(str(target))
    return HostSample(
        cpu_percent=psutil.cpu_percent(interval=None),
        load=os.getloadavg(),
        mem_used=vm.total - vm.available,
        mem_total=vm.total,
        disk_free=disk.free,
        disk_total=disk.total,
    )


def format_log_line(line: LogLine, show_ts: bool, show_service: bool) -> str:
    parts = []
    if show_ts:
        parts.append(line.ts or "-")
    if show_service:
        parts.append(f"{line.service:<8}")
    parts.append(line.text)
    return " ".join(parts)


def write_log_file(path: Path, lines: Iterable[str], overwrite: bool = False) -> bool:
    """Write `lines` to `path` (mode 0600) through a temporary file in the same folder, renamed
    into place: a failed write never leaves a half-written file, at `path` or beside it. An
    existing `path` is replaced only with `overwrite`; without it, returns False and writes nothing."""
    if path.exists() and not path.is_file() and not path.is_dir():
        # a device, a pipe, a socket: the rename would put a file in its place (QA: /dev/null's
        # like, as root, became a regular file). Said before offering to overwrite it.
        raise OSError(f"{path} is not a regular file: pick another name")
    if not overwrite and (path.exists() or path.is_symlink()):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for line in lines:
                fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if a file appeared meanwhile: never replaced unasked
            except FileExistsError:
                return False
            except OSError:
                if path.exists() or path.is_symlink():
                    return False
                os.replace(tmp, path)  # a file system without hard links
    finally:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
    return True


#: The backup layer's fixes name the headless flag, which the console does not take.
_BACKUP_DIR_FLAG = re.compile(rf"--backup-dir \(or {BACKUP_DIR_ENV}\)")
_PASS_BACKUP_DIR = re.compile(r"\bpass --backup-dir\b")


def console_wording(text: str) -> str:
    """A backup message as the console can act on it: the backup folder is chosen by
    LIAR_TUI_BACKUP_DIR when the console starts (`--backup-dir` is the backup commands' flag)."""
    text = _BACKUP_DIR_FLAG.sub(f"{BACKUP_DIR_ENV}=DIR (set it when starting liar-tui)", text)
    return _PASS_BACKUP_DIR.sub(f"set {BACKUP_DIR_ENV} when starting liar-tui", text)


class ReadableMonochrome(Monochrome):
    """NO_COLOR: Textual's Monochrome turns each colour into its grey, so red text on a dark
    background became grey 59 on grey 28 (QA: the backups view's 'verify failed', the main view's
    'unhealthy'). The same greys, but text too close to its background is moved away from it."""

    MIN_CONTRAST = 0.45  # brightness apart (0-1): muted text (#999 on #121212) is 0.53

    def apply(self, segments: list[Segment], background: TColor) -> list[Segment]:
        out = []
        for text, style, control in segments:
            out.append(Segment(text, None if style is None else _readable_grey(style, background), control))
        return out


@lru_cache(1024)
def _readable_grey(style: Style, background: TColor) -> Style:
    mono = monochrome_style(style)
    if mono.color is None or mono.color.is_default:
        return mono
    try:
        fg = TColor.from_rich_color(mono.color)
        bg = TColor.from_rich_color(mono.bgcolor) if mono.bgcolor is not None and not mono.bgcolor.is_default else background
    except Exception:  # noqa: BLE001 - a colour we cannot read stays as Monochrome made it
        return mono
    if mono.reverse:
        fg, bg = bg, fg
    if abs(fg.brightness - bg.brightness) >= ReadableMonochrome.MIN_CONTRAST:
        return mono
    grey = 0.85 if bg.brightness < 0.5 else 0.15
    level = round(grey * 255)
    moved = TColor(level, level, level).rich_color
    return mono + (Style(bgcolor=moved) if mono.reverse else Style(color=moved))


#: Clear the screen and its scrollback, cursor home (before a shell gets the terminal).
CLEAR_TERMINAL = "\x1b[H\x1b[2J\x1b[3J"


def terminal_write(text: str) -> None:
    """Write to the real terminal while the console is suspended (a shell is about to run)."""
    sys.stdout.write(text)
    sys.stdout.flush()


class LiarApp(App[int]):
    """`liar-tui`: panes for postgres, redis, nginx and minio, their logs, and lifecycle actions."""

    TITLE = "liar-tui"
    COMMANDS = App.COMMANDS | {ConsoleCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="app.force-quit", show=False, priority=True, tooltip="Quit (from anywhere)"),
        Binding("ctrl+p", "command_palette", "Commands", id="app.commands", show=False, priority=True, tooltip="Command palette: every action"),
        # k9s's command mode: not a priority key, so a search or a file name still takes a ':'
        Binding("colon", "command_palette", "Commands", id="app.command-mode", show=False,
                tooltip="Command palette (k9s's command mode)"),
        Binding("ctrl+z", "suspend_console", "Suspend", id="app.suspend", show=False, priority=True,
                tooltip="Suspend to the shell (fg brings the console back)"),
    ]

    def __init__(
        self,
        project: Project,
        settings: Settings | None = None,
        *,
        monitor_factory: MonitorFactory | None = None,
        follower_factory: FollowerFactory | None = LogFollower,
        host_sampler: Callable[[Path], HostSample] | None = sample_host,
        clock: Clock = default_clock,
        stack_factory: Callable[[Project], Any] | None = None,
        monitor: MonitorLike | None = None,
        relay: MonitorRelay | None = None,
        wiring: ConsoleWiring | None = None,
        probe_factory: Any = _DEFAULT,
        drift_check: bool = True,
        activity: Any = None,
        driver_class: type | None = None,
    ) -> None:
        super().__init__(driver_class=driver_class)
        size_dumb_console(self.console)  # TERM=dumb: else a resize loop (textual_fixes.py)
        # NO_COLOR: greys, but text never as dark as its background (ReadableMonochrome)
        self._filters = [ReadableMonochrome() if type(f) is Monochrome else f for f in self._filters]
        self.project = project
        self.settings = settings or Settings()
        self.keymap: dict[str, str] = dict(self.settings.keys)
        self.redact = project.redactor()
        self.clock = clock
        self._follower_factory = follower_factory
        self._host_sampler = host_sampler
        # Monitor, activity log, autohealer and the compose Stack: built before Textual was
        # imported (cli.open_console), or here (the monitor itself is made on mount).
        self.wiring = wiring or ConsoleWiring(
            project,
            self.settings,
            monitor=monitor,
            monitor_factory=monitor_factory,
            relay=relay,
            stack_factory=stack_factory,
            activity=activity,
        )
        self.monitor: MonitorLike | None = self.wiring.monitor
        self._relay = self.wiring.relay
        # `None`: no probes (tests with fixed data); the default imports ProbeRunner after the first frame.
        self._probe_factory = probe_factory
        self._probe_runner: Any = None
        self._probe_trigger: Any = None
        self._hidden: set[str] = set()  # why the panes are not on screen (activity view, shell, ...)
        self._probes_unneeded: set[str] = set()  # why nothing on screen shows probe results
        self._drift_enabled = drift_check
        self._drift_lock = threading.Lock()
        self._drift_again = False
        self._drift_reported: dict[str, str] = {}  # service -> fix last announced
        #: what the views show: the latest probe result and drift info per service
        self.probes: dict[str, Any] = {}
        self.drift: dict[str, Any] = {}
        self.activity_screen: Any = None
        self._activity_error = ""  # the activity log's write error last told
        self._activity_generation = 0
        self._activity_stop: threading.Event | None = None
        self._activity_unsubscribe: Callable[[], None] | None = None
        self._autoheal_wanted: bool | None = None
        self.backup_job: Any = None  # the running backup/verify/restore (one at a time)
        self.job_screen: Any = None
        self.backups_screen: Any = None
        self.engine_status: EngineStatus | None = None
        self.busy: dict[str, str] = {}  # service or "stack" -> running action
        self.logs_all = False
        self.log_range = LogRange(tail=self.settings.log_tail)
        self._follower: Any = None
        self._log_generation = 0
        self._heap_timer: Any = None
        self._tidy_timer: Any = None
        self._heap = BurstHeap()
        self._accepting = False
        self._suspended = False
        self._up_pending = self.settings.up
        if self._up_pending:
            # No probe rounds until the launch's `up` is done: they would only find the services
            # down or starting and write that into the activity log as alarms.
            self._probes_unneeded.add("launch-up")
        self._host: HostSample | None = None
        self._cleaned = False
        self._quitting = threading.Event()
        self._quit_pending = False  # quit when the running backup job and compose actions end (request_quit)
        self._quit_message = ""  # said on the terminal the console leaves, when a pending quit happens
        self._ending = ""  # why the console ends without being asked by a key (end_unasked)
        self._exit_code = 0
        self._children_stopped_at: float | None = None  # when cleanup stopped compose (a running action)
        self._signals: tuple[int, ...] = ()
        self.main = MainScreen(self.settings.log_lines, project.name)

    # -- startup ------------------------------------------------------------------------------
    def get_default_screen(self) -> MainScreen:
        return self.main

    def get_system_commands(self, screen: Any) -> Iterable[SystemCommand]:
        # The palette's "Keys" opens our help (every key of every view, esc closes it), not
        # Textual's key panel: that one squeezed the services table and esc did not close it.
        for command in super().get_system_commands(screen):
            if command.title != "Keys":
                yield command
        if not isinstance(screen, HelpScreen):
            yield SystemCommand("Keys", "Every key of every view and dialog (also ? or f1)", self.main.action_help)

    def on_mount(self) -> None:
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        else:
            source = {"cli": "--theme", "env": "LIAR_TUI_THEME", "file": "config.toml"}.get(
                (self.settings.sources or {}).get("theme", ""), "the settings")
            self.notify(f"unknown theme {self.settings.theme!r} (from {source}): using {self.theme}; "
                        f"available: {', '.join(sorted(self.available_themes))}", severity="warning")
        if self.keymap:
            self.set_keymap(self.keymap)
        fix_keys = {"recreate": self.key_for("service.recreate"), "restart": self.key_for("service.restart")}
        for pane in self.main.services.panes:
            pane.fix_keys = fix_keys
        self._catch_signals()
        self.app_resume_signal.subscribe(self, self._repaint_after_stop)
        # Callbacks may post from here on; anything earlier is covered by reading states() below.
        self._accepting = True
        # No stats callback: the monitor keeps the history and the panes read it on the refresh
        # tick (a message per sample woke the event loop four times a second for nothing).
        self._relay.attach(self._state_callback, self._engine_callback, self._step_callback)
        if self.monitor is None:
            self.monitor = self.wiring.make_monitor()
            self.monitor.start()
        status = getattr(self.monitor, "engine_status", None)
        if status is not None and (status.connected or status.error):
            # Connected, or already failed (the monitor says so once, maybe before we listened).
            self._apply_engine(status, first=True)
        else:
            self.main.show_engine(None)
        for state in self.monitor.states().values():
            self.main.show_state(state)
            self._check_elsewhere(state)
        self.follow_logs()
        self._render_host_bar()
        if not self.settings.up:
            up_key = self.key_for("stack.up") or "u"
            self.main.show_activity(Text(f"watching {self.project.name} (--no-up: not bringing it up; {up_key} brings it up)", style="dim"))
        # psutil loads after the first frame: the services come first.
        self.set_timer(0.1, lambda: self._render_host_bar(sample=True))
        self.set_interval(self.settings.refresh, self._tick)
        # Probes (psycopg, redis, minio: ~0.5 s of imports), drift and autoheal after the first frame.
        self.set_timer(DEEP_HEALTH_DELAY, self._start_deep_health)
        # The first frame's objects (Textual's tree, styles, modules) live as long as the app: out
        # of the collector's sight from here on (again once deep health has loaded its modules).
        self.call_after_refresh(freeze_heap)

    # -- thread callbacks: hand over and return -----------------------------------------------
    def _state_callback(self, state: ServiceState) -> None:
        if self._accepting:
            self.post_message(ServiceStateChanged(state))

    def _engine_callback(self, status: EngineStatus) -> None:
        if self._accepting:
            self.post_message(EngineStatusChanged(status))

    def _log_batch_callback(self, batch: LogBatch) -> None:
        self.post_message(LogLinesArrived(batch))

    def _step_callback(self, step: Any) -> None:
        if self._accepting:
            self.post_message(AutohealStepped(step))

    def _probe_callback(self, result: Any) -> None:
        if self._accepting:
            self.post_message(ServiceProbed(result))

    def _probe_change_callback(self, previous: Any, current: Any) -> None:
        self.wiring.on_probe(current)  # a probe alarm (or recovery) for the activity log

    def _activity_callback(self, entry: Any) -> None:
        if self._accepting:
            self.post_message(ActivityRecorded(entry))

    # -- facts for widgets --------------------------------------------------------------------
    @property
    def engine_connected(self) -> bool:
        return bool(self.engine_status and self.engine_status.connected)

    def state_of(self, service: str) -> ServiceState:
        return self.monitor.state(service) if self.monitor is not None else ServiceState(service=service)

    def history(self, service: str) -> Sequence[StatsSample]:
        return self.monitor.history(service) if self.monitor is not None else ()

    @property
    def probes_running(self) -> bool:
        return self._probe_runner is not None

    @property
    def autoheal_on(self) -> bool:
        return self.wiring.autoheal_enabled

    @property
    def autoheal_standby(self) -> bool:
        """Autoheal is on here, but another liar-tui heals this project (it holds the lock)."""
        healer = self.wiring.healer
        return bool(healer is not None and healer.standby)

    @property
    def autoheal_policy(self) -> Any:
        return self.wiring.policy

    def autoheal_status(self, service: str) -> Any:
        try:
            return self.wiring.autoheal_status(service)
        except Exception:  # noqa: BLE001
            return None

    def not_running_reason(self, services: Sequence[str], what: str) -> str:
        """Why `what` ("a backup", "a restore") cannot run now: the services of `services` that
        are not running, and the key that starts one ('' when all run). Said before a job starts,
        in the console's words (the stack layer's own error names the headless command)."""
        down = [s for s in services if not self.state_of(s).running]
        if not down:
            return ""
        one = len(down) == 1
        return (f"{', '.join(down)} {'is' if one else 'are'} not running: {what} needs {'it' if one else 'them'} "
                f"running ({self.key_for('service.toggle')} in the main view starts the selected service)")

    def key_for(self, binding_id: str, screen: type[Any] | None = None) -> str:
        """The key(s) a binding has now (after the keymap), for hints: 'R', 'ctrl+a'. Looked up
        in the main screen's bindings, or `screen`'s."""
        for binding in (screen or MainScreen).BINDINGS:
            if isinstance(binding, Binding) and binding.id == binding_id:
                return effective_keys(binding, self.keymap)
        return ""

    # -- message handlers ---------------------------------------------------------------------
    def on_service_state_changed(self, message: ServiceStateChanged) -> None:
        self.main.show_state(message.state)
        self._check_elsewhere(message.state)
        if self._follower is not None:
            self._follower.update_state(message.state)
        screen = self.health_view
        if screen is not None and screen.service == message.state.service:
            screen.show(message.state)  # the monitor inspected it: its checks and the time are new
        self.trigger_probes()

    def _check_elsewhere(self, state: ServiceState) -> None:
        if not state.container_id:
            return
        other = self.project.made_elsewhere(state.working_dir)
        message = self.project.elsewhere_message(other) if other is not None else ""
        if message and not self.main.elsewhere:
            self.main.show_elsewhere(message)
        elif not message and self.main.elsewhere and self.monitor is not None:
            if all(self.project.made_elsewhere(s.working_dir) is None for s in self.monitor.states().values() if s.container_id):
                self.main.show_elsewhere("")  # replaced by this copy's own containers

    def on_engine_status_changed(self, message: EngineStatusChanged) -> None:
        self._apply_engine(message.status, first=self.engine_status is None)

    def _apply_engine(self, status: EngineStatus, first: bool = False) -> None:
        was = self.engine_connected
        self.engine_status = status
        self.main.show_engine(status.connected, status.error)
        if status.connected:
            if self.monitor is not None:
                for state in self.monitor.states().values():
                    self.main.show_state(state)
            if self._follower is not None:
                for state in (self.monitor.states().values() if self.monitor else ()):
                    self._follower.update_state(state)
                self._follower.wake()
            if not first and not was:
                self.notify("the Docker engine is back", severity="information")
                self.main.show_activity(Text("✓ reconnected to the Docker engine", style="green"))
            if self._up_pending:
                self._up_pending = False
                self.bring_up()
        else:
            if was or first:
                self.notify(status.error or "lost the Docker engine", severity="error", timeout=8)
            self.main.show_activity(Text(f"✗ {status.error or 'engine unreachable'}", style="red"))
        self._render_host_bar()

    def on_action_progressed(self, message: ActionProgressed) -> None:
        ev = message.event
        text = " ".join(x for x in (ev.resource, ev.status, ev.text if ev.text != ev.status else "") if x)
        then = " (then quitting)" if self._quit_pending and self.backup_job is None else ""
        self.main.show_activity(Text(f"⟳ {message.action}: {self.redact(text)}{then}", style="red" if ev.error else "yellow"))

    def on_action_finished(self, message: ActionFinished) -> None:
        result = message.result
        # a whole-stack up or down names no service; `s` on a service with no container is an up of it
        key = result.services[0] if result.services else "stack"
        self.busy.pop(key, None)
        summary = self.redact(result.summary())
        if self._quit_pending and self.backup_job is None:
            self._quit_when_idle(f"liar-tui: {'✓' if result.ok else '✗'} {summary}")
            return
        if result.ok:
            self.main.show_activity(Text(f"✓ {summary}", style="green"))
            self.notify(summary, timeout=4)
        else:
            self.main.show_activity(Text(f"✗ {summary}", style="bold red"))
            self.notify(summary, severity="error", timeout=10)
        self.main.refresh_bindings()
        if self.screen is not self.main:
            self.screen.refresh_bindings()  # a view's keys that waited for it (the Backups view's n)
        self._refresh_health_screen()
        if result.action == "up" and "launch-up" in self._probes_unneeded:
            self.show_panes("launch-up")  # probes resume with a round at once
        self.trigger_probes(now=True)
        # A recreate applies drift; an up may too: look again once the containers have settled.
        self.set_timer(1.5, lambda: self.check_drift(force=True))
        if result.ok and result.action == "up":
            self._buckets_worker()

    def on_health_inspected(self, message: HealthInspected) -> None:
        screen = self.health_view
        if screen is not None and screen.service == message.state.service:
            screen.show(message.state, message.processes, message.config)

    # -- deep health: probes, drift, buckets, autoheal, activity ------------------------------
    def on_service_probed(self, message: ServiceProbed) -> None:
        result = message.result
        self.probes[result.service] = result
        if result.service in self.main.services.services:
            self.main.services.pane(result.service).set_probe(result)
        self._refresh_health_screen(result.service, probes=True)

    def on_drift_checked(self, message: DriftChecked) -> None:
        self.drift = dict(message.drift)
        for service, info in self.drift.items():
            if service in self.main.services.services:
                self.main.services.pane(service).set_drift(info)
            fix = info.fix if info.drifted else ""
            if fix and self._drift_reported.get(service) != fix:
                key = self.key_for("service.recreate" if fix == "recreate" else "service.restart")
                self.notify(
                    f"{service} drifted: {'; '.join(info.reasons)}. {fix.capitalize()} to apply: select {service} and press {key}.",
                    title="drift",
                    severity="warning",
                    timeout=12,
                )
                self.main.show_activity(Text(f"⚠ {service}: drift: {fix} to apply ({key})", style="bold yellow"))
            self._drift_reported[service] = fix
        self._refresh_health_screen()

    def on_bucket_created(self, message: BucketCreated) -> None:
        self.main.show_activity(Text(f"✓ created bucket {message.name}", style="green"))
        self.notify(f"created bucket {message.name}", title="minio", timeout=5)

    def on_buckets_ensured(self, message: BucketsEnsured) -> None:
        report = message.report
        if not report.ok:
            self.main.show_activity(Text(f"✗ buckets: {report.error}", style="red"))
            self.notify(f"buckets: {report.error}", title="minio", severity="warning", timeout=10)
        elif report.created:
            self.main.show_activity(Text(f"✓ {'; '.join(report.lines())}", style="green"))
        if report.created:
            self.trigger_probes(now=True)

    def on_autoheal_stepped(self, message: AutohealStepped) -> None:
        step = message.step
        style = {"restarting": "yellow", "restarted": "green", "recovered": "green", "enabled": "green"}.get(step.action, "")
        if step.action in ("restart-failed", "gave-up", "error"):
            style = "bold red"
        self.main.show_activity(Text(f"autoheal: {step.text}", style=style or "dim"))
        if step.action == "restarting" and step.service in SERVICES:
            self.busy[step.service] = "autoheal restart"
        elif step.action in ("restarted", "restart-failed") and self.busy.get(step.service) == "autoheal restart":
            self.busy.pop(step.service, None)
            if self._quit_pending and self.backup_job is None:
                self._quit_when_idle()
                return
        severity = _LOUD_STEPS.get(step.action)
        if severity is not None:
            self.notify(step.text, title="autoheal", severity=severity, timeout=10)  # type: ignore[arg-type]
        elif step.action in ("enabled", "disabled"):
            self.notify(step.text, title="autoheal", timeout=6)
        self.main.refresh_bindings()
        self._render_host_bar()
        if self.activity_screen is not None:
            self.activity_screen.update_bar()
        self._refresh_health_screen(step.service)

    def on_activity_recorded(self, message: ActivityRecorded) -> None:
        if self.activity_screen is not None:
            self.activity_screen.add(message.entry)

    def on_activity_history_loaded(self, message: ActivityHistoryLoaded) -> None:
        if self.activity_screen is not None and message.generation == self._activity_generation:
            self.activity_screen.load_history(message.entries)

    @property
    def health_view(self) -> Any:
        """The health view when it is the screen on top (screens/health.py loads on first use).
        None too while the app closes: the 1 Hz tick can come after the last screen has gone
        (CI: ScreenStackError from the tick, raised out of the test's run)."""
        try:
            screen = self.screen
        except ScreenStackError:
            return None
        return screen if getattr(screen, "is_health_view", False) else None

    def _refresh_health_screen(self, service: str | None = None, probes: bool = False) -> None:
        screen = self.health_view
        if screen is not None and (probes or service is None or service in (screen.service, "-", "")):
            screen.redraw()

    def on_log_lines_arrived(self, message: LogLinesArrived) -> None:
        batch = message.batch
        if batch.generation != self._log_generation:
            return  # from a follower that was replaced
        view = self.main.log_view
        if batch.backlog:
            view.backlog_loading = False
        if view.flooding != batch.flooding:
            view.flooding = batch.flooding
            self.main.logs.update_bar()
        view.add_lines(batch.lines, batch.dropped, batch.replace)
        if len(batch.lines) >= HEAP_SETTLE_BATCH or batch.flooding:
            # A burst: no full collection in the way of a key press until it is over; then the
            # full collections run again and the freed heap goes back to the OS.
            self._heap.burst()
            if self._heap_timer is not None:
                self._heap_timer.stop()
            self._heap_timer = self.set_timer(HEAP_SETTLE_AFTER, self._heap.settle)
        if batch.backlog:
            self.main.logs.update_bar()
            self.main.log_loaded()
        follower = self._follower
        if follower is not None:
            # The next batch may come once this one is on screen: a burst cannot queue repaints
            # ahead of a key press.
            self.call_after_refresh(follower.ack)

    def on_log_saved(self, message: LogSaved) -> None:
        dialog = message.dialog
        open_dialog = dialog if dialog is not None and dialog.is_attached and dialog in self.screen_stack else None
        if message.exists or message.error:
            if open_dialog is not None:
                # The dialog stays: the name can be changed, or (exists) enter pressed again.
                open_dialog.save_refused(message.path, message.error, exists=message.exists)
                if message.error:
                    self.wiring.record("action", "", f"save log to {message.path} failed: {message.error}")
                return
            error = message.error or "the file exists (not overwritten)"
            self.notify(f"could not save the log to {message.path}: {error}", severity="error")
            self.main.show_activity(Text(f"✗ save log to {message.path}: {error}", style="red"))
            self.wiring.record("action", "", f"save log to {message.path} failed: {error}")
            return
        if open_dialog is not None:
            open_dialog.dismiss(message.path)
        self.notify(f"saved {message.lines:,} lines to {message.path}")
        self.wiring.record("action", "", f"saved {message.lines:,} log lines to {message.path}")
        self.main.show_activity(Text(f"✓ saved {message.lines:,} lines to {message.path}", style="green"))

    # -- periodic repaint (coalesced) ---------------------------------------------------------
    def _tick(self) -> None:
        self._heap.tick()
        self._check_activity_log()
        if self._hidden:
            return  # the panes are not on screen (activity view, a shell): nothing to repaint
        now_wall, now = self.clock()
        self.main.services.repaint_all(now_wall, now)
        self._render_host_bar(sample=True)
        health = self.health_view
        if health is not None:
            health.redraw_stats()

    def _check_activity_log(self) -> None:
        """Say once when the activity log stops being written (entries then live in memory only)."""
        log = getattr(self.wiring, "_activity", None)
        error = getattr(log, "write_error", "") if log is not None else ""
        if error and error != self._activity_error:
            self.notify(f"{error}: entries are kept in memory only (check that path's owner and permissions)",
                        title="activity log", severity="warning", timeout=12)
        if error != self._activity_error:
            self._activity_error = error
            if self.activity_screen is not None:
                self.activity_screen.update_bar()

    def render_host_bar(self) -> None:
        self._render_host_bar()

    def _render_host_bar(self, sample: bool = False) -> None:
        if sample and self._host_sampler is not None:
            try:
                self._host = self._host_sampler(self.project.data_dir)
            except Exception:  # noqa: BLE001 - a host figure is never worth a crash
                self._host = None
        status = self.engine_status
        if status is None:
            engine = EngineLine(connected=None)
        elif status.connected and status.info is not None:
            engine = EngineLine(True, status.info.address, status.info.version)
        else:
            engine = EngineLine(bool(status.connected), error=status.error)
        width = self.main.host_bar.content_size.width or self.size.width
        self.main.host_bar.set_text(render_host_bar(self.project.name, engine, self._host, width, self.autoheal_on,
                                                     self.autoheal_standby))

    # -- stack actions (thread workers; they post, never touch widgets) -------------------------
    def _stack(self) -> Any:
        return self.wiring.stack()  # actions run in a helper process (stack/actionhost.py)

    def _failure(self, action: str, services: tuple[str, ...], exc: BaseException, started: float) -> ActionResult:
        text = str(exc) if isinstance(exc, StackError) else f"{type(exc).__name__}: {exc}"
        return ActionResult(action, services, False, self.redact(text), time.monotonic() - started)

    def compose_conflict(self, service: str | None, *, compose: bool = True) -> str:
        """Why a compose action on `service` (None: up or down of the whole stack) must wait, in
        one line ('' when it need not). Up and down touch every service, so they wait for any
        action and any action waits for them; actions on different services run side by side.
        `compose=False` (a shell: docker exec, no compose) waits only for the service's own.
        QA: u pressed while R recreated postgres ran two composes on it: both failed ("No such
        container: <id>_liar-game-postgres") and postgres was left with no container at all."""
        if service is not None and service in self.busy:
            return f"{service} is busy ({self.busy[service]}): wait for it to finish"
        if "stack" in self.busy and compose:
            return f"the stack is busy ({self.busy['stack']}): wait for it to finish"
        if service is None and self.busy:
            return f"{' and '.join(self.running_compose())} running: wait for it to finish"
        return ""

    def job_conflict(self, services: tuple[str, ...]) -> str:
        """Why a backup, verify or restore of `services` must wait for a compose action ('' when
        it need not): a recreate or a down under it makes it fail half-way, and a restore stops
        and starts the services itself."""
        return next((c for s in services if (c := self.compose_conflict(s))), "")

    def _compose_may_run(self, service: str | None) -> bool:
        """Whether a compose action on `service` (None: the stack) may start now; says why not."""
        conflict = self.compose_conflict(service)
        if conflict:
            self.notify(conflict, severity="warning")
        return not conflict

    def run_service_action(self, action: str, service: str) -> None:
        if not self._compose_may_run(service):
            return
        self.busy[service] = action
        self.main.show_activity(Text(f"⟳ {action} {service}…", style="yellow"))
        self.main.refresh_bindings()
        self._service_action(action, service)

    @work(thread=True, exclusive=False, group="service-actions", exit_on_error=False)
    def _service_action(self, action: str, service: str) -> None:
        started = time.monotonic()
        try:
            method = {"up": "up_service"}.get(action, action)
            result = getattr(self._stack(), method)(
                service, on_progress=lambda ev: self.post_message(ActionProgressed(action, ev)))
        except Exception as exc:  # noqa: BLE001 - errors are data: shown, never a traceback
            result = self._failure(action, (service,), exc, started)
        self._record_result(service, result)
        self.post_message(ActionFinished(result))

    def bring_up(self) -> None:
        if not self._compose_may_run(None):
            return
        self.busy["stack"] = "up"
        self.main.show_activity(Text("⟳ up: bringing the stack up…", style="yellow"))
        self.main.refresh_bindings()
        self._up_worker()

    @work(thread=True, exclusive=True, group="stack", exit_on_error=False)
    def _up_worker(self) -> None:
        started = time.monotonic()
        result: ActionResult | None = None
        try:
            stack = self._stack()
            stack.preflight(ports=True)
            for item in stack.up_events():
                if isinstance(item, ActionResult):
                    result = item
                else:
                    self.post_message(ActionProgressed("up", item))
        except Exception as exc:  # noqa: BLE001
            result = self._failure("up", (), exc, started)
        if result is None:
            result = ActionResult("up", (), False, "compose ended without a result", time.monotonic() - started)
        self._record_result("", result)
        self.post_message(ActionFinished(result))

    def bring_down(self, volumes: bool = False) -> None:
        if not self._compose_may_run(None):
            return
        self.busy["stack"] = "down"
        what = "down and delete data" if volumes else "down"
        self.main.show_activity(Text(f"⟳ {what}…", style="yellow"))
        self.main.refresh_bindings()
        self._down_worker(volumes)

    @work(thread=True, exclusive=True, group="stack", exit_on_error=False)
    def _down_worker(self, volumes: bool) -> None:
        started = time.monotonic()
        try:
            result = self._stack().down(volumes=volumes, on_progress=lambda ev: self.post_message(ActionProgressed("down", ev)))
        except Exception as exc:  # noqa: BLE001
            result = self._failure("down", (), exc, started)
        self._record_result("", result)
        self.post_message(ActionFinished(result))

    def _record_result(self, service: str, result: ActionResult) -> None:
        """An action's result in the activity log: cut short when its compose came back after the
        console, ending, stopped it (cleanup)."""
        stopped = self._children_stopped_at
        cut = stopped is not None and time.monotonic() >= stopped
        self.wiring.record("action", service, result.cut_short_summary() if cut else result.summary())

    def inspect_health(self, service: str) -> None:
        self._inspect_worker(service)

    @work(thread=True, exclusive=True, group="inspect", exit_on_error=False)
    def _inspect_worker(self, service: str) -> None:
        if self.monitor is not None:
            state = self.monitor.refresh(service)
            self.post_message(HealthInspected(state, self.monitor.processes(service), self.monitor.container_config(service)))

    # -- deep health (started after the first frame) ------------------------------------------
    def _start_deep_health(self) -> None:
        if not self._cleaned:
            self._deep_health_worker()

    @work(thread=True, exclusive=True, group="deep-health", exit_on_error=False)
    def _deep_health_worker(self) -> None:
        """Off the UI thread: the recorder and the healer (reads .env), and the probe module."""
        self.wiring.start_deep_health()
        if self.settings.autoheal:
            self.wiring.record("autoheal", "", f"autoheal on at launch (setting `autoheal`): {self.wiring.healer.describe()}")
        if self._probe_factory is _DEFAULT:
            # imported here, not on the UI thread, and before the freeze below covers them
            from ..stack.probes import preload_clients

            preload_clients()
        self.post_message(DeepHealthStarted())

    def on_deep_health_started(self, message: DeepHealthStarted) -> None:
        if self._cleaned:
            return
        self._render_host_bar()
        self._start_probes()
        if self._drift_enabled:
            self.check_drift()
            # One long-lived thread looks every DRIFT_INTERVAL s: a Textual worker per look woke the
            # event loop with its state changes (+0.2-0.3% of a core at idle, measured).
            threading.Thread(target=self._drift_watch, name="drift-watch", daemon=True).start()
        # What start-up built (Textual's tree, the modules, the probe clients' libraries) stays
        # for good: the collector stops scanning it, so a full collection during a log burst
        # takes a few ms instead of 30-100. Then start-up's freed heap goes back to the OS (glibc).
        freeze_heap()
        self.set_timer(5.0, release_free_memory)

    def _start_probes(self) -> None:
        if self._probe_factory is None or self._probe_runner is not None or self.monitor is None:
            return
        factory = self._probe_factory
        if factory is _DEFAULT:
            from ..stack.probes import ProbeRunner  # the clients load in the runner's threads

            factory = ProbeRunner
        runner = factory(
            self.project,
            interval=PROBE_INTERVAL,
            states=self.monitor.states,
            on_result=self._probe_callback,
            on_change=self._probe_change_callback,
        )
        if self._probes_unneeded:
            runner.pause()
        self._probe_runner = runner
        runner.start()
        self._refresh_health_screen(probes=True)

    def trigger_probes(self, now: bool = False) -> None:
        """A probe round soon (state changes come in bursts: one round after the burst). While the
        probes are held (the launch's `up`), nothing runs: resuming runs a round."""
        runner = self._probe_runner
        if runner is None or self._probes_unneeded:
            return
        if now:
            runner.trigger()
            return
        if self._probe_trigger is None:
            def fire() -> None:
                self._probe_trigger = None
                if self._probe_runner is not None and not self._probes_unneeded:
                    self._probe_runner.trigger()

            self._probe_trigger = self.set_timer(PROBE_TRIGGER_DELAY, fire)

    def hide_panes(self, reason: str) -> None:
        """The panes are off screen (no repaint ticks). Probes keep running (the activity log records
        their alarms even while a shell or the backups view is open: a console left there overnight
        still says in the morning what went wrong)."""
        self._hidden.add(reason)

    def show_panes(self, reason: str) -> None:
        self._hidden.discard(reason)
        was_paused = bool(self._probes_unneeded)
        self._probes_unneeded.discard(reason)
        if was_paused and not self._probes_unneeded and self._probe_runner is not None:
            self._probe_runner.resume()  # runs a round at once: the markers are fresh again
        if not self._hidden:
            self._tick()

    @property
    def probes_paused(self) -> bool:
        return bool(self._probes_unneeded)

    def check_drift(self, force: bool = False) -> None:
        if self._drift_enabled and self.monitor is not None and not self._cleaned:
            self._drift_worker(force)

    def _drift_watch(self) -> None:
        while not self._quitting.wait(DRIFT_INTERVAL):
            if self._drift_enabled and self.monitor is not None and not self._cleaned:
                try:
                    self._drift_check(False)
                except Exception:  # noqa: BLE001 - a look that failed is tried again at the next
                    pass

    @work(thread=True, exclusive=False, group="drift", exit_on_error=False)
    def _drift_worker(self, force: bool) -> None:
        self._drift_check(force)

    def _drift_check(self, force: bool) -> None:
        """Runs in a thread: the drift worker (at start, forced after an action) or the watch."""
        if not self._drift_lock.acquire(blocking=False):
            # A forced check waits for the one in progress, then runs; a periodic look (every
            # DRIFT_INTERVAL) is not needed: the next one comes soon.
            self._drift_again = self._drift_again or force
            return
        try:
            while True:
                self._drift_again = False
                if not self._wait_out_burst():
                    return  # quitting
                states = self.monitor.states() if self.monitor is not None else {}
                if not self.wiring.drift_due(states, force):
                    return
                try:
                    drift = self.wiring.detect_drift(states)
                except Exception:  # noqa: BLE001 - detect_drift reports errors as data; anything else: try later
                    return
                self._record_drift(drift)
                self.post_message(DriftChecked(drift))
                if not self._drift_again:
                    return
                force = True
        finally:
            self._drift_lock.release()

    def _wait_out_burst(self) -> bool:
        """A drift check may run `docker compose config` (the docker CLI and its plugin, ~70 MB
        and ~0.1 s of CPU each time): not while a log burst holds the cores and the heap (bench:
        the launch's first check falling into a burst took the process tree from 75 to 120-141
        MB). Drift changes slowly; it waits until the burst is over, DRIFT_BURST_WAIT at most.
        False: the console is quitting (no check then)."""
        end = time.monotonic() + DRIFT_BURST_WAIT
        while self._heap.paused and time.monotonic() < end:
            if self._quitting.wait(0.25):
                return False
        return not self._quitting.is_set()

    def _record_drift(self, drift: dict[str, Any]) -> None:
        """Activity entries for drift transitions (runs in the drift worker)."""
        previous = getattr(self, "_drift_recorded", {})
        current = {}
        for service, info in drift.items():
            fix = info.fix if info.drifted else ""
            current[service] = fix
            if fix and previous.get(service) != fix:
                self.wiring.record("drift", service, f"{'; '.join(info.reasons)}: {fix} to apply")
            elif not fix and previous.get(service) and not info.error:
                self.wiring.record("drift", service, "matches the compose file and .env again")
        self._drift_recorded = current

    @work(thread=True, exclusive=True, group="buckets", exit_on_error=False)
    def _buckets_worker(self) -> None:
        """After the console's own `up`: create the expected MinIO buckets that are missing."""
        from ..stack.buckets import ensure_buckets

        def created(name: str) -> None:
            self.wiring.record("bucket", "minio", f"created bucket {name}")
            self.post_message(BucketCreated(name))

        report = ensure_buckets(self.project, on_created=created, cancel=self._quitting)
        if self._quitting.is_set():
            return  # quitting: nothing to say, in the activity log or on screen
        if not report.ok:
            self.wiring.record("bucket", "minio", f"could not check the buckets: {report.error}")
        self.post_message(BucketsEnsured(report))

    # -- autoheal -----------------------------------------------------------------------------
    def action_toggle_autoheal(self) -> None:
        """Autoheal on/off (enable()/disable() record a step, which is file I/O: in a worker)."""
        wanted = not (self._autoheal_wanted if self._autoheal_wanted is not None else self.autoheal_on)
        self._autoheal_wanted = wanted
        self._autoheal_worker()

    @work(thread=True, exclusive=False, group="autoheal", exit_on_error=False)
    def _autoheal_worker(self) -> None:
        # Applies the latest wish, not its own: rapid toggles settle on the last key press.
        wanted = self._autoheal_wanted
        if wanted is not None:
            self.wiring.set_autoheal(wanted)

    # -- the activity view --------------------------------------------------------------------
    def open_activity(self) -> None:
        if self.activity_screen is not None:
            return
        from .screens.activity import ActivityScreen  # RichLog & co. load on first use

        log = self.wiring.activity
        path = getattr(log, "path", None)
        label = self.project.rel(path) if path is not None else "not written to a file"
        screen = ActivityScreen(self.project.name, label)
        self.activity_screen = screen
        self._activity_generation += 1
        self.hide_panes("activity")  # it shows probe alarms as they happen
        self.push_screen(screen)
        self._activity_stop = threading.Event()
        self._activity_unsubscribe = log.subscribe(self._activity_callback)
        threading.Thread(
            target=self._activity_feed,
            args=(self._activity_generation, self._activity_stop),
            name="activity-feed",
            daemon=True,
        ).start()

    def view_closed(self) -> None:
        """Back on the main screen: once the closed view (activity, backups, help, a dialog) is
        garbage, give its memory back. Each view left ~1-4 MB of RSS behind; all of them opened
        once took the console from 68 to 80 MiB (QA, 80x24)."""
        if self._tidy_timer is not None:
            self._tidy_timer.stop()
        self._tidy_timer = self.set_timer(VIEW_TIDY_AFTER, tidy)

    def activity_closed(self, screen: Any) -> None:
        if self.activity_screen is screen:
            self.activity_screen = None
            self._stop_activity_feed()
            self.show_panes("activity")

    def _stop_activity_feed(self) -> None:
        if self._activity_unsubscribe is not None:
            self._activity_unsubscribe()
            self._activity_unsubscribe = None
        if self._activity_stop is not None:
            self._activity_stop.set()
            self._activity_stop = None

    def _activity_feed(self, generation: int, stop: threading.Event) -> None:
        """History from the file (and from memory: an entry the file could not take), then the
        entries other processes append to the file, until the view closes. A thread of its own:
        it lives as long as the view, and must not hold a worker slot."""
        from ..stack.activity import follow_entries, read_entries
        from .screens.activity import ACTIVITY_KEEP

        log = self.wiring.activity
        path = getattr(log, "path", None)
        size: int | None = None
        entries: list[Any] = []
        if path is not None:
            try:
                size = path.stat().st_size
            except OSError:
                size = 0
            entries = read_entries(path, ACTIVITY_KEEP, upto=size)
        seen = {e.to_line() for e in entries}
        extra = [e for e in log.entries() if e.to_line() not in seen]
        merged = sorted(entries + extra, key=lambda e: e.at)[-ACTIVITY_KEEP:]
        if stop.is_set():
            return
        self.post_message(ActivityHistoryLoaded(merged, generation))
        if path is None:
            return
        for entry in follow_entries(path, stop, offset=size):
            if stop.is_set() or not self._accepting:
                return
            self.post_message(ActivityRecorded(entry))

    # -- backups ------------------------------------------------------------------------------
    @property
    def backup_services(self) -> tuple[str, ...]:
        from ..stack.backup import BACKUP_SERVICES

        return BACKUP_SERVICES

    def _backup_manager(self) -> Any:
        from ..stack.backup import BackupManager

        # No Stack: the manager talks to the Engine API and the services' own protocols.
        return BackupManager(self.project)

    def start_backup_job(self, kind: str, services: tuple[str, ...], set_id: str = "") -> None:
        """Back up `services`, or verify / restore set `set_id`, in a worker; a modal shows progress."""
        from .screens.backups import BackupJob, JobScreen

        if self.backup_job is not None:
            self.notify(f"a {self.backup_job.kind} is running: one at a time", severity="warning")
            return
        conflict = self.job_conflict(tuple(services))
        if conflict:
            self.notify(conflict, severity="warning")
            return
        job = BackupJob(kind, tuple(services), set_id)
        self.backup_job = job
        self.job_screen = JobScreen(job, self.project.name)
        self.push_screen(self.job_screen)
        self.main.show_activity(Text(f"⟳ {kind} {', '.join(services)}{' ' + set_id if set_id else ''}…", style="yellow"))
        self.main.refresh_bindings()
        self._backup_worker(job)

    @work(thread=True, exclusive=False, group="backup", exit_on_error=False)
    def _backup_worker(self, job: Any) -> None:
        from ..stack.backup import BackupCancelled

        started = time.monotonic()
        service = job.services[0] if len(job.services) == 1 else ""
        if job.kind == "restore":
            # as headless does: a console ended mid-restore leaves this trace of a half restore
            self.wiring.record("action", service, f"restore {job.set_id} of {', '.join(job.services)} started")

        def progress(p: Any) -> None:
            self.post_message(BackupProgressed(job.id, p))

        try:
            mgr = self._backup_manager()
            if job.kind == "backup":
                bset = mgr.backup(job.services, progress=progress, cancel=job.cancel)
                job.set_id = bset.id
                parts = []
                for svc in bset.services:
                    extra = f" ({bset.meta['minio']['objects']} objects)" if svc == "minio" and "minio" in bset.meta else ""
                    parts.append(f"{svc} {format_bytes(sum(f.size for f in bset.files_of(svc)))}{extra}")
                job.text = f"backup {bset.id} complete: {', '.join(parts)} in {time.monotonic() - started:.1f}s"
                job.details = [str(bset.path)]
                job.ok = True
            elif job.kind == "verify":
                report = mgr.verify(job.set_id, progress=progress, cancel=job.cancel)
                job.details = [f"{mark:<4} {text}" for mark, text in report.check_lines()] + report.other_problems()
                job.ok = report.ok
                job.skipped = tuple(report.unchecked)
                job.failed = tuple(c.service for c in report.checks if not c.ok and c.service not in job.skipped)
                if report.ok:
                    job.text = f"verify {job.set_id}: OK in {report.seconds:.1f}s"
                elif report.unfinished:
                    job.unfinished = True
                    job.text = (f"verify {job.set_id}: not finished ({', '.join(report.unchecked)} not running: "
                                f"start the stack and verify again; the set is not marked failed)")
                else:
                    n = len(report.problems)
                    job.text = f"verify {job.set_id}: FAILED ({n} problem{'s' if n != 1 else ''})"
            else:
                result = mgr.restore(job.set_id, job.services, progress=progress)
                job.details = [r.summary for r in result.services]
                job.ok = True
                job.text = f"restore {job.set_id} ({', '.join(job.services)}) done in {result.seconds:.1f}s"
        except BackupCancelled as exc:
            job.cancelled = True
            job.text = self.redact(str(exc))
        except StackError as exc:
            job.text = console_wording(self.redact(str(exc)))
        except Exception as exc:  # noqa: BLE001 - errors are data: shown, never a traceback
            job.text = self.redact(f"{job.kind} failed: {type(exc).__name__}: {exc}")
        if not job.ok and not job.cancelled and not job.text.startswith(job.kind):
            job.text = f"{job.kind} {', '.join(job.services)} failed: {job.text}"
        job.done = True
        self.wiring.record("action", service, job.text)
        self.post_message(BackupJobFinished(job))

    def on_backup_progressed(self, message: BackupProgressed) -> None:
        screen = self.job_screen
        if screen is not None and screen.job.id == message.job_id and screen.is_mounted:
            screen.progressed(message.progress)

    def on_backup_job_finished(self, message: BackupJobFinished) -> None:
        from .screens.backups import QuitDuringJobScreen

        job = message.job
        if self.backup_job is job:
            self.backup_job = None
        mild = job.mild
        style = "green" if job.ok else ("yellow" if mild else "bold red")
        mark = "✓" if job.ok else ("■" if mild else "✗")
        if self._quit_pending:
            # asked for while it ran: the result is in the activity log, and said once more on
            # the terminal the console leaves
            self._quit_when_idle(f"liar-tui: {mark} {job.text}")
            return
        screen = self.job_screen
        if screen is not None and screen.job is job and screen.is_mounted:
            screen.finished()
        if isinstance(self.screen, QuitDuringJobScreen) and self.screen.job is job:
            self.screen.job_ended()
        self.main.show_activity(Text(f"{mark} {job.text}", style=style))
        if self.screen is not screen:
            # the job's dialog shows its result; a toast would only cover it (QA: '✗ backup dir
            # /tmp/qa2/full is ful▌')
            self.notify(job.text, title=job.kind, severity="information" if job.ok else ("warning" if mild else "error"),
                        timeout=8 if job.ok else 12)
        if self.backups_screen is not None:
            self.backups_screen.show_result(Text(f"{mark} {job.text}", style=style))
            self.list_backups(select=job.set_id if job.kind == "backup" and job.ok else "")
        self.main.refresh_bindings()
        if job.kind == "restore":
            self.trigger_probes(now=True)

    def open_backups(self) -> None:
        from .screens.backups import BackupsScreen

        if self.backups_screen is not None:
            return
        self.backups_screen = BackupsScreen(self.project.name)
        self.hide_panes("backups")
        self.push_screen(self.backups_screen)
        self.list_backups()

    def backups_closed(self, screen: Any) -> None:
        if self.backups_screen is screen:
            self.backups_screen = None
            self.show_panes("backups")

    def list_backups(self, select: str = "") -> None:
        self._list_backups_worker(select)

    @work(thread=True, exclusive=True, group="backup-list", exit_on_error=False)
    def _list_backups_worker(self, select: str = "") -> None:
        mgr = None
        try:
            mgr = self._backup_manager()
            sets = mgr.list()
            self.post_message(BackupSetsListed(sets, str(mgr.backup_dir), select=select))
        except Exception as exc:  # noqa: BLE001
            where = str(mgr.backup_dir) if mgr is not None else "?"
            self.post_message(BackupSetsListed([], where, console_wording(self.redact(str(exc)))))

    def on_backup_sets_listed(self, message: BackupSetsListed) -> None:
        if self.backups_screen is not None and self.backups_screen.is_mounted:
            self.backups_screen.show_sets(message.sets, message.backup_dir, message.error, message.select)

    # -- logs ---------------------------------------------------------------------------------
    def follow_logs(self) -> None:
        """(Re)start the one log follower of the view: the selected service or all of them."""
        if self._follower is not None:
            self._follower.stop(join=0)
            self._follower = None
        self._log_generation += 1
        services = SERVICES if self.logs_all else (self.main.selected,)
        panel = self.main.logs
        panel.target = "all services" if self.logs_all else self.main.selected
        panel.log_range = self.log_range
        view = panel.view
        view.clear()
        view.set_options(show_service=self.logs_all)
        if self._follower_factory is not None and self.monitor is not None:
            view.backlog_loading = True
            self._follower = self._follower_factory(
                services,
                self._log_batch_callback,
                containers=self.monitor.states(),
                log_range=self.log_range,
                max_lines=self.settings.log_lines,
                redact=self.redact,
                generation=self._log_generation,
            )
            self._follower.start()
        panel.update_bar()

    def save_log(self, path: Path, lines: list[LogLine], show_ts: bool, show_service: bool,
                 overwrite: bool = False, dialog: Any = None) -> None:
        """Write `lines` to `path` in a worker; an existing file is replaced only with `overwrite`."""
        self._save_worker(path, lines, show_ts, show_service, overwrite, dialog)

    @work(thread=True, exclusive=False, group="save", exit_on_error=False)
    def _save_worker(self, path: Path, lines: list[LogLine], show_ts: bool, show_service: bool,
                     overwrite: bool = False, dialog: Any = None) -> None:
        try:
            written = write_log_file(path, (format_log_line(ln, show_ts, show_service) for ln in lines), overwrite)
        except OSError as exc:
            self.post_message(LogSaved(path, 0, exc.strerror or str(exc), dialog=dialog))
            return
        if not written:
            self.post_message(LogSaved(path, 0, exists=True, dialog=dialog))
            return
        self.post_message(LogSaved(path, len(lines), dialog=dialog))

    # -- shell ---------------------------------------------------------------------------------
    def open_shell(self, service: str) -> None:
        """Hand the real terminal to psql / redis-cli / sh in the container; resume after."""
        label = SHELL_LABELS.get(service, "sh")
        code: int | None = None
        hung_up: ShellHungUp | None = None
        self._suspended = True
        self.hide_panes("shell")
        self.wiring.record("action", service, f"{label} shell opened from the console")
        try:
            with self.suspend():
                # Leaving the console shows the terminal's normal screen, which still holds the
                # previous shell's output: a clean screen for this one.
                terminal_write(CLEAR_TERMINAL)
                terminal_write(f"liar-tui: {label} in {service} ({self.project.name}); exit it to return to the console\n")
                try:
                    code = run_shell(self.project, service)
                except OSError as exc:
                    terminal_write(f"liar-tui: cannot run docker compose: {exc}\n")
                except ShellHungUp as hup:
                    # the terminal is gone (an SSH connection dropped), or SIGTERM came: the
                    # shell's processes in the container were ended; the console ends too
                    self.wiring.record("action", service, hung_up_note(label, hup))
                    hung_up = hup
                    if hup.signum == signal.SIGHUP:
                        silence_terminal()  # before the console resumes onto a dead terminal
                if code != 0 and hung_up is None:
                    # What compose or the shell said (not running, no such user...) would be
                    # painted over the moment the console resumes: keep it until it is read.
                    terminal_write(f"liar-tui: {label} in {service} ended (exit {code}); press Enter to return to the console\n")
                    try:
                        input()
                    except (EOFError, KeyboardInterrupt):
                        pass
        except SuspendNotSupported:
            self.notify("a shell needs a real terminal (this one cannot be suspended)", severity="warning")
            return
        finally:
            self._suspended = False
            self.show_panes("shell")
        if hung_up is not None:
            self.end_unasked(UNASKED_WHY[hung_up.signum], hung_up.signum)
            return
        self.wiring.record("action", service, f"{label} shell closed (exit {code})")
        self.main.show_activity(Text(f"{label} in {service} ended (exit {code})", style="dim"))
        self.refresh(layout=True)

    def _refresh_notifications(self) -> None:
        super()._refresh_notifications()
        # over a dialog a new toast starts hidden: show it if it fits under the dialog's box
        from .screens.style import keep_toasts_clear

        try:
            screen = self.screen
        except Exception:  # noqa: BLE001 - no screen yet (or any more)
            return
        self.call_after_refresh(keep_toasts_clear, screen)

    # -- quitting -----------------------------------------------------------------------------
    async def action_quit(self) -> None:
        self.request_quit()

    def action_quit_console(self) -> None:
        self.request_quit()

    def request_quit(self) -> None:
        """Quit, unless a backup, verify or restore runs: then ask (QuitDuringJobScreen). A
        restore is never left half done: the console quits when it ends. A backup or verify is
        cancelled first. Quitting at once used to leave the terminal blank until a restore ended
        (the process waits for its thread) without a word.

        A compose action this console runs (a restart, a recreate, up, down, an autoheal restart)
        ends first too, with a note; q again quits at once, stopping it. Stopped half-way, a
        recreate left the service's container exited beside a renamed new one (QA: q 0.4 s into
        `R` on postgres), the database down until the next up."""
        from .screens.backups import QuitDuringJobScreen

        job = self.backup_job
        if job is None:
            if self._quit_pending:
                self._quit_now()  # q again: compose is stopped where it is (cleanup)
            else:
                self._quit_when_idle()
            return
        if isinstance(self.screen, QuitDuringJobScreen):
            self.screen.action_confirm()  # ctrl+q again: yes
            return
        if self._quit_pending:
            self._show_quit_pending(again=True)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._quit_after_job()

        self.push_screen(QuitDuringJobScreen(job, self.project.name), answered)

    def _quit_after_job(self) -> None:
        """Quit when the running job ends: a backup or verify is cancelled first (it ends at its
        next block, keeping nothing); a restore, which cannot stop half-way, runs to its end."""
        job = self.backup_job
        if job is None:
            self._quit_when_idle()  # it ended meanwhile
            return
        self._quit_pending = True
        if job.cancellable:
            job.cancel.set()
        self._show_quit_pending()

    def action_suspend_console(self) -> None:
        """ctrl+z, as in any terminal program: back to the shell, `fg` returns. The stopped
        console uses no CPU; what happened meanwhile (the engine's events) is shown on return."""
        if not job_control_shell():
            self.notify("ctrl+z: no shell to return to (the console was not started from an interactive shell); q quits",
                        severity="warning")
            return
        self.action_suspend_process()

    def _repaint_after_stop(self, _app: Any = None) -> None:
        # back from ctrl+z (fg): the terminal was the shell's meanwhile, and Textual repaints
        # only what changed, so lines that did not (the table's header) stayed blank
        self.refresh(layout=True)

    # -- ending unasked: SIGHUP, SIGTERM, the terminal gone -----------------------------------
    def _catch_signals(self) -> None:
        """SIGHUP (the terminal went away: an SSH connection dropped) and SIGTERM (kill, systemd)
        end the console as a quit does, not at once: killed mid-restore, the console left a
        database half restored; mid-backup, pg_dump running on in the container."""
        if self.is_headless:
            return  # under run_test: the test runner's signals are its own
        loop = asyncio.get_running_loop()
        for sig, why in UNASKED_WHY.items():
            try:
                loop.add_signal_handler(sig, self.end_unasked, why, sig)
            except (RuntimeError, ValueError, OSError):
                continue
            self._signals += (sig,)

    def _release_signals(self) -> None:
        signals, self._signals = self._signals, ()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        for sig in signals:
            loop.remove_signal_handler(sig)

    def on_terminal_gone(self, message: TerminalGone) -> None:
        self.end_unasked(message.why, signal.SIGHUP)

    def end_unasked(self, why: str, signum: int) -> None:
        """End the console without a key, as signal `signum` asks (SIGHUP: the terminal is gone;
        SIGTERM), exiting with 128 + signum as a process ended by it would; `why` goes to the
        activity log. With the terminal gone, whatever the console still writes goes to
        /dev/null (writes to a hung-up terminal fail). A running backup or verify is cancelled
        and a restore finished first, as `q` does."""
        if self._ending:
            return
        self._ending = why
        self._exit_code = 128 + signum
        if signum == signal.SIGHUP:
            silence_terminal()
        job = self.backup_job
        note = f"console ended: {why}"
        if job is not None:
            then = "cancelled first" if job.cancellable else "finished first (it cannot stop half-way)"
            note += f"; the running {job.kind} is {then}"
        running = self.running_compose()
        if running:
            note += f"; the running {' and '.join(running)} is finished first"
        self.wiring.record("action", "", note)
        self._quit_after_job()

    def running_compose(self) -> list[str]:
        """The compose actions this console runs now, as said: "recreate postgres", "up"."""
        return [action if key == "stack" else f"{action} {key}" for key, action in self.busy.items()]

    def _quit_when_idle(self, message: str = "") -> None:
        """Quit once no compose action of this console runs (at once when none does)."""
        if message:
            self._quit_message = message
        if self.busy:
            self._quit_pending = True
            self._show_quit_pending()
            return
        self._quit_pending = False
        self._quit_now(self._quit_message)

    def _show_quit_pending(self, again: bool = False) -> None:
        job = self.backup_job
        if job is None:
            running = " and ".join(self.running_compose())
            if running:
                # what to do first: at 80 columns the line ends at the terminal's edge
                text = (f"⟳ quitting when {running} ends; {self.key_for('app.quit') or 'q'} again quits now "
                        f"(compose stopped half-way can leave a service down)")
                self.main.show_activity(Text(text, style="yellow"))
                self.notify(text[2:], title="quitting", timeout=8)
            return
        if job.cancellable:
            text = f"⟳ cancelling the {job.kind}, then quitting…"
        else:
            text = f"⟳ {'still restoring' if again else 'a restore is running'}: quitting when it ends (it cannot be stopped half-way)"
        self.main.show_activity(Text(text, style="yellow"))
        screen = self.job_screen
        if screen is not None and screen.job is job:
            screen.quit_pending = True
            screen.update_hint("bold yellow" if again else "")

    def stay_open(self) -> None:
        """Take back a quit waiting for a restore to end."""
        self._quit_pending = False
        job = self.backup_job
        screen = self.job_screen
        if screen is not None:
            screen.quit_pending = False
            screen.update_hint()
        if job is not None:
            self.main.show_activity(Text(f"⟳ {job.kind} {', '.join(job.services)}… (staying open when it ends)", style="yellow"))

    def _quit_now(self, message: str = "") -> None:
        self.cleanup()
        self.exit(return_code=self._exit_code, message=message or None)

    def on_unmount(self) -> None:
        self.cleanup()  # however the app ends (also under run_test): no thread outlives it

    def cleanup(self) -> None:
        """Stop streams and end compose subprocesses this console started (idempotent)."""
        if self._cleaned:
            return
        self._cleaned = True
        self._release_signals()
        self._quitting.set()  # workers that wait (for MinIO's S3 API to answer) stop waiting
        self._accepting = False
        self._heap.settle()  # a burst may have held back full collections
        self._relay.detach()
        if self._follower is not None:
            self._follower.stop(join=0.1)
        self._stop_activity_feed()
        if self.backup_job is not None:
            self.backup_job.cancel.set()  # a backup in progress removes its partial set
        if self._probe_runner is not None:
            self._probe_runner.stop(join=0)
        self.wiring.stop()
        if self.monitor is not None:
            # A stats stream ends at its next frame (<= 1 s): do not make quitting wait for it.
            stopper = threading.Thread(target=self.monitor.stop, name="monitor-stop", daemon=True)
            stopper.start()
            stopper.join(0.1)
        self._children_stopped_at = time.monotonic()
        terminate_children()


def terminate_children(timeout: float = 2.0) -> None:
    """End docker/compose processes started by this process (a running `up` at quit)."""
    try:
        import psutil

        # Only docker/compose processes (an `up` still running, a compose call of a worker).
        children = [c for c in psutil.Process().children(recursive=True) if "docker" in " ".join(c.cmdline()[:2])]
        for child in children:
            try:
                child.terminate()
            except psutil.Error:
                pass
        _gone, alive = psutil.wait_procs(children, timeout=timeout)
        for child in alive:
            try:
                child.kill()
            except psutil.Error:
                pass
    except Exception:  # noqa: BLE001
        pass
