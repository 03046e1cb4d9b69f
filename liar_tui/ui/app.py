"""The liar-tui console: a Textual app over the stack layer.

Threads and workers never touch widgets. StackMonitor's callbacks (state from the engine's event
stream, stats from one stream per container, engine status) and the LogFollower's batches are
posted as messages; compose actions run in thread workers that post ActionProgressed and
ActionFinished. Handlers on the app thread hand the facts to the main screen, which renders them.
State changes render at once; stats, uptime and the host bar repaint once per refresh interval.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from rich.text import Text
from textual import work
from textual.app import App, SuspendNotSupported
from textual.binding import Binding

from ..config import Settings
from ..stack.errors import StackError
from ..stack.logs import LogBatch, LogFollower, LogLine, LogRange
from ..stack.model import SERVICES, ActionResult, ServiceState, StatsSample
from ..stack.monitor import EngineStatus, StackMonitor
from ..stack.project import Project
from ..stack.shell import SHELL_LABELS, shell_command
from .commands import ConsoleCommands
from .relay import MonitorRelay
from .messages import (
    ActionFinished,
    ActionProgressed,
    EngineStatusChanged,
    HealthInspected,
    LogLinesArrived,
    LogSaved,
    ServiceStateChanged,
    StatsSampled,
)
from .render import EngineLine, HostSample, render_host_bar
from .screens.main import MainScreen
from .screens.modals import HealthScreen


class MonitorLike(Protocol):
    """What the app needs from StackMonitor (tests pass a fake with fixed data)."""

    def start(self) -> Any: ...
    def stop(self) -> None: ...
    def states(self) -> dict[str, ServiceState]: ...
    def state(self, service: str) -> ServiceState: ...
    def history(self, service: str) -> list[StatsSample]: ...
    def refresh(self, service: str) -> ServiceState: ...


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


class LiarApp(App[int]):
    """`liar-tui`: panes for postgres, redis, nginx and minio, their logs, and lifecycle actions."""

    TITLE = "liar-tui"
    COMMANDS = App.COMMANDS | {ConsoleCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="app.force-quit", show=False, priority=True, tooltip="Quit (from anywhere)"),
        Binding("ctrl+p", "command_palette", "Commands", id="app.commands", show=False, tooltip="Command palette: every action"),
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
    ) -> None:
        super().__init__()
        self.project = project
        self.settings = settings or Settings()
        self.keymap: dict[str, str] = dict(self.settings.keys)
        self.redact = project.redactor()
        self.clock = clock
        self._monitor_factory = monitor_factory or self._default_monitor
        self._follower_factory = follower_factory
        self._host_sampler = host_sampler
        self._stack_factory = stack_factory
        self._stack_obj: Any = None
        self._stack_lock = threading.Lock()
        # A monitor started before Textual was imported (see cli.open_console), or one made on mount.
        self.monitor: MonitorLike | None = monitor
        self._relay = relay or MonitorRelay()
        self.engine_status: EngineStatus | None = None
        self.busy: dict[str, str] = {}  # service or "stack" -> running action
        self.logs_all = False
        self.log_range = LogRange(tail=self.settings.log_tail)
        self._follower: Any = None
        self._log_generation = 0
        self._accepting = False
        self._suspended = False
        self._up_pending = self.settings.up
        self._host: HostSample | None = None
        self._cleaned = False
        self.main = MainScreen(self.settings.log_lines, project.name)

    # -- startup ------------------------------------------------------------------------------
    def _default_monitor(self, project_name: str, **callbacks: Any) -> MonitorLike:
        return StackMonitor(project_name, **callbacks)

    def get_default_screen(self) -> MainScreen:
        return self.main

    def on_mount(self) -> None:
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        else:
            self.notify(f"unknown theme {self.settings.theme!r}; available: {', '.join(sorted(self.available_themes))}", severity="warning")
        if self.keymap:
            self.set_keymap(self.keymap)
        # Callbacks may post from here on; anything earlier is covered by reading states() below.
        self._accepting = True
        self._relay.attach(self._state_callback, self._engine_callback, self._stats_callback)
        if self.monitor is None:
            self.monitor = self._monitor_factory(self.project.name, **self._relay.callbacks())
            self.monitor.start()
        status = getattr(self.monitor, "engine_status", None)
        if status is not None and status.connected:
            self._apply_engine(status, first=True)
        else:
            self.main.show_engine(None)
        for state in self.monitor.states().values():
            self.main.show_state(state)
        self.follow_logs()
        self._render_host_bar()
        if not self.settings.up:
            self.main.show_activity(Text(f"watching {self.project.name} (--no-up: not bringing it up; u brings it up)", style="dim"))
        # psutil loads after the first frame: the services come first.
        self.set_timer(0.1, lambda: self._render_host_bar(sample=True))
        self.set_interval(self.settings.refresh, self._tick)

    # -- thread callbacks: hand over and return -----------------------------------------------
    def _state_callback(self, state: ServiceState) -> None:
        if self._accepting:
            self.post_message(ServiceStateChanged(state))

    def _engine_callback(self, status: EngineStatus) -> None:
        if self._accepting:
            self.post_message(EngineStatusChanged(status))

    def _stats_callback(self, sample: StatsSample) -> None:
        # The monitor keeps the history; while a shell owns the terminal nothing needs drawing.
        if self._accepting and not self._suspended:
            self.post_message(StatsSampled(sample))

    def _log_batch_callback(self, batch: LogBatch) -> None:
        self.post_message(LogLinesArrived(batch))

    # -- facts for widgets --------------------------------------------------------------------
    @property
    def engine_connected(self) -> bool:
        return bool(self.engine_status and self.engine_status.connected)

    def state_of(self, service: str) -> ServiceState:
        return self.monitor.state(service) if self.monitor is not None else ServiceState(service=service)

    def history(self, service: str) -> Sequence[StatsSample]:
        return self.monitor.history(service) if self.monitor is not None else ()

    # -- message handlers ---------------------------------------------------------------------
    def on_service_state_changed(self, message: ServiceStateChanged) -> None:
        self.main.show_state(message.state)
        if self._follower is not None:
            self._follower.update_state(message.state)

    def on_stats_sampled(self, message: StatsSampled) -> None:
        pass  # the monitor keeps the history; panes repaint on the refresh tick (coalesced)

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
        self.main.show_activity(Text(f"⟳ {message.action}: {self.redact(text)}", style="red" if ev.error else "yellow"))

    def on_action_finished(self, message: ActionFinished) -> None:
        result = message.result
        key = "stack" if result.action in ("up", "down") else (result.services[0] if result.services else "stack")
        self.busy.pop(key, None)
        summary = self.redact(result.summary())
        if result.ok:
            self.main.show_activity(Text(f"✓ {summary}", style="green"))
            self.notify(summary, timeout=4)
        else:
            self.main.show_activity(Text(f"✗ {summary}", style="bold red"))
            self.notify(summary, severity="error", timeout=10)
        self.main.refresh_bindings()

    def on_health_inspected(self, message: HealthInspected) -> None:
        screen = self.screen
        if isinstance(screen, HealthScreen) and screen.state.service == message.state.service:
            screen.show(message.state)

    def on_log_lines_arrived(self, message: LogLinesArrived) -> None:
        batch = message.batch
        if batch.generation != self._log_generation:
            return  # from a follower that was replaced
        view = self.main.log_view
        if batch.backlog:
            view.backlog_loading = False
        view.add_lines(batch.lines, batch.dropped)
        if batch.backlog:
            self.main.logs.update_bar()
        if self._follower is not None:
            self._follower.ack()

    def on_log_saved(self, message: LogSaved) -> None:
        if message.error:
            self.notify(f"could not save the log: {message.error}", severity="error")
            self.main.show_activity(Text(f"✗ save log: {message.error}", style="red"))
        else:
            self.notify(f"saved {message.lines:,} lines to {message.path}")
            self.main.show_activity(Text(f"✓ saved {message.lines:,} lines to {message.path}", style="green"))

    # -- periodic repaint (coalesced) ---------------------------------------------------------
    def _tick(self) -> None:
        now_wall, now = self.clock()
        self.main.services.repaint_all(now_wall, now)
        self._render_host_bar(sample=True)

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
        self.main.host_bar.set_text(render_host_bar(self.project.name, engine, self._host, width))

    # -- stack actions (thread workers; they post, never touch widgets) -------------------------
    def _stack(self) -> Any:
        with self._stack_lock:
            if self._stack_obj is None:
                if self._stack_factory is not None:
                    self._stack_obj = self._stack_factory(self.project)
                else:
                    from ..stack.compose import Stack  # python-on-whales loads on first use, not at launch

                    self._stack_obj = Stack(self.project)
            return self._stack_obj

    def _failure(self, action: str, services: tuple[str, ...], exc: BaseException, started: float) -> ActionResult:
        text = str(exc) if isinstance(exc, StackError) else f"{type(exc).__name__}: {exc}"
        return ActionResult(action, services, False, self.redact(text), time.monotonic() - started)

    def run_service_action(self, action: str, service: str) -> None:
        if service in self.busy:
            self.notify(f"{service} is busy ({self.busy[service]})", severity="warning")
            return
        self.busy[service] = action
        self.main.show_activity(Text(f"⟳ {action} {service}…", style="yellow"))
        self.main.refresh_bindings()
        self._service_action(action, service)

    @work(thread=True, exclusive=False, group="service-actions", exit_on_error=False)
    def _service_action(self, action: str, service: str) -> None:
        started = time.monotonic()
        try:
            result = getattr(self._stack(), action)(service)
        except Exception as exc:  # noqa: BLE001 - errors are data: shown, never a traceback
            result = self._failure(action, (service,), exc, started)
        self.post_message(ActionFinished(result))

    def bring_up(self) -> None:
        if "stack" in self.busy:
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
        self.post_message(ActionFinished(result))

    def bring_down(self, volumes: bool = False) -> None:
        if "stack" in self.busy:
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
            result = self._stack().down(volumes=volumes)
        except Exception as exc:  # noqa: BLE001
            result = self._failure("down", (), exc, started)
        self.post_message(ActionFinished(result))

    def inspect_health(self, service: str) -> None:
        self._inspect_worker(service)

    @work(thread=True, exclusive=True, group="inspect", exit_on_error=False)
    def _inspect_worker(self, service: str) -> None:
        if self.monitor is not None:
            self.post_message(HealthInspected(self.monitor.refresh(service)))

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

    def save_log(self, path: Path, lines: list[LogLine], show_ts: bool, show_service: bool) -> None:
        self._save_worker(path, lines, show_ts, show_service)

    @work(thread=True, exclusive=False, group="save", exit_on_error=False)
    def _save_worker(self, path: Path, lines: list[LogLine], show_ts: bool, show_service: bool) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                for line in lines:
                    fh.write(format_log_line(line, show_ts, show_service) + "\n")
        except OSError as exc:
            self.post_message(LogSaved(path, 0, exc.strerror or str(exc)))
            return
        self.post_message(LogSaved(path, len(lines)))

    # -- shell ---------------------------------------------------------------------------------
    def open_shell(self, service: str) -> None:
        """Hand the real terminal to psql / redis-cli / sh in the container; resume after."""
        argv = shell_command(self.project, service)
        label = SHELL_LABELS.get(service, "sh")
        code: int | None = None
        self._suspended = True
        try:
            with self.suspend():
                print(f"liar-tui: {label} in {service} ({self.project.name}); exit it to return to the console", flush=True)
                try:
                    code = subprocess.run(argv).returncode
                except OSError as exc:
                    print(f"liar-tui: cannot run docker compose: {exc}", flush=True)
        except SuspendNotSupported:
            self.notify("a shell needs a real terminal (this one cannot be suspended)", severity="warning")
            return
        finally:
            self._suspended = False
        self.main.show_activity(Text(f"{label} in {service} ended (exit {code})", style="dim"))
        self.refresh(layout=True)

    # -- quitting -----------------------------------------------------------------------------
    async def action_quit(self) -> None:
        self.cleanup()
        self.exit(0)

    def action_quit_console(self) -> None:
        self.cleanup()
        self.exit(0)

    def cleanup(self) -> None:
        """Stop streams and end compose subprocesses this console started (idempotent)."""
        if self._cleaned:
            return
        self._cleaned = True
        self._accepting = False
        self._relay.detach()
        if self._follower is not None:
            self._follower.stop(join=0.1)
        if self.monitor is not None:
            # A stats stream ends at its next frame (<= 1 s): do not make quitting wait for it.
            stopper = threading.Thread(target=self.monitor.stop, name="monitor-stop", daemon=True)
            stopper.start()
            stopper.join(0.1)
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
