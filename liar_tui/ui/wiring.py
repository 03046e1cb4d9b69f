"""What the console runs besides Textual, built before Textual is imported (no Textual import here).

One ConsoleWiring per console: the StackMonitor, whose state callback fans out to the UI relay,
the ActivityRecorder and the AutoHealer (stack-layer objects, see activity.py and autoheal.py);
the ActivityLog every action, state change, probe alarm and autoheal step goes to; the compose
Stack's actions, run by a helper process (stack/actionhost.py: python-on-whales costs ~0.2 s and
~12 MB that would stay in the console); and a light compose view for drift checks that needs no
python-on-whales at all.

Callbacks run on stack threads; the relay hands them to the app, which posts messages.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from ..config import Settings
from ..stack.model import ActionResult, ServiceState
from ..stack.project import Project
from .relay import MonitorRelay

#: A full drift check (two `docker compose config` runs, ~0.1 s of CPU each) is skipped while
#: nothing it compares has changed, but is run at least this often (an image rebuilt meanwhile).
DRIFT_FULL_EVERY = 300.0
#: Seconds until a drift check that failed for a passing reason (DriftInfo.retry) is run again.
DRIFT_RETRY = 10.0


class ComposeView:
    """What `drift.detect_drift` needs from a Stack (project, engine, config()) without
    python-on-whales: `docker compose config --format json` is what Stack.config() runs too."""

    def __init__(self, project: Project, engine: Any = None) -> None:
        self.project = project
        self._engine = engine

    @property
    def engine(self) -> Any:
        if self._engine is None:
            from ..stack.engine import Engine

            self._engine = Engine(timeout=10)
        return self._engine

    def config(self) -> dict:
        from ..stack.drift import compose_argv
        from ..stack.errors import InvalidComposeFile

        proc = subprocess.run(
            [*compose_argv(self), "config", "--format", "json"], capture_output=True, text=True, timeout=20  # type: ignore[arg-type]
        )
        if proc.returncode != 0:
            lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
            raise InvalidComposeFile(
                f"compose rejects {self.project.rel(self.project.compose_file)}: {lines[-1] if lines else 'no message'}"
            )
        return json.loads(proc.stdout)

    def states(self) -> dict[str, ServiceState]:
        from ..stack.engine import Engine

        return Engine(timeout=10).project_states(self.project.name)


def drift_fingerprint(project: Project, states: dict[str, ServiceState]) -> tuple:
    """What a drift check compares, cheaply: the compose files, .env and nginx.conf (mtime, size),
    and each service's container (id, config hash, image, start). Equal fingerprints: same answer
    (except an image rebuilt under the same tag: see DRIFT_FULL_EVERY)."""
    from ..stack.drift import file_stamps

    stamps = file_stamps([*project.compose_files(), project.env_file, project.root / "nginx" / "nginx.conf"])
    containers = tuple(
        (s, st.container_id, st.config_hash, st.image, st.started_at) for s, st in sorted(states.items())
    )
    return stamps, containers


class ConsoleWiring:
    """Monitor, activity log + recorder, autohealer and the lazily made Stack of one console.

    The monitor starts before Textual is imported; the recorder and the healer are made after the
    first frame (`start_deep_health`, ~10 ms of imports kept off the launch path) and are handed
    the monitor's current states then: the recorder takes them as its baseline, the healer judges
    them (a service already unhealthy is seen at once). From then on every state update fans out
    to the UI relay, the recorder and the healer.
    """

    def __init__(
        self,
        project: Project,
        settings: Settings | None = None,
        *,
        monitor: Any = None,
        monitor_factory: Callable[..., Any] | None = None,
        relay: MonitorRelay | None = None,
        stack_factory: Callable[[Project], Any] | None = None,
        activity: Any = None,
        policy: Any = None,
    ) -> None:
        self.project = project
        self.settings = settings or Settings()
        self.relay = relay or MonitorRelay()
        self._stack_factory = stack_factory
        self._stack_obj: Any = None
        self._stack_lock = threading.Lock()
        self._lock = threading.Lock()
        self._deep_lock = threading.Lock()
        self._feed_lock = threading.Lock()
        self._activity: Any = activity
        self._policy: Any = policy
        self.recorder: Any = None  # activity.ActivityRecorder, after start_deep_health()
        self.healer: Any = None  # autoheal.AutoHealer, after start_deep_health()
        self._listeners: tuple[Callable[[ServiceState], None], ...] = ()
        self.monitor: Any = monitor
        self._monitor_factory = monitor_factory
        self.compose_view = ComposeView(project)
        self._drift_fingerprint: tuple | None = None
        self._drift_at = 0.0
        self._compose_cache: Any = None  # drift.ComposeConfigCache, on the first drift check

    # -- the monitor --------------------------------------------------------------------------
    def callbacks(self) -> dict[str, Any]:
        """StackMonitor's callbacks: state goes to the UI and (once started) the recorder and healer."""
        cbs = self.relay.callbacks()
        cbs["on_state"] = self._on_state
        cbs["on_engine"] = self._on_engine
        return cbs

    def _on_engine(self, status: Any) -> None:
        self.relay.on_engine(status)
        with self._feed_lock:
            recorder = self.recorder if self._listeners else None  # once handed the baseline
        if recorder is not None:
            recorder.on_engine(status)

    def _on_state(self, state: ServiceState) -> None:
        self.relay.on_state(state)
        # The lock orders this against start_deep_health's hand-over of the current states: a
        # listener never gets an older state after a newer one.
        with self._feed_lock:
            for listener in self._listeners:
                try:
                    listener(state)
                except Exception:  # noqa: BLE001 - one listener must not starve the others
                    pass

    def make_monitor(self) -> Any:
        if self.monitor is None:
            if self._monitor_factory is not None:
                self.monitor = self._monitor_factory(self.project.name, **self.callbacks())
            else:
                from ..stack.monitor import StackMonitor

                self.monitor = StackMonitor(self.project.name, **self.callbacks())
        return self.monitor

    def _refresh(self, service: str) -> ServiceState:
        monitor = self.monitor
        if monitor is None:
            return ServiceState(service=service)
        return monitor.refresh(service)

    # -- deep health (after the first frame) --------------------------------------------------
    @property
    def activity(self) -> Any:
        """The ActivityLog (made on first use; the console reads the file's history itself, in a
        worker, when the activity view opens)."""
        with self._lock:
            if self._activity is None:
                from ..stack.activity import ActivityLog

                self._activity = ActivityLog(self.project, preload=False)
            return self._activity

    @property
    def policy(self) -> Any:
        if self._policy is None:
            from ..stack.autoheal import AutohealPolicy

            self._policy = AutohealPolicy()
        return self._policy

    def start_deep_health(self) -> None:
        """Make and start the recorder and the healer (autoheal off unless the setting says on)."""
        with self._deep_lock:
            if self.healer is None:
                self._start_deep_health()

    def _start_deep_health(self) -> None:
        from ..stack.activity import ActivityRecorder
        from ..stack.autoheal import AutoHealer

        log = self.activity
        self.recorder = ActivityRecorder(log)
        self.healer = AutoHealer(
            self._autoheal_restart,
            self._refresh,
            policy=self.policy,
            activity=log,
            on_step=self.relay.on_step,
            enabled=self.settings.autoheal,
            redact=self.project.redactor(),
            lease=self.project.lock_path("autoheal"),
            hold_off=self.project.lock_path("restore"),
        )
        with self._feed_lock:
            if self.monitor is not None:
                status = getattr(self.monitor, "engine_status", None)
                if status is not None:
                    self.recorder.on_engine(status)
                for state in self.monitor.states().values():
                    self.recorder.on_state(state)  # the baseline: transitions from here on are recorded
                    self.healer.on_state(state)
            self._listeners = (self.recorder.on_state, self.healer.on_state)
        self.healer.start()

    @property
    def autoheal_enabled(self) -> bool:
        return self.healer.enabled if self.healer is not None else False

    def autoheal_status(self, service: str) -> Any:
        return self.healer.status().get(service) if self.healer is not None else None

    def on_probe(self, result: Any) -> None:
        if self.recorder is not None:
            self.recorder.on_probe(result)

    # -- the compose stack (made on first use) ------------------------------------------------
    def stack(self) -> Any:
        with self._stack_lock:
            if self._stack_obj is None:
                if self._stack_factory is not None:
                    self._stack_obj = self._stack_factory(self.project)
                else:
                    from ..stack.actionhost import HostedStack

                    self._stack_obj = HostedStack(self.project)
            return self._stack_obj

    def _autoheal_restart(self, service: str) -> ActionResult:
        started = time.monotonic()
        try:
            return self.stack().restart(service, timeout=self.policy.stop_timeout)
        except Exception as exc:  # noqa: BLE001 - autoheal reports it as a failed restart
            return ActionResult("restart", (service,), False, str(exc), time.monotonic() - started)

    # -- autoheal -----------------------------------------------------------------------------
    def set_autoheal(self, on: bool) -> None:
        self.start_deep_health()
        with self._deep_lock:  # one toggle at a time (enable/disable record a step each)
            if on:
                self.healer.enable()
            else:
                self.healer.disable()

    # -- drift --------------------------------------------------------------------------------
    def drift_due(self, states: dict[str, ServiceState], force: bool = False) -> bool:
        """Whether a full drift check is worth running now (see drift_fingerprint)."""
        fingerprint = drift_fingerprint(self.project, states)
        now = time.monotonic()
        if not force and fingerprint == self._drift_fingerprint and now - self._drift_at < DRIFT_FULL_EVERY:
            return False
        self._drift_fingerprint = fingerprint
        self._drift_at = now
        return True

    def detect_drift(self, states: dict[str, ServiceState]) -> dict[str, Any]:
        from ..stack.drift import ComposeConfigCache, detect_drift

        if self._compose_cache is None:
            self._compose_cache = ComposeConfigCache(max_age=DRIFT_FULL_EVERY)
        drift = detect_drift(self.compose_view, states, cache=self._compose_cache)  # type: ignore[arg-type]
        if any(info.retry for info in drift.values()):
            self._drift_at = time.monotonic() - DRIFT_FULL_EVERY + DRIFT_RETRY  # due again then
        return drift

    # -- record -------------------------------------------------------------------------------
    def record(self, kind: str, service: str | None, text: str) -> None:
        """Write one activity entry (never raises: the log is a record, not a precondition)."""
        try:
            self.activity.record(kind, service or "", text)
        except Exception:  # noqa: BLE001
            pass

    def stop(self) -> None:
        with self._stack_lock:
            if self._stack_obj is not None and hasattr(self._stack_obj, "close"):
                self._stack_obj.close()  # the action helper ends after its running actions
        if self.recorder is not None:
            self.recorder.close()  # another liar-tui on this project records the transitions now
        if self.healer is not None:
            self.healer.stop(join=0.1)
