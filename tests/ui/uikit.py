"""UI test helpers (imported as `uikit`; pytest puts tests/ui on sys.path). Real-stack tests use `running_stack` from tests/conftest.py (one isolated stack
per session: its own project name, tmp copy of compose/ and nginx/, fresh passwords, free 127.0.0.1
ports, 1 s healthchecks via docker-compose.override.yml; `down -v` at teardown).

Snapshot tests use FakeMonitor: fixed ServiceState/StatsSample objects and a fixed clock, no engine.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from liar_tui.config import Settings
from liar_tui.stack.activity import ActivityEntry
from liar_tui.stack.engine import EngineInfo
from liar_tui.stack.logs import LogLine
from liar_tui.stack.model import (
    SERVICES,
    ContainerConfig,
    HealthCheckResult,
    HealthInfo,
    MountInfo,
    PortBinding,
    ProcessRow,
    ServiceState,
    StatsSample,
)
from liar_tui.stack.monitor import EngineStatus
from liar_tui.stack.project import Project
from liar_tui.ui.app import LiarApp
from liar_tui.ui.render import HostSample

FIXED_NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
FIXED_EPOCH = FIXED_NOW.timestamp()


def fixed_clock() -> tuple[datetime, float]:
    return FIXED_NOW, FIXED_EPOCH


def fixed_host(_path: Path) -> HostSample:
    return HostSample(
        cpu_percent=12.0,
        load=(0.52, 0.41, 0.30),
        mem_used=3 * 2**30,
        mem_total=8 * 2**30,
        disk_free=42 * 2**30,
        disk_total=100 * 2**30,
    )


CONNECTED = EngineStatus(connected=True, info=EngineInfo("unix:///var/run/docker.sock", "24.0.7", "1.43"))


class FakeMonitor:
    """StackMonitor's interface over fixed data (no threads, no engine)."""

    def __init__(
        self,
        states: dict[str, ServiceState],
        history: dict[str, list[StatsSample]] | None = None,
        engine_status: EngineStatus = CONNECTED,
    ) -> None:
        self._states = dict(states)
        self._history = history or {}
        self._processes: dict[str, list[ProcessRow]] = {}
        self._configs: dict[str, ContainerConfig] = {}
        self.engine_status = engine_status
        self.started = False
        self.stopped = False

    def start(self) -> "FakeMonitor":
        self.started = True
        return self

    def stop(self) -> None:
        self.stopped = True

    def states(self) -> dict[str, ServiceState]:
        return dict(self._states)

    def state(self, service: str) -> ServiceState:
        return self._states.get(service, ServiceState(service=service))

    def history(self, service: str) -> list[StatsSample]:
        return list(self._history.get(service, ()))

    def refresh(self, service: str) -> ServiceState:
        return self.state(service)

    def processes(self, service: str) -> list[ProcessRow] | None:
        return self._processes.get(service)

    def container_config(self, service: str) -> ContainerConfig | None:
        return self._configs.get(service)

    def set_state(self, state: ServiceState) -> None:
        self._states[state.service] = state


def _state(service: str, n: int, **kw: Any) -> ServiceState:
    ports = {
        "postgres": (PortBinding("127.0.0.1", 5432, 5432),),
        "redis": (PortBinding("127.0.0.1", 6379, 6379),),
        "nginx": (PortBinding("127.0.0.1", 8080, 80),),
        "minio": (PortBinding("127.0.0.1", 9000, 9000), PortBinding("127.0.0.1", 9001, 9001)),
    }[service]
    image = {
        "postgres": "postgres:16",
        "redis": "redis:7",
        "nginx": "nginx:1.25",
        "minio": "minio/minio:RELEASE.2024-01-01T16-36-33Z",
    }[service]
    base: dict[str, Any] = dict(
        service=service,
        state="running",
        container_id=f"{n:02d}" * 32,
        container_name=f"liar-game-{service}",
        image=image,
        health=HealthInfo(
            "healthy",
            0,
            (HealthCheckResult(FIXED_NOW - timedelta(seconds=2), FIXED_NOW - timedelta(seconds=1), 0, "PONG"),),
        ),
        started_at=FIXED_NOW - timedelta(minutes=12 + n, seconds=3),
        restart_count=0,
        ports=ports,
    )
    base.update(kw)
    return ServiceState(**base)


def sample_states() -> dict[str, ServiceState]:
    """Stable data: postgres and minio healthy, redis unhealthy (3 failures), nginx exited."""
    return {
        "postgres": _state("postgres", 1),
        "redis": _state(
            "redis",
            2,
            restart_count=2,
            health=HealthInfo(
                "unhealthy",
                3,
                tuple(
                    HealthCheckResult(FIXED_NOW - timedelta(seconds=i + 1), FIXED_NOW - timedelta(seconds=i), 1, "NOAUTH Authentication required.")
                    for i in range(3)
                ),
            ),
        ),
        "nginx": _state(
            "nginx",
            3,
            state="exited",
            exit_code=137,
            started_at=FIXED_NOW - timedelta(hours=1),
            finished_at=FIXED_NOW - timedelta(minutes=4),
            health=HealthInfo("unhealthy", 0, ()),
        ),
        "minio": _state("minio", 4),
    }


def sample_history() -> dict[str, list[StatsSample]]:
    """Three minutes of 1 Hz samples with a deterministic shape per service."""
    out: dict[str, list[StatsSample]] = {}
    limits = {"postgres": 2**30, "redis": 512 * 2**20, "nginx": 256 * 2**20, "minio": 2**30}
    for k, service in enumerate(SERVICES):
        samples = []
        for i in range(180):
            at = FIXED_EPOCH - 180 + i + 1
            wave = (i * (k + 3)) % 40
            samples.append(
                StatsSample(
                    service=service,
                    at=at,
                    cpu_percent=0.5 + wave / 8.0,
                    mem_used=int(limits[service] * (0.05 + 0.002 * (i % 30)) * (k + 1) / 2),
                    mem_limit=limits[service],
                    net_rx=1000 * i,
                    net_tx=400 * i,
                    blk_read=0,
                    blk_write=4096 * i,
                    pids=5 + k,
                    net_rx_rate=1000.0 + 50 * wave,
                    net_tx_rate=400.0 + 10 * wave,
                    blk_read_rate=0.0,
                    blk_write_rate=4096.0,
                )
            )
        out[service] = samples
    return out


def sample_log_lines() -> list[LogLine]:
    lines = []
    texts = {
        "postgres": ["LOG:  database system is ready to accept connections", "LOG:  checkpoint starting: time", "ERROR:  relation \"players\" does not exist"],
        "redis": ["* Ready to accept connections tcp", "* DB saved on disk", "# WARNING overcommit_memory is set to 0"],
        "nginx": ['172.18.0.1 - [01/Jun/2024:11:59:01 +0000] "GET /api/rooms HTTP/1.1" 200 512', '172.18.0.1 - [01/Jun/2024:11:59:02 +0000] "GET /ws/ HTTP/1.1" 101 0', '[error] connect() failed (111: Connection refused) while connecting to upstream'],
        "minio": ["API: http://172.18.0.5:9000", "Status: 1 Online, 0 Offline.", "Error: drive not found"],
    }
    for i in range(40):
        service = SERVICES[i % 4]
        text = texts[service][(i // 4) % 3]
        ts = f"2024-06-01T11:{59 - (40 - i) // 60:02d}:{(20 + i) % 60:02d}.{i:03d}000000Z"
        lines.append(LogLine(service, ts, text))
    return lines


class MemoryActivity:
    """ActivityLog's interface in memory (no file): fixed entries for snapshots, records for asserts."""

    path = None

    def __init__(self, entries: list[ActivityEntry] | None = None) -> None:
        self._entries = list(entries or [])
        self._subscribers: list[Callable[[ActivityEntry], None]] = []

    def record(self, kind: str, service: str | None, text: str) -> ActivityEntry:
        entry = ActivityEntry(datetime.now(timezone.utc), kind, service or "", text)
        self._entries.append(entry)
        for cb in list(self._subscribers):
            cb(entry)
        return entry

    def entries(self, n: int | None = None) -> list[ActivityEntry]:
        return self._entries[-n:] if n else list(self._entries)

    def subscribe(self, callback: Callable[[ActivityEntry], None]) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None


def sample_activity() -> list[ActivityEntry]:
    """Fixed activity entries covering every kind."""
    def at(seconds: int) -> datetime:
        return FIXED_NOW - timedelta(seconds=seconds)

    return [
        ActivityEntry(at(600), "action", "", "up all services: done in 14.2s"),
        ActivityEntry(at(590), "bucket", "minio", "created bucket game-logs"),
        ActivityEntry(at(589), "bucket", "minio", "created bucket user-uploads"),
        ActivityEntry(at(588), "bucket", "minio", "created bucket replays"),
        ActivityEntry(at(420), "autoheal", "", "autoheal on: restart a service Docker marks unhealthy (after its healthcheck's own retries) once 3+ checks in a row have failed, at most 3 times (backoff 30s doubling, max 600s)"),
        ActivityEntry(at(300), "health", "redis", "healthy -> unhealthy (3 failing checks; last: NOAUTH Authentication required.)"),
        ActivityEntry(at(299), "probe", "redis", "ok -> fail: password rejected (WRONGPASS/NOAUTH): the server's password differs from REDIS_PASSWORD in .env (after editing .env, recreate redis)"),
        ActivityEntry(at(298), "drift", "redis", "secret redis_password (REDIS_PASSWORD in .env) changed: differs in the container: recreate to apply"),
        ActivityEntry(at(290), "autoheal", "redis", "redis unhealthy for 3 checks in a row (last check: NOAUTH Authentication required.): restarting (attempt 1 of 3)"),
        ActivityEntry(at(285), "autoheal", "redis", "restarted redis in 1.2s"),
        ActivityEntry(at(240), "state", "nginx", "running -> exited (137)"),
        ActivityEntry(at(120), "action", "redis", "recreate redis: done in 3.4s"),
        ActivityEntry(at(110), "probe", "redis", "fail -> ok: Redis 7.0.15: PING 0.3 ms, 1.1MiB of 256.0MiB (allkeys-lru), 2 clients, 0 keys, AOF on"),
        ActivityEntry(at(60), "action", "nginx", "start nginx failed: Error response from daemon: driver failed programming external connectivity: port is already allocated"),
    ]


def sample_probes() -> dict[str, Any]:
    """Fixed probe results: postgres ok, redis fail, nginx warn (API down), minio ok."""
    from liar_tui.stack.probes import ProbeResult

    at = FIXED_NOW - timedelta(seconds=3)
    return {
        "postgres": ProbeResult(
            "postgres", "warn",
            "a transaction has been open 912s (holds locks, blocks vacuum); PostgreSQL 15.6: 3/100 connections, liardb 7.4MiB",
            {"version": "15.6", "connections": 3, "max_connections": 100, "database": "liardb", "database_bytes": 7_759_000,
             "oldest_transaction_seconds": 912.4, "in_recovery": False, "read_only": False, "accepts_writes": True, "connect_ms": 4.2},
            0.012, at,
        ),
        "redis": ProbeResult(
            "redis", "fail",
            "password rejected (WRONGPASS/NOAUTH): the server's password differs from REDIS_PASSWORD in .env (after editing .env, recreate redis)",
            {}, 0.004, at,
        ),
        "nginx": ProbeResult(
            "nginx", "fail",
            "/health 200, but /api/health answers 502 Bad Gateway: nothing answers at the API upstream host.docker.internal:3000 (is the API running on the host?)",
            {"health_status": 200, "health_ms": 1.3, "api_path": "/api/health", "api_status": 502, "api_ms": 2.1,
             "upstream": "host.docker.internal:3000", "api_reachable": False},
            0.006, at,
        ),
        "minio": ProbeResult(
            "minio", "ok", "credentials accepted; game-logs 12 obj 48.0KiB, replays 0 obj 0B, user-uploads 3 obj 1.5MiB",
            {"buckets": [{"name": "game-logs", "objects": 12, "bytes": 49152, "truncated": False},
                         {"name": "replays", "objects": 0, "bytes": 0, "truncated": False},
                         {"name": "user-uploads", "objects": 3, "bytes": 1_572_864, "truncated": False}],
             "expected": ["game-logs", "user-uploads", "replays"], "missing": [], "objects": 15, "bytes": 1_622_016,
             "credentials_accepted": True},
            0.021, at,
        ),
    }


def sample_drift() -> dict[str, Any]:
    from liar_tui.stack.drift import DriftInfo

    return {
        "postgres": DriftInfo("postgres", checked=("config-hash", "image")),
        "redis": DriftInfo(
            "redis", True, "recreate",
            ("secret redis_password (REDIS_PASSWORD in .env) changed: differs in the container",),
            checked=("config-hash", "image", "secret:redis_password", "config:redis_conf"), causes=("secret:redis_password",),
        ),
        "nginx": DriftInfo("nginx", checked=("config-hash", "image", "file:nginx.conf")),
        "minio": DriftInfo("minio", checked=("config-hash", "image")),
    }


def sample_configs(root: Path) -> dict[str, ContainerConfig]:
    """How compose makes each container (the seed's limits, checks and mounts)."""
    def bind(service: str, target: str) -> tuple[MountInfo, ...]:
        return (MountInfo("bind", f"{root}/docker/volumes/{service}", target),)

    def make(n: int, command: tuple[str, ...], mem: int, mounts: tuple[MountInfo, ...], check: tuple[str, ...], every: float) -> ContainerConfig:
        return ContainerConfig(command=command, restart_policy="unless-stopped", memory_limit=mem * 2**20, mounts=mounts,
                               networks=(("liar-game-network", f"172.20.0.{n + 1}"),), check=check, check_interval=every,
                               check_timeout=5, check_retries=5, check_start_period=30)

    return {
        "postgres": make(1, ("docker-entrypoint.sh", "postgres"), 1024, bind("postgres", "/var/lib/postgresql/data"),
                         ("CMD-SHELL", 'pg_isready -q -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB"'), 10),
        "redis": make(2, ("docker-entrypoint.sh", "redis-server", "/usr/local/etc/redis/redis.conf"), 512, bind("redis", "/data"),
                      ("CMD-SHELL", "redis-cli ping | grep -qx PONG"), 10),
        "nginx": make(3, ("/docker-entrypoint.sh", "nginx", "-g", "daemon off;"), 256,
                      (MountInfo("bind", f"{root}/nginx/nginx.conf", "/etc/nginx/nginx.conf", writable=False),),
                      ("CMD", "curl", "-fsS", "http://127.0.0.1/health"), 10),
        "minio": make(4, ("/usr/bin/docker-entrypoint.sh", "server", "/data", "--console-address", ":9001"), 1024,
                      bind("minio", "/data"), ("CMD", "mc", "ready", "local"), 30),
    }


def make_snapshot_app(
    states: dict[str, ServiceState] | None = None,
    *,
    engine_status: EngineStatus = CONNECTED,
    settings: Settings | None = None,
    activity: Any = None,
    probe_factory: Any = None,
) -> tuple[LiarApp, FakeMonitor]:
    monitor = FakeMonitor(states if states is not None else sample_states(), sample_history(), engine_status)
    project = Project(root=Path("/nonexistent/liar-game"), name="liar-game")
    monitor._configs = sample_configs(project.root)
    app = LiarApp(
        project,
        settings or Settings(up=False),
        monitor=monitor,
        follower_factory=None,
        host_sampler=fixed_host,
        clock=fixed_clock,
        probe_factory=probe_factory,
        drift_check=False,
        activity=activity if activity is not None else MemoryActivity(),
    )
    return app, monitor


async def wait_until(pilot: Any, predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition", step: float = 0.1) -> Any:
    """Let the app run until predicate() is truthy (the app keeps processing messages meanwhile)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        await pilot.pause(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


async def palette_texts(pilot: Any, app: Any, ready: Callable[[list[str]], Any], timeout: float = 5.0) -> list[str]:
    """The command palette's options once `ready(texts)` holds (the palette fills its list in
    batches, after the keys: a fixed pause read or chose from a list not yet filtered), or the
    last texts seen when it never does, for the caller's assertion to show."""
    from textual.command import CommandPalette
    from textual.widgets import OptionList

    def texts() -> list[str]:
        if not isinstance(app.screen, CommandPalette):
            return []
        options = app.screen.query_one(OptionList)
        return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]

    deadline = time.monotonic() + timeout
    seen = texts()
    while not ready(seen) and time.monotonic() < deadline:
        await pilot.pause(0.05)
        seen = texts()
    await pilot.pause(0.3)  # a later batch may still reorder the list: let it land, then read
    return texts()


def send_keys_at_once(app: Any, *keys: str) -> None:
    """Keys as a terminal delivers a burst of typing: Pilot.press's event for each, without its
    wait for an idle app after each key (which can take longer than a debounce when the machine
    is loaded, and then tests nothing about keys typed together)."""
    import unicodedata

    from textual import events
    from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

    for key in keys:
        if len(key) == 1 and not key.isalnum():
            key = _character_to_key(key)
        try:
            char: str | None = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(key, key)))
        except KeyError:
            char = key if len(key) == 1 else None
        event = events.Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)


def run_sync(coro: Any) -> Any:
    return asyncio.run(coro)


class FakeStack:
    """Stands in for stack.compose.Stack: records calls, returns ActionResults (no compose)."""

    def __init__(self, fail: str = "") -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.fail = fail

    def _result(self, action: str, services: tuple[str, ...]) -> Any:
        from liar_tui.stack.model import ActionResult

        self.calls.append((action, services))
        if self.fail:
            return ActionResult(action, services, False, self.fail, 0.1)
        return ActionResult(action, services, True, "", 0.1)

    def _progress(self, on_progress: Any, resource: str, status: str) -> None:
        from liar_tui.stack.model import ProgressEvent

        if on_progress is not None and not self.fail:
            on_progress(ProgressEvent(resource, status))

    def restart(self, service: str, on_progress: Any = None, **_: Any) -> Any:
        self._progress(on_progress, f"Container liar-game-{service}", "Restarting")
        return self._result("restart", (service,))

    def recreate(self, service: str, on_progress: Any = None) -> Any:
        self._progress(on_progress, f"Container liar-game-{service}", "Recreated")
        return self._result("recreate", (service,))

    def stop(self, service: str, on_progress: Any = None) -> Any:
        self._progress(on_progress, f"Container liar-game-{service}", "Stopping")
        return self._result("stop", (service,))

    def start(self, service: str, on_progress: Any = None) -> Any:
        self._progress(on_progress, f"Container liar-game-{service}", "Starting")
        return self._result("start", (service,))

    def up_service(self, service: str, on_progress: Any = None) -> Any:
        self._progress(on_progress, f"Container liar-game-{service}", "Started")
        return self._result("up", (service,))

    def down(self, volumes: bool = False, on_progress: Any = None) -> Any:
        self._progress(on_progress, "Network liar-game-network", "Removed")
        self.calls.append(("down-volumes" if volumes else "down", ()))
        from liar_tui.stack.model import ActionResult

        return ActionResult("down", (), True, "", 0.1)

    def preflight(self, **_: Any) -> None:
        pass

    def up_events(self, services: Any = None, **_: Any) -> Any:
        from liar_tui.stack.model import ActionResult, ProgressEvent

        self.calls.append(("up", ()))
        yield ProgressEvent("Container liar-game-postgres", "Started")
        yield ActionResult("up", (), True, "", 0.2)



class SlowStack(FakeStack):
    """A FakeStack whose `held` actions (restart, recreate, up) run until `release` is set, as a
    compose still running: `started[action]` is set when one begins."""

    def __init__(self, *held: str) -> None:
        super().__init__()
        self.held = held
        self.started = {action: threading.Event() for action in held}
        self.release = threading.Event()

    def _hold(self, action: str) -> None:
        if action in self.held:
            self.started[action].set()
            self.release.wait(10)

    def restart(self, service: str, on_progress: Any = None, **kw: Any) -> Any:
        self._hold("restart")
        return self._result("restart", (service,))

    def recreate(self, service: str, on_progress: Any = None) -> Any:
        self._hold("recreate")
        return self._result("recreate", (service,))

    def up_events(self, services: Any = None, **kw: Any) -> Any:
        self._hold("up")
        yield from super().up_events(services, **kw)


def offline_app(
    states: dict[str, ServiceState] | None = None,
    *,
    stack: FakeStack | None = None,
    settings: Settings | None = None,
    project: Project | None = None,
    engine_status: EngineStatus = CONNECTED,
    probe_factory: Any = None,
    activity: Any = None,
) -> tuple[LiarApp, FakeMonitor, FakeStack]:
    """An app over FakeMonitor and FakeStack: every UI path without an engine."""
    monitor = FakeMonitor(states if states is not None else sample_states(), sample_history(), engine_status)
    fake = stack or FakeStack()
    app = LiarApp(
        project or Project(root=Path("/nonexistent/liar-game"), name="liar-game"),
        settings or Settings(up=False),
        monitor=monitor,
        follower_factory=None,
        host_sampler=fixed_host,
        clock=fixed_clock,
        stack_factory=lambda _p: fake,
        probe_factory=probe_factory,
        drift_check=False,
        activity=activity if activity is not None else MemoryActivity(),
    )
    return app, monitor, fake


def drawn(widget: Any) -> str:
    """What a line-API widget draws right now (its strips' text), line by line."""
    return "\n".join("".join(seg.text for seg in widget.render_line(y)) for y in range(widget.size.height))


class FakeProbeRunner:
    """ProbeRunner's interface without network: records what the app asks of it; `emit` hands a
    result over as the runner's thread would (on_result, and on_change when the level changed)."""

    instances: list["FakeProbeRunner"] = []

    def __init__(self, project: Project, *, interval: float, states: Callable[[], Any], on_result: Callable[[Any], None],
                 on_change: Callable[[Any, Any], None], **_: Any) -> None:
        self.project = project
        self.interval = interval
        self.states = states
        self.on_result = on_result
        self.on_change = on_change
        self.calls: list[str] = []
        self.paused = False
        self._results: dict[str, Any] = {}
        FakeProbeRunner.instances.append(self)

    def start(self) -> "FakeProbeRunner":
        self.calls.append("start")
        return self

    def stop(self, join: float = 1.0) -> None:
        self.calls.append("stop")

    def trigger(self) -> None:
        self.calls.append("trigger")

    def pause(self) -> None:
        self.paused = True
        self.calls.append("pause")

    def resume(self) -> None:
        self.paused = False
        self.calls.append("resume")

    def results(self) -> dict[str, Any]:
        return dict(self._results)

    def emit(self, result: Any) -> None:
        previous = self._results.get(result.service)
        self._results[result.service] = result
        self.on_result(result)
        if previous is None or previous.level != result.level:
            self.on_change(previous, result)


# -- the real stack: the API behind nginx, and the guard that keeps its requests on this host -------
from stackkit import HostApi, require_local_host_gateway  # noqa: E402,F401  (shared with tests/stack)


def body_text(screen: Any, selectors: tuple[str, ...] = ("#health-body", "#health-stats", "#health-docker")) -> str:
    """The plain text of Statics' content (by default the health view's: probes, stats, docker)."""
    from rich.console import Console
    from textual.widgets import Static

    console = Console(width=200, record=True, color_system=None)
    for selector in selectors:
        console.print(screen.query_one(selector, Static).content)
    return console.export_text()


def log_text(richlog: Any) -> str:
    """What a RichLog holds, line by line (the activity view)."""
    return "\n".join("".join(seg.text for seg in strip) for strip in richlog.lines)
