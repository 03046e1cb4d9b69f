"""Compose lifecycle through python-on-whales, with compose's output captured, never printed.

Every action returns an ActionResult carrying compose's own error text when it fails. Preflight
checks turn the usual failures (no engine, no compose plugin, no .env, a port in use, a broken
compose file) into one line that names the fix.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from .engine import Engine
from .errors import (
    BadBindAddress,
    ComposeBusy,
    ComposeMissing,
    EngineMissing,
    ProjectElsewhere,
    EnvFileMissing,
    SecretMissing,
    InvalidComposeFile,
    NoContainer,
    PortInUse,
    StackError,
    UnknownService,
)
from .locks import TURN_WAIT, compose_turn
from .model import BACKUP_SERVICES as DATA_SERVICES
from .model import SERVICES, ActionResult, ProgressEvent, ServiceState
from .project import Project

# compose writes machine-readable progress instead of drawing on a terminal it does not own.
COMPOSE_ENV = {"COMPOSE_PROGRESS": "json", "COMPOSE_ANSI": "never", "COMPOSE_STATUS_STDOUT": "0"}

#: host-port variable for each (service, container port) published by the compose file.
PORT_VARIABLES: dict[tuple[str, int], str] = {
    ("postgres", 5432): "POSTGRES_PORT",
    ("redis", 6379): "REDIS_PORT",
    ("nginx", 80): "NGINX_HTTP_PORT",
    ("minio", 9000): "MINIO_API_PORT",
    ("minio", 9001): "MINIO_CONSOLE_PORT",
}


@dataclass(frozen=True)
class PublishedPort:
    service: str
    host_ip: str
    host_port: int
    container_port: int

    @property
    def variable(self) -> str:
        return PORT_VARIABLES.get((self.service, self.container_port), "")


def first_error_line(text: str) -> str:
    """compose's message without progress noise: the last meaningful line of stderr."""
    lines = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except ValueError:
                lines.append(line)
                continue
            if data.get("error") or data.get("level") == "error":
                lines.append(str(data.get("message") or data.get("text") or data.get("status") or line))
            continue
        lines.append(line)
    for line in reversed(lines):
        if line.lower().startswith(("error", "service", "failed", "dependency")) or "error" in line.lower():
            return _strip_prefix(line)
    return _strip_prefix(lines[-1]) if lines else "compose failed without a message"


def _strip_prefix(line: str) -> str:
    for prefix in ("Error response from daemon: ",):
        line = line.replace(prefix, "")
    return line


#: Seconds `up` waits for an unpaused service's healthcheck to pass again (one interval and its
#: timeout, with room).
UNPAUSE_HEALTH_WAIT = 30.0


def parse_progress_line(line: str) -> ProgressEvent | None:
    """One COMPOSE_PROGRESS=json line -> ProgressEvent (None for anything else)."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        data = json.loads(line)
    except ValueError:
        return None
    resource = str(data.get("id") or data.get("ID") or "")
    status = str(data.get("status") or data.get("Status") or data.get("text") or "")
    text = str(data.get("text") or data.get("Text") or data.get("details") or "")
    error = bool(data.get("error")) or str(data.get("level", "")).lower() == "error"
    if not resource and not status and not text:
        message = str(data.get("message") or "")
        if not message:
            return None
        return ProgressEvent(resource="", status=message, text="", error=error)
    return ProgressEvent(resource=resource, status=status, text=text, error=error)


def port_conflict_message(port: PublishedPort, project: Project) -> str:
    var = port.variable or "the port variable"
    return (
        f"port {port.host_port} on {port.host_ip} ({var}, {port.service}) is already in use: "
        f"stop what listens there (`ss -ltnp 'sport = :{port.host_port}'`) or set {var} in {project.rel(project.env_file)}"
    )


def port_is_free(host_ip: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host_ip, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            if exc.errno == errno.EACCES:
                # A port below 1024 and no privilege to bind it (a docker-group user): the engine
                # binds it, not us. Taken only if something listens there already (on that
                # address, or on every address), as bind would have said.
                return not any(p == port and (addr == host_ip or addr in ("0.0.0.0", "::") or host_ip in ("0.0.0.0", "::"))
                               for addr, p in listening_sockets())
            return True  # e.g. address not on this host: let compose say so
    return True


def address_is_local(host_ip: str) -> bool:
    """Whether this host has the address (the engine binds published ports in this network
    namespace): False only when the kernel says it cannot assign it."""
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((host_ip, 0))
        except OSError as exc:
            return exc.errno != errno.EADDRNOTAVAIL
    return True


def listening_sockets(proc_net: str = "/proc/net") -> set[tuple[str, int]]:
    """(address, port) of every listening TCP socket, from /proc/net/tcp and tcp6."""
    found: set[tuple[str, int]] = set()
    for name in ("tcp", "tcp6"):
        try:
            with open(f"{proc_net}/{name}") as fh:
                next(fh, None)
                for line in fh:
                    fields = line.split()
                    if len(fields) > 3 and fields[3] == "0A":  # TCP_LISTEN
                        addr_hex, port_hex = fields[1].rsplit(":", 1)
                        found.add((_proc_address(addr_hex), int(port_hex, 16)))
        except (OSError, ValueError):
            continue
    return found


def listening_ports(proc_net: str = "/proc/net") -> set[int]:
    """TCP ports something listens on, any address."""
    return {port for _addr, port in listening_sockets(proc_net)}


def _proc_address(hex_addr: str) -> str:
    """/proc/net/tcp's address (host byte order, 32-bit words) -> '127.0.0.1' or '::1'."""
    raw = bytes.fromhex(hex_addr)
    words = raw if sys.byteorder == "big" else b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    if len(words) == 4:
        return socket.inet_ntop(socket.AF_INET, words)
    if words[:12] == b"\0" * 10 + b"\xff\xff":  # an IPv4-mapped v6 socket
        return socket.inet_ntop(socket.AF_INET, words[12:])
    return socket.inet_ntop(socket.AF_INET6, words)


class Stack:
    """The liar-game stack of one project: lifecycle actions and state."""

    def __init__(self, project: Project, engine: Engine | None = None) -> None:
        self.project = project
        self._engine = engine
        # how long an action waits for its compose turn while another liar-tui has it, who
        # hears why it waits, and what a refusal adds (the CLI's --wait-turn sets all three)
        self.turn_wait = TURN_WAIT
        self.on_turn_wait: Callable[[str], None] | None = None
        self.busy_hint = ""
        for key, value in COMPOSE_ENV.items():
            os.environ.setdefault(key, value)
        self.docker = DockerClient(
            compose_files=[*project.compose_files()],
            compose_project_name=project.name,
            compose_env_files=[project.env_file] if project.env_file.exists() else [],
            compose_project_directory=project.compose_dir,
        )

    # -- preflight ---------------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = Engine()
        return self._engine

    def check_engine(self) -> None:
        if shutil.which("docker") is None:
            raise EngineMissing(
                "the docker CLI is not installed: run `sudo liar-tui setup` (installs Debian's docker.io "
                "and the compose plugin) or install Docker Engine"
            )
        self.engine.ping()

    def check_compose(self) -> None:
        try:
            proc = subprocess.run(
                ["docker", "compose", "version", "--short"],
                capture_output=True,
                text=True,
                timeout=20,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ComposeMissing(f"`docker compose` does not run ({exc}): run `sudo liar-tui setup`") from None
        if proc.returncode != 0 or not proc.stdout.strip()[:1].isdigit():
            raise ComposeMissing(
                "the compose v2 plugin is missing (`docker compose version` fails): run `liar-tui setup` "
                "or install docker-compose-plugin"
            )
        if proc.stdout.strip().startswith("1."):
            raise ComposeMissing("compose v1 is not supported: install compose v2 (`liar-tui setup` does)")

    def check_env(self) -> None:
        if not self.project.env_file.exists():
            raise EnvFileMissing(
                f"{self.project.rel(self.project.env_file)} is missing: run `liar-tui setup` (writes one with "
                f"strong random passwords) or copy {self.project.rel(self.project.env_example)} to it and set the passwords"
            )

    def config(self) -> dict:
        """The resolved compose model (compose validates the file)."""
        try:
            return self.docker.compose.config(return_json=True)
        except DockerException as exc:
            raise InvalidComposeFile(
                f"compose rejects {self.project.rel(self.project.compose_file)}: "
                f"{first_error_line(exc.stderr or '')}"
            ) from None

    def published_ports(self, config: dict | None = None) -> list[PublishedPort]:
        config = config if config is not None else self.config()
        result = []
        for service, spec in (config.get("services") or {}).items():
            for p in spec.get("ports") or []:
                try:
                    result.append(
                        PublishedPort(
                            service=service,
                            host_ip=str(p.get("host_ip") or "0.0.0.0"),
                            host_port=int(p.get("published")),
                            container_port=int(p.get("target")),
                        )
                    )
                except (TypeError, ValueError):
                    continue
        return result

    def check_ports(self, services: list[str] | None = None, config: dict | None = None) -> None:
        """Fail with the port and its variable when a port our services need is taken.

        A port is ours (not a conflict) only when the service's own running container publishes
        it now: a port changed in .env, or one another service of ours holds, is checked like any
        other."""
        states = self.states()
        for port in self.published_ports(config):
            if services and port.service not in services:
                continue
            if not address_is_local(port.host_ip):
                raise BadBindAddress(
                    f"BIND_ADDRESS {port.host_ip} ({port.service}) is not an address of this host: set BIND_ADDRESS in "
                    f"{self.project.rel(self.project.env_file)} to 127.0.0.1, 0.0.0.0 or one of this host's addresses"
                )
            state = states.get(port.service)
            # (a paused container holds its ports too: its restart was refused as "port in use")
            if state is not None and state.state in ("running", "paused") and any(
                    b.host_port == port.host_port for b in state.ports):
                continue  # its own container holds it, and keeps it (up) or frees it first (recreate)
            if not port_is_free(port.host_ip, port.host_port):
                raise PortInUse(port_conflict_message(port, self.project))

    def check_secrets(self, services: list[str] | None = None, config: dict | None = None) -> None:
        """Every compose secret the services use must have its variable set: compose checks it
        only when it creates the container, after a recreate has removed the working one."""
        config = config if config is not None else self.config()
        declared = config.get("secrets") or {}
        env = self.project.env()
        for service, spec in (config.get("services") or {}).items():
            if services and service not in services:
                continue
            for ref in spec.get("secrets") or []:
                name = ref.get("source") if isinstance(ref, dict) else str(ref)
                var = (declared.get(name) or {}).get("environment")
                if var and not (env.get(var) or os.environ.get(var) or "").strip():
                    raise SecretMissing(
                        f"{self.project.rel(self.project.env_file)} has no {var} ({service} needs it): set it there "
                        f"(for a stack with data, the value the service already has; see compose/.env.example)"
                    )

    def preflight(self, *, ports: bool = False, services: list[str] | None = None, env: bool = True) -> None:
        """All checks an action needs, cheapest first. `env=False` (down): a missing .env is no
        reason to refuse, the action reads the compose file with the example's values."""
        self.check_engine()
        self.check_compose()
        if not env and not self.project.env_file.exists():
            return
        self.check_env()
        config = self.config()
        self.check_secrets(services, config)
        if ports:
            self.check_ports(services, config)

    def validate_services(self, services: list[str] | tuple[str, ...]) -> None:
        for s in services:
            if s not in SERVICES:
                raise UnknownService(f"no service named {s!r}: choose one of {', '.join(SERVICES)}")

    # -- state -------------------------------------------------------------------------------
    def states(self) -> dict[str, ServiceState]:
        return self.engine.project_states(self.project.name)

    def made_elsewhere(self, states: dict[str, ServiceState] | None = None) -> Path | None:
        """The other checkout this project name's containers were made from, if any."""
        for st in (states if states is not None else self.states()).values():
            other = self.project.made_elsewhere(st.working_dir) if st.container_id else None
            if other is not None:
                return other
        return None

    def check_owner(self) -> dict[str, ServiceState]:
        """The states, unless the containers under this project name were made from another copy
        of the project: compose would take them over, and a recreate would mount this copy's
        (maybe empty) data instead of theirs, so every action refuses."""
        states = self.states()
        other = self.made_elsewhere(states)
        if other is not None:
            raise ProjectElsewhere(self.project.elsewhere_message(other))
        return states

    # -- lifecycle ---------------------------------------------------------------------------
    def _run(self, action: str, services: list[str], fn: Callable[[], object],
             on_progress: Callable[[ProgressEvent], None] | None = None,
             after: Callable[[], None] | None = None) -> ActionResult:
        """Run `fn` (compose) in this action's turn on `services` (none: the whole stack), and
        `after` once it succeeded, still in that turn."""
        started = time.monotonic()
        try:
            with self._turn(services):
                started = time.monotonic()  # "done in": compose's time, not the wait for a turn
                result = fn()
                if result is not None and hasattr(result, "__iter__") and not isinstance(result, (str, bytes, list)):
                    for _source, raw in result:  # a stream_logs generator: compose's progress lines
                        if on_progress is not None:
                            event = parse_progress_line(raw.decode("utf-8", "replace"))
                            if event is not None:
                                on_progress(event)
                if after is not None:
                    after()
        except DockerException as exc:
            text = (exc.stderr or "") + "\n" + (exc.stdout or "")
            return ActionResult(action, tuple(services), False, self.project.redactor()(first_error_line(text)), time.monotonic() - started)
        except StackError as exc:
            return ActionResult(action, tuple(services), False, str(exc), time.monotonic() - started, exc.exit_code)
        return ActionResult(action, tuple(services), True, "", time.monotonic() - started)

    @contextlib.contextmanager
    def _turn(self, services: list[str]) -> Iterator[None]:
        try:
            with compose_turn(self.project, services, wait=self.turn_wait, on_wait=self.on_turn_wait):
                yield
        except ComposeBusy as exc:
            if self.busy_hint:
                raise ComposeBusy(f"{exc}{self.busy_hint}") from None
            raise

    def up_events(
        self, services: list[str] | None = None, *, wait: bool = False, wait_timeout: int | None = None
    ) -> Iterator[ProgressEvent | ActionResult]:
        """`compose up -d`, yielding progress events as they come and an ActionResult last. In the
        whole stack's turn (compose_turn), even for some services: it starts what they depend on."""
        services = list(services or [])
        started = time.monotonic()
        with contextlib.ExitStack() as turn:
            try:
                turn.enter_context(self._turn([]))
            except StackError as exc:
                yield ActionResult("up", tuple(services), False, str(exc), time.monotonic() - started, exc.exit_code)
                return
            yield from self._up_events(services, time.monotonic(), wait, wait_timeout)

    def _up_events(self, services: list[str], started: float, wait: bool,
                   wait_timeout: int | None) -> Iterator[ProgressEvent | ActionResult]:
        stderr_lines: list[str] = []
        try:
            states = self.check_owner()
        except StackError as exc:
            yield ActionResult("up", tuple(services), False, str(exc), time.monotonic() - started, exc.exit_code)
            return
        self.make_data_dirs()
        try:
            # compose up refuses a paused container ("cannot start a paused container"): up means
            # every service runs, so those are unpaused first (QA: u left a paused redis paused)
            paused = [s for s, st in states.items() if st.state == "paused" and (not services or s in services)]
            if paused:
                yield from self._unpause_for_up(paused, states)
            stream = self.docker.compose.up(
                services or None,
                detach=True,
                wait=wait,
                wait_timeout=wait_timeout,
                pull="missing",
                stream_logs=True,
            )
            for _source, raw in stream:
                line = raw.decode("utf-8", "replace")
                stderr_lines.append(line)
                del stderr_lines[:-200]
                event = parse_progress_line(line)
                if event is not None:
                    yield event
        except DockerException as exc:
            text = (exc.stderr or "") or "\n".join(stderr_lines)
            message = self.project.redactor()(self._explain_up_failure(first_error_line(text)))
            yield ActionResult("up", tuple(services), False, message, time.monotonic() - started)
            return
        if wait:
            # compose's --wait sometimes exits 0 when its timeout ends with a service still
            # "starting" (seen here in about one run in four): success means healthy, so look
            states = self.states()
            slow = [s for s in (services or SERVICES)
                    if (st := states.get(s)) is None or not st.running or st.health.status not in ("healthy", "none", "")]
            if slow:
                after = f"after {wait_timeout}s" if wait_timeout else "when compose stopped waiting"
                yield ActionResult("up", tuple(services), False, f"application not healthy {after}", time.monotonic() - started)
                return
        yield ActionResult("up", tuple(services), True, "", time.monotonic() - started)

    def _unpause_for_up(self, paused: list[str], states: dict[str, ServiceState]) -> Iterator[ProgressEvent]:
        """Unpause, then wait (on the event stream, at most UNPAUSE_HEALTH_WAIT s) for those whose
        health went bad while they were frozen: Docker keeps "unhealthy" until a check passes,
        and compose's dependency check failed on it at once."""
        def container(service: str) -> str:
            return f"Container {states[service].container_name or service}"

        since = time.time()
        self.docker.compose.unpause(paused)
        for service in paused:
            yield ProgressEvent(resource=container(service), status="Unpaused")
        now = self.states()
        waiting = {now[s].container_id: s for s in paused if s in now and now[s].health.status == "unhealthy"}
        if not waiting:
            return
        events = self.engine.events(self.project.name, since=since, until=time.time() + UNPAUSE_HEALTH_WAIT)
        try:
            for event in events:
                cid = str((event.get("Actor") or {}).get("ID") or event.get("id") or "")
                action = str(event.get("Action") or event.get("status") or "")
                if cid in waiting and action == "health_status: healthy":
                    yield ProgressEvent(resource=container(waiting.pop(cid)), status="Healthy")
                    if not waiting:
                        return
        finally:
            events.close()

    def _explain_up_failure(self, message: str) -> str:
        low = message.lower()
        if "address already in use" in low or "port is already allocated" in low:
            return f"{message} — a host port is taken: change the *_PORT values in {self.project.rel(self.project.env_file)}"
        if "pull access denied" in low or "no such host" in low or "failed to resolve" in low or "failed to pull" in low:
            return f"{message} — images cannot be pulled here: run `liar-tui setup` to build the offline images"
        return message

    def up(self, services: list[str] | None = None, *, wait: bool = False, wait_timeout: int | None = None,
           on_progress: Callable[[ProgressEvent], None] | None = None) -> ActionResult:
        result: ActionResult | None = None
        for item in self.up_events(services, wait=wait, wait_timeout=wait_timeout):
            if isinstance(item, ActionResult):
                result = item
            elif on_progress is not None:
                on_progress(item)
        assert result is not None
        return result

    def down(self, *, volumes: bool = False, on_progress: Callable[[ProgressEvent], None] | None = None) -> ActionResult:
        """Stop and remove the containers and network. Data in docker/volumes/ (bind mounts) stays;
        `volumes=True` also removes it, and named volumes."""
        # the action's name says when the data goes too: in the result, the toast and the activity log
        action = "down (data deleted)" if volumes else "down"
        def run() -> object:
            self.check_owner()
            return self._docker_without_secrets().compose.down(volumes=volumes, remove_orphans=True, stream_logs=True)

        # the data goes in the same turn: an up elsewhere would start the services on it meanwhile
        return self._run(action, [], run, on_progress, after=self._remove_data if volumes else None)

    def _docker_without_secrets(self) -> DockerClient:
        """Stopping a service or taking the stack down needs no secret: with .env gone (lost, or
        moved aside), compose reads the file with the example's placeholder values instead of
        refusing, so a stack whose .env was lost can still be stopped. (Restart, start and
        recreate would run the services, so they ask for the .env with a one-line error.)"""
        if self.project.env_file.exists() or not self.project.env_example.exists():
            return self.docker
        return DockerClient(
            compose_files=[*self.project.compose_files()],
            compose_project_name=self.project.name,
            compose_env_files=[self.project.env_example],
            compose_project_directory=self.project.compose_dir,
        )

    def _ready_to_run(self) -> None:
        """Before an action that runs a service (restart, start, recreate): the .env it needs,
        and its data folders made by us, not the engine."""
        self.check_env()
        self.make_data_dirs()

    def make_data_dirs(self) -> None:
        """Create the services' bind-mounted data folders (docker/volumes/SVC) as whoever runs
        liar-tui, before compose would: the engine creates a missing one as root, and so also
        `docker/`, where liar-tui keeps its activity log and locks. Run as a user of the docker
        group, liar-tui could then not record anything, nor restore (its lock is there). The
        services' entrypoints give the folders to their own users, as they do a root-owned one."""
        for service in DATA_SERVICES:
            try:
                (self.project.data_dir / service).mkdir(parents=True, exist_ok=True)
            except OSError:
                return  # compose creates them (as root), and says so if it cannot either

    def _remove_data(self) -> None:
        data = self.project.data_dir
        if not data.exists():
            return
        if os.geteuid() != 0:
            # The data belongs to the containers' users (postgres 999, root): a user of the docker
            # group cannot remove it, and rmtree would stop half-way. The engine can.
            self._remove_data_by_engine(data)
            return
        try:
            shutil.rmtree(data, ignore_errors=False)
        except OSError as exc:
            where = exc.filename or data
            raise StackError(
                f"the containers are down, but {where} could not be removed ({exc.strerror or exc}): the data "
                f"belongs to the containers' users; remove {data} as root (sudo rm -rf {data})"
            ) from None

    def _remove_data_by_engine(self, data: Path) -> None:
        """`rm -rf` of the data folder in a throwaway container (as root, no network) of one of
        the stack's own images (present: the stack ran from them)."""
        failure = "no image of the stack is present"
        for image in self._stack_images():
            try:
                self.docker.run(image, ["-rf", f"/liar-tui-data/{data.name}"], entrypoint="rm", remove=True, user="0:0",
                                networks=["none"], volumes=[(str(data.parent), "/liar-tui-data")])
            except DockerException as exc:
                failure = first_error_line(exc.stderr or "") or str(exc)
                continue
            if not data.exists():
                return
            failure = "it is still there"
        raise StackError(
            f"the containers are down, but {data} could not be removed through the engine ({failure}): "
            f"remove it as root (sudo rm -rf {data})"
        )

    def _stack_images(self) -> list[str]:
        try:
            services = self._docker_without_secrets().compose.config(return_json=True)["services"]
        except (DockerException, KeyError, TypeError):
            return []
        images = [services.get(s, {}).get("image") for s in DATA_SERVICES]
        present = []
        for image in dict.fromkeys(i for i in images if i):
            try:
                if self.docker.image.exists(image):
                    present.append(image)
            except DockerException:
                continue
        return present

    def restart(self, service: str, *, timeout: int | None = None,
                on_progress: Callable[[ProgressEvent], None] | None = None) -> ActionResult:
        """`compose restart SVC`; `timeout`: seconds to wait after SIGTERM before SIGKILL (compose's
        default 10). Autoheal uses a short one: a hung process ignores SIGTERM anyway."""
        self.validate_services([service])

        def run() -> object:
            self._ready_to_run()
            state = self._container_of(service, "restart")
            if state.state in ("exited", "created", "dead"):
                # a stopped container's restart binds its ports again (a paused or crash-looping
                # one holds them, or takes them back itself: checking said "port in use")
                self.check_ports([service])
            # python-on-whales' restart cannot stream compose's progress: the same command, streamed.
            from python_on_whales.utils import stream_stdout_and_stderr

            cmd = self.docker.compose.docker_compose_cmd + ["restart"]
            if timeout is not None:
                cmd += ["--timeout", str(timeout)]
            return stream_stdout_and_stderr(cmd + [service])

        return self._run("restart", [service], run, on_progress)

    def stop(self, service: str, *, on_progress: Callable[[ProgressEvent], None] | None = None) -> ActionResult:
        self.validate_services([service])

        def run() -> object:
            self._container_of(service, "stop")
            return self._docker_without_secrets().compose.stop([service], stream_logs=True)

        return self._run("stop", [service], run, on_progress)

    def start(self, service: str, *, on_progress: Callable[[ProgressEvent], None] | None = None) -> ActionResult:
        """Make the service's container run: `compose start`, or `compose unpause` when it is
        paused (start refused it, after a misleading "port in use": the paused container holds it)."""
        self.validate_services([service])

        def run() -> object:
            self._ready_to_run()
            state = self._container_of(service, "start")
            if state.state == "paused":
                return self.docker.compose.unpause([service])
            if not state.running:
                self.check_ports([service])
            return self.docker.compose.start([service], stream_logs=True)

        return self._run("start", [service], run, on_progress)

    def up_service(self, service: str, *, on_progress: Callable[[ProgressEvent], None] | None = None) -> ActionResult:
        """`up -d SVC`: a service with no container (removed, or never made) gets one and starts
        (with what it depends on, as compose does). The console's `s` on such a service."""
        self.validate_services([service])
        started = time.monotonic()
        try:
            self.preflight(ports=True, services=[service])
        except StackError as exc:
            return ActionResult("up", (service,), False, str(exc), time.monotonic() - started, exc.exit_code)
        return self.up([service], on_progress=on_progress)

    def _container_of(self, service: str, action: str) -> ServiceState:
        """The service's container; a one-line error naming the fix when there is none (compose
        itself would 'restart' or 'stop' nothing and say it did)."""
        state = self.check_owner().get(service)
        if state is None or not state.container_id:
            raise NoContainer(f"{service} has no container: bring it up first (`liar-tui up {service}`)")
        return state

    def recreate(self, service: str, *, on_progress: Callable[[ProgressEvent], None] | None = None) -> ActionResult:
        """`up -d --force-recreate --no-deps SVC`: a new container from the current file and .env."""
        self.validate_services([service])

        def run() -> object:
            self._ready_to_run()
            self.check_owner()
            # before the working container is removed: compose finds these only after that
            config = self.config()
            self.check_secrets([service], config)
            self.check_ports([service], config)
            return self.docker.compose.up(
                [service], detach=True, force_recreate=True, dependencies=False, stream_logs=True
            )

        return self._run("recreate", [service], run, on_progress)

    def logs_command(self, service: str, *, follow: bool, tail: int | None) -> list[str]:
        """The compose argv for `logs` (used by the CLI, which hands compose the terminal)."""
        args = ["docker", "compose", "-p", self.project.name]
        for f in self.project.compose_files():
            args += ["-f", str(f)]
        if self.project.env_file.exists():
            args += ["--env-file", str(self.project.env_file)]
        args += ["logs", "--no-color"]
        if follow:
            args.append("-f")
        if tail is not None:
            args += ["--tail", str(tail)]
        args.append(service)
        return args
