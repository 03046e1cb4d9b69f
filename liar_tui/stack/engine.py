"""The Docker Engine API over its socket: fast inspect/list and the streams (events, stats, logs).

python-on-whales shells out to the docker CLI for every call (~13-75 ms) and cannot stream stats
or events; engineapi.EngineAPI talks to the socket directly (~1 ms per inspect) and streams.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .engineapi import APIError, EngineAPI, NotFound
from .errors import EngineMissing, EngineUnreachable
from .model import LABEL_PROJECT, LABEL_SERVICE, SERVICES, ServiceState, StatsSample, parse_inspect, stats_from_frame

DEFAULT_SOCKET = "/var/run/docker.sock"

#: Container events that change what a pane shows. exec_* (healthcheck runs) are left out on purpose.
STATE_EVENTS = (
    "create",
    "start",
    "restart",
    "die",
    "stop",
    "kill",
    "pause",
    "unpause",
    "destroy",
    "oom",
    "health_status",
    "rename",
    "update",
)


@dataclass(frozen=True)
class EngineInfo:
    address: str
    version: str
    api_version: str


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or f"unix://{DEFAULT_SOCKET}"


def is_default_socket(address: str) -> bool:
    """The socket a plain `dockerd` listens on (what `liar-tui setup` can start)."""
    return address in (f"unix://{DEFAULT_SOCKET}", "unix:///run/docker.sock", "unix:///var/run/docker.sock")


def explain_connection_error(exc: BaseException) -> str:
    """One line that says why the engine is not answering and what to do."""
    address = engine_address()
    text = str(exc)
    if address.startswith("unix://"):
        sock = address[len("unix://") :]
        if not os.path.exists(sock):
            if shutil.which("dockerd") is None and shutil.which("docker") is None:
                return (
                    "Docker is not installed: run `sudo liar-tui setup` (installs Debian's docker.io) "
                    "or install Docker Engine"
                )
            if shutil.which("dockerd") is None and not any(os.path.exists(p) for p in ("/usr/sbin/dockerd", "/usr/bin/dockerd")):
                return (
                    f"there is a docker CLI but no Docker engine here (no dockerd, no {sock}): run "
                    f"`sudo liar-tui setup` (installs Debian's docker.io and starts it) or install Docker Engine"
                )
            if not is_default_socket(address):
                # Someone chose this socket: starting the default engine would not help.
                return (f"nothing listens at DOCKER_HOST={address} (no such socket): start the engine that "
                        f"listens there, or unset DOCKER_HOST to use {DEFAULT_SOCKET}")
            return (
                f"Docker engine is not running (no {sock}): start it with `sudo systemctl start docker` "
                f"or `sudo dockerd &`, or run `sudo liar-tui setup`"
            )
        if "Permission denied" in text or isinstance(exc, PermissionError):
            return f"no permission on {sock}: run as root or add yourself to the docker group (`sudo usermod -aG docker $USER`)"
        if "Connection refused" in text:
            if not is_default_socket(address):
                return (f"nothing answers at DOCKER_HOST={address} (a stale socket): start the engine that "
                        f"listens there, or unset DOCKER_HOST to use {DEFAULT_SOCKET}")
            return (
                f"Docker engine at {address} refuses connections (stale socket?): restart it with "
                f"`sudo systemctl restart docker` or `sudo dockerd &`"
            )
    if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
        return f"the Docker engine at {address} dropped the connection mid-command: run the command again"
    return f"Docker engine at {address} is not reachable ({text.splitlines()[0][:160] if text else type(exc).__name__}): start it or fix DOCKER_HOST"


class Engine:
    """A thin client for the calls liar-tui makes often; every stream has a close()."""

    def __init__(self, timeout: float = 10.0) -> None:
        try:
            self.api = EngineAPI(engine_address(), timeout=timeout)
        except ValueError as exc:  # a malformed DOCKER_HOST
            raise EngineUnreachable(f"{exc}: fix DOCKER_HOST") from None

    # -- connection -------------------------------------------------------------------------
    def ping(self) -> None:
        """Raise EngineUnreachable/EngineMissing (one line) unless the engine answers."""
        try:
            self.api.ping()
        except (APIError, OSError) as exc:  # ProtocolError is an OSError too
            message = explain_connection_error(exc)
            cls = EngineMissing if message.startswith("Docker is not installed") else EngineUnreachable
            raise cls(message) from None

    def info(self) -> EngineInfo:
        v = self.api.version(api_version=False)
        return EngineInfo(
            address=engine_address(),
            version=str(v.get("Version", "?")),
            api_version=str(v.get("ApiVersion", "?")),
        )

    def close(self) -> None:
        try:
            self.api.close()
        except Exception:  # noqa: BLE001 - closing best effort
            pass

    # -- state ------------------------------------------------------------------------------
    def project_containers(self, project: str) -> list[dict[str, Any]]:
        return self.api.containers(all=True, filters={"label": f"{LABEL_PROJECT}={project}"})

    def inspect(self, container: str) -> dict[str, Any] | None:
        try:
            return self.api.inspect_container(container)
        except NotFound:
            return None

    def project_states(self, project: str, services: tuple[str, ...] = SERVICES) -> dict[str, ServiceState]:
        """State of every service of the project; services without a container are 'missing'."""
        states: dict[str, ServiceState] = {s: ServiceState(service=s) for s in services}
        # The newest container of a service wins (a recreate briefly leaves two).
        rows = sorted(self.project_containers(project), key=lambda c: c.get("Created", 0))
        for row in rows:
            service = (row.get("Labels") or {}).get(LABEL_SERVICE, "")
            data = self.inspect(row["Id"])
            if data is None:
                continue
            states[service] = parse_inspect(data, service)
        return states

    # -- streams ----------------------------------------------------------------------------
    def events(self, project: str, since: float | None = None, until: float | None = None) -> Any:
        """Blocking iterator of decoded container events of the project (close() to stop; with
        `until`, epoch seconds, it ends then)."""
        return self.api.events(
            since=since,
            until=until,
            filters={
                "type": "container",
                "label": f"{LABEL_PROJECT}={project}",
                "event": list(STATE_EVENTS),
            },
        )

    def stats(self, container: str) -> Any:
        """Blocking iterator of stats frames, one per second (close() to stop)."""
        return self.api.stats(container)

    def logs(
        self,
        container: str,
        *,
        follow: bool = True,
        tail: int | str | None = 200,
        since: float | str | None = None,
        timestamps: bool = True,
    ) -> Any:
        """The raw log stream (multiplexed stdout/stderr; read with chunks(), close() to stop)."""
        return self.api.logs(container, follow=follow, tail=tail, since=since, timestamps=timestamps)


class StreamHandle:
    """Owns a background thread reading a blocking engine stream; stop() ends it promptly."""

    def __init__(self, name: str, target: Callable[["StreamHandle"], None]) -> None:
        self._stop = threading.Event()
        self._stream: Any = None
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=target, args=(self,), name=name, daemon=True)

    def start(self) -> "StreamHandle":
        self.thread.start()
        return self

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def attach(self, stream: Any) -> Any:
        with self._lock:
            self._stream = stream
            if self._stop.is_set():
                _close_quietly(stream)
        return stream

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when stop() was called meanwhile."""
        return self._stop.wait(seconds)

    def stop(self, join: float = 1.0) -> None:
        self._stop.set()
        with self._lock:
            if self._stream is not None:
                _close_quietly(self._stream)
        if threading.current_thread() is not self.thread and self.thread.is_alive():
            self.thread.join(join)


def _close_quietly(stream: Any) -> None:
    try:
        stream.close()
    except Exception:  # noqa: BLE001
        pass


def follow_stats(
    engine: Engine,
    service: str,
    container_id: str,
    on_sample: Callable[[StatsSample], None],
) -> StreamHandle:
    """Stream one container's stats (one frame per second) into on_sample until stopped or it exits."""

    def run(handle: StreamHandle) -> None:
        previous: StatsSample | None = None
        try:
            stream = handle.attach(engine.stats(container_id))
            for frame in stream:
                if handle.stopped:
                    break
                if not frame.get("read") or frame.get("read", "").startswith("0001-"):
                    continue  # container gone
                sample = stats_from_frame(service, frame, time.time(), previous)
                previous = sample
                on_sample(sample)
        except Exception:  # noqa: BLE001 - a closed socket or a removed container ends the stream
            return

    return StreamHandle(f"stats-{service}", run).start()
