"""Live state of the stack from the engine's event stream (not polling), plus streamed stats.

One StackMonitor owns the facts: the current ServiceState of each service, whether the engine is
reachable, and a bounded stats history per service. Front ends subscribe with callbacks, which run
on the monitor's threads: they must hand the data over (e.g. Textual's post_message) and return.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from .engine import Engine, EngineInfo, StreamHandle, follow_stats
from .errors import StackError
from .model import (
    LABEL_PROJECT,
    LABEL_SERVICE,
    SERVICES,
    TOP_PS_ARGS,
    ContainerConfig,
    ProcessRow,
    ServiceState,
    StatsSample,
    parse_container_config,
    parse_inspect,
    parse_top,
)


@dataclass(frozen=True)
class EngineStatus:
    connected: bool
    info: EngineInfo | None = None
    error: str = ""


StateCallback = Callable[[ServiceState], None]
EngineCallback = Callable[[EngineStatus], None]
StatsCallback = Callable[[StatsSample], None]


class StackMonitor:
    """Follows one compose project: an initial inspect of every service, then one event stream.

    Reconnects by itself when the engine goes away and comes back (backoff up to 5 s).
    """

    def __init__(
        self,
        project_name: str,
        *,
        on_state: StateCallback | None = None,
        on_engine: EngineCallback | None = None,
        on_stats: StatsCallback | None = None,
        stats: bool = True,
        history_seconds: int = 300,
        services: tuple[str, ...] = SERVICES,
    ) -> None:
        self.project_name = project_name
        self.services = services
        self._on_state = on_state or (lambda s: None)
        self._on_engine = on_engine or (lambda s: None)
        self._on_stats = on_stats or (lambda s: None)
        self._want_stats = stats
        self._lock = threading.Lock()
        self._oom: set[str] = set()  # containers the engine said `oom` of, until their `die`
        self._states: dict[str, ServiceState] = {s: ServiceState(service=s) for s in services}
        self._history: dict[str, deque[StatsSample]] = {s: deque(maxlen=history_seconds) for s in services}
        self._stats_streams: dict[str, tuple[str, StreamHandle]] = {}
        self._configs: dict[str, tuple[str, ContainerConfig]] = {}  # service -> (container id, config)
        self._engine: Engine | None = None
        self.engine_status = EngineStatus(connected=False)
        #: Set once every service has been inspected after the first connection.
        self.initial = threading.Event()
        self._handle = StreamHandle("events", self._run)

    # -- public -----------------------------------------------------------------------------
    def start(self) -> "StackMonitor":
        self._handle.start()
        return self

    def stop(self) -> None:
        self._handle.stop()
        for _cid, handle in list(self._stats_streams.values()):
            handle.stop(join=0.2)
        self._stats_streams.clear()
        if self._engine is not None:
            self._engine.close()

    def states(self) -> dict[str, ServiceState]:
        with self._lock:
            return dict(self._states)

    def state(self, service: str) -> ServiceState:
        with self._lock:
            return self._states.get(service, ServiceState(service=service))

    def history(self, service: str) -> list[StatsSample]:
        return list(self._history.get(service, ()))

    def latest_stats(self, service: str) -> StatsSample | None:
        h = self._history.get(service)
        return h[-1] if h else None

    def refresh(self, service: str) -> ServiceState:
        """Re-inspect one service now (health streak and check outputs change without events)."""
        engine = self._engine
        if engine is None:
            return self.state(service)
        try:
            return self._update_service(engine, service)
        except Exception:  # noqa: BLE001 - the event loop notices a dead engine
            return self.state(service)

    def processes(self, service: str) -> list[ProcessRow] | None:
        """The processes in the service's container now (the engine's top); None when it has no
        running container or the engine cannot say."""
        engine, st = self._engine, self.state(service)
        if engine is None or not st.container_id or not st.running:
            return None
        try:
            return parse_top(engine.api.top(st.container_id, ps_args=TOP_PS_ARGS))
        except Exception:  # noqa: BLE001 - gone meanwhile, or the engine went away
            return None

    def container_config(self, service: str) -> ContainerConfig | None:
        """How the service's container was made (mounts, networks, limits, command, check);
        inspected once per container. None when it has no container or the engine cannot say."""
        engine, st = self._engine, self.state(service)
        if engine is None or not st.container_id:
            return None
        known = self._configs.get(service)
        if known is not None and known[0] == st.container_id:
            return known[1]
        try:
            data = engine.inspect(st.container_id)
        except Exception:  # noqa: BLE001 - gone meanwhile, or the engine went away
            return None
        if data is None:
            return None
        config = parse_container_config(data)
        self._configs[service] = (st.container_id, config)
        return config

    # -- internals --------------------------------------------------------------------------
    def _set_engine(self, status: EngineStatus) -> None:
        self.engine_status = status
        self._on_engine(status)

    def _run(self, handle: StreamHandle) -> None:
        backoff = 0.5
        last_error = ""
        while not handle.stopped:
            try:
                engine = Engine(timeout=5)
                engine.ping()
                info = engine.info()
                # Open the event stream before the initial inspect so nothing falls in between.
                events = handle.attach(engine.events(self.project_name, since=time.time() - 1))
                self._engine = engine
                self._set_engine(EngineStatus(connected=True, info=info))
                last_error = ""
                backoff = 0.5
                for service in self.services:
                    self._update_service(engine, service)
                self.initial.set()
                for event in events:
                    if handle.stopped:
                        return
                    attrs = (event.get("Actor") or {}).get("Attributes") or {}
                    service = str(attrs.get(LABEL_SERVICE) or "")
                    if service in self._states:
                        action = str(event.get("status") or event.get("Action") or "")
                        if action == "kill":
                            continue  # a signal, not a state; `die` follows if it ends the process
                        if action == "oom":
                            if len(self._oom) > 64:
                                self._oom.clear()  # bounded: a `die` normally takes each out
                            self._oom.add(str(event.get("id") or ""))  # its `die` comes next
                        if action == "die":
                            self._mark_died(service, str(event.get("id") or ""), attrs)
                        self._update_service(engine, service)
                if handle.stopped:
                    return
                raise ConnectionError("the engine closed the event stream")
            except StackError as exc:
                message = str(exc)
            except Exception:  # noqa: BLE001 - any socket error means the engine went away
                # QA: the toast said "(ConnectionError)", a class name, not a reason
                message = "lost the Docker engine (its connection closed): reconnecting"
            if handle.stopped:
                return
            self._engine = None
            if message != last_error or self.engine_status.connected:
                self._set_engine(EngineStatus(connected=False, error=message))
                last_error = message
                self._stop_all_stats()
            if handle.wait(backoff):
                return
            backoff = min(backoff * 2, 5.0)

    def _mark_died(self, service: str, container_id: str, attrs: dict) -> None:
        """Report a death from the event itself, at once: the inspect that follows waits until
        the engine has finished the kill (100-400 ms on a busy host), then corrects this."""
        with self._lock:
            current = self._states.get(service)
            if current is None or not current.running or current.container_id != container_id:
                return
            try:
                exit_code = int(attrs.get("exitCode") or 0)
            except (TypeError, ValueError):
                exit_code = current.exit_code
            # OOM-killed: the engine said `oom` first. Under a restart policy the container runs
            # again before the inspect that follows, so this state is the only one that says so.
            oom = container_id in self._oom
            self._oom.discard(container_id)
            state = replace(current, state="exited", exit_code=exit_code, pid=0, oom_killed=oom)
            self._states[service] = state
        self._on_state(state)

    def _update_service(self, engine: Engine, service: str) -> ServiceState:
        rows = engine.api.containers(
            all=True,
            filters={"label": [f"{LABEL_PROJECT}={self.project_name}", f"{LABEL_SERVICE}={service}"]},
        )
        state = ServiceState(service=service)
        # A recreate briefly leaves two containers: the running/newest one is the service.
        for row in sorted(rows, key=lambda r: (r.get("State") == "running", r.get("Created", 0)), reverse=True):
            data = engine.inspect(row["Id"])
            if data is not None:
                state = parse_inspect(data, service)
                break
        with self._lock:
            changed = self._states.get(service) != state
            self._states[service] = state
        if changed:
            self._on_state(state)
        self._sync_stats(engine, state)
        return state

    def _sync_stats(self, engine: Engine, state: ServiceState) -> None:
        if not self._want_stats:
            return
        current = self._stats_streams.get(state.service)
        if state.running and state.container_id:
            if current and current[0] == state.container_id and current[1].thread.is_alive():
                return
            if current:
                current[1].stop(join=0)
            handle = follow_stats(engine, state.service, state.container_id, self._record_stats)
            self._stats_streams[state.service] = (state.container_id, handle)
        elif current:
            current[1].stop(join=0)
            del self._stats_streams[state.service]

    def _stop_all_stats(self) -> None:
        for _cid, handle in list(self._stats_streams.values()):
            handle.stop(join=0)
        self._stats_streams.clear()

    def _record_stats(self, sample: StatsSample) -> None:
        history = self._history.get(sample.service)
        if history is not None:
            history.append(sample)
        self._on_stats(sample)
