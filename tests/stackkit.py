"""Helpers for tests that run the real stack: isolated projects, free ports, waits, clients.

Every test project gets its own compose project name, its own copy of compose/ and nginx/ in a tmp
folder (so data lands in that folder's docker/volumes), free 127.0.0.1 ports and fresh passwords.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import string
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from liar_tui.stack.compose import Stack
from liar_tui.stack.engine import Engine
from liar_tui.stack.hostsetup import OFFLINE_IMAGES
from liar_tui.stack.model import SERVICES, ServiceState, parse_inspect
from liar_tui.stack.project import Project

REPO = Path(__file__).resolve().parent.parent

#: Short healthcheck timing for tests: the commands stay the compose file's own.
TEST_OVERRIDE = """\
services:
{services}
"""
_HEALTH = """\
  {name}:
    healthcheck:
      interval: 1s
      timeout: 3s
      retries: 2
      start_period: 30s
"""

T = TypeVar("T")


#: Ports handed out in this process: each test stack gets its own, even while another stack's
#: containers are stopped (their ports then look free, and come back when they start again).
_HANDED_OUT: set[int] = set()
_PORT_LOCK = threading.Lock()
#: Below Linux's ephemeral range (32768-60999), where outgoing connections take their source
#: ports: a port picked there can be taken by a client between the pick and the publish.
PORT_RANGE = (20000, 32000)


def cli(project: Project, *args: str, stdin: str = "", env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The real command line on `project`, as cron or a person runs it: stdin is not a terminal,
    and a backup folder set for the developer's own runs (LIAR_TUI_BACKUP_DIR) is not inherited."""
    return subprocess.run(
        [sys.executable, "-m", "liar_tui", "--project-dir", str(project.root), "--project-name", project.name, *args],
        input=stdin, capture_output=True, text=True, timeout=timeout, cwd=REPO,
        env={**{k: v for k, v in os.environ.items() if k != "LIAR_TUI_BACKUP_DIR"}, **(env or {})},
    )


def free_port() -> int:
    """A port free on 127.0.0.1 now, not handed out before in this run, outside the ephemeral range."""
    with _PORT_LOCK:
        for _ in range(500):
            port = secrets.randbelow(PORT_RANGE[1] - PORT_RANGE[0]) + PORT_RANGE[0]
            if port in _HANDED_OUT:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError(f"no free port in {PORT_RANGE[0]}-{PORT_RANGE[1]} on 127.0.0.1")


def password(n: int = 24) -> str:
    alphabet = string.ascii_letters + string.digits
    return "Pw" + "".join(secrets.choice(alphabet) for _ in range(n))


def images_for_tests() -> dict[str, str]:
    """Offline images by default; LIAR_TUI_TEST_IMAGES=official uses the compose file's defaults."""
    if os.environ.get("LIAR_TUI_TEST_IMAGES") == "official":
        return {}
    return dict(OFFLINE_IMAGES)


def missing_images() -> list[str]:
    missing = []
    for ref in images_for_tests().values():
        if subprocess.run(["docker", "image", "inspect", ref], capture_output=True).returncode != 0:
            missing.append(ref)
    return missing


def make_project(
    root: Path,
    name: str | None = None,
    *,
    env: bool = True,
    short_health: bool = True,
    api_port: int | None = None,
    extra_env: dict[str, str] | None = None,
) -> Project:
    """Copy the stack into `root` with its own .env (fresh passwords, free ports)."""
    name = name or f"liartest-{secrets.token_hex(3)}"
    (root / "compose").mkdir(parents=True, exist_ok=True)
    (root / "nginx").mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "compose" / "docker-compose.yml", root / "compose" / "docker-compose.yml")
    shutil.copy2(REPO / "compose" / ".env.example", root / "compose" / ".env.example")
    conf = (REPO / "nginx" / "nginx.conf").read_text()
    if api_port is not None:
        conf = conf.replace("host.docker.internal:3000", f"host.docker.internal:{api_port}")
    (root / "nginx" / "nginx.conf").write_text(conf)
    if short_health:
        (root / "compose" / "docker-compose.override.yml").write_text(
            TEST_OVERRIDE.format(services="".join(_HEALTH.format(name=s) for s in SERVICES))
        )
    if env:
        values = {
            "POSTGRES_USER": "liaruser",
            "POSTGRES_PASSWORD": password(),
            "POSTGRES_DB": "liardb",
            "REDIS_PASSWORD": password(),
            "MINIO_ROOT_USER": "minio-admin",
            "MINIO_ROOT_PASSWORD": password(),
            "BIND_ADDRESS": "127.0.0.1",
            "POSTGRES_PORT": str(free_port()),
            "REDIS_PORT": str(free_port()),
            "NGINX_HTTP_PORT": str(free_port()),
            "MINIO_API_PORT": str(free_port()),
            "MINIO_CONSOLE_PORT": str(free_port()),
            **images_for_tests(),
            **(extra_env or {}),
        }
        text = "".join(f"{k}={v}\n" for k, v in values.items())
        path = root / "compose" / ".env"
        path.write_text(text)
        path.chmod(0o600)
    return Project(root=root, name=name)


def destroy(project: Project) -> None:
    """Remove the project's containers, network and data, whatever state they are in."""
    subprocess.run(
        ["docker", "compose", "-p", project.name, "-f", str(project.compose_file), "down", "-v", "-t", "1", "--remove-orphans"],
        capture_output=True,
        cwd=project.compose_dir,
        env=dict(os.environ, POSTGRES_PASSWORD="x", REDIS_PASSWORD="x", MINIO_ROOT_PASSWORD="x", MINIO_ROOT_USER="x"),
    )
    # Leftovers a failed compose down could not see (e.g. the file was broken by a test).
    ids = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project.name}"],
        capture_output=True,
        text=True,
    ).stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)
    subprocess.run(["docker", "network", "rm", f"{project.name}-network"], capture_output=True)
    shutil.rmtree(project.root / "docker", ignore_errors=True)


def wait_for(predicate: Callable[[], T], timeout: float = 60, interval: float = 0.25, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def state_of(project: Project, service: str) -> ServiceState:
    return Engine().project_states(project.name)[service]


def wait_health(project: Project, service: str, status: str, timeout: float = 90) -> ServiceState:
    def check() -> ServiceState | None:
        st = state_of(project, service)
        return st if st.running and st.health.status == status else None

    return wait_for(check, timeout, what=f"{service} {status}")


def wait_all_healthy(project: Project, timeout: float = 180) -> dict[str, ServiceState]:
    def check() -> dict[str, ServiceState] | None:
        states = Engine().project_states(project.name)
        return states if all(s.running and s.health.status == "healthy" for s in states.values()) else None

    return wait_for(check, timeout, interval=0.5, what="all services healthy")


def container_pids(container_id: str) -> list[int]:
    """Host PIDs of every process in the container."""
    top = Engine().api.top(container_id, ps_args="-eo pid")
    return [int(row[0]) for row in top.get("Processes") or []]


def signal_container(container_id: str, sig: int) -> list[int]:
    """Send a signal from the host to every process of a container (SIGSTOP = a hung service)."""
    pids = container_pids(container_id)
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    return pids


def inspect(container_id: str) -> dict[str, Any]:
    data = Engine().inspect(container_id)
    assert data is not None
    return data


def stack_for(project: Project) -> Stack:
    return Stack(project)


def port(project: Project, var: str) -> int:
    return int(project.env()[var])


# -- clients from the host through the published ports ---------------------------------------------
def pg_connect(project: Project, password: str | None = None) -> Any:
    import psycopg

    env = project.env()
    return psycopg.connect(
        host="127.0.0.1",
        port=int(env["POSTGRES_PORT"]),
        user=env["POSTGRES_USER"],
        password=password if password is not None else env["POSTGRES_PASSWORD"],
        dbname=env["POSTGRES_DB"],
        connect_timeout=5,
        autocommit=True,
    )


def redis_client(project: Project, password: str | None = None) -> Any:
    import redis

    env = project.env()
    return redis.Redis(
        host="127.0.0.1",
        port=int(env["REDIS_PORT"]),
        password=password if password is not None else env["REDIS_PASSWORD"],
        socket_timeout=5,
    )


def s3_client(project: Project, secret: str | None = None) -> Any:
    from minio import Minio

    env = project.env()
    return Minio(
        f"127.0.0.1:{env['MINIO_API_PORT']}",
        access_key=env["MINIO_ROOT_USER"],
        secret_key=secret if secret is not None else env["MINIO_ROOT_PASSWORD"],
        secure=False,
        region="us-east-1",
    )



# -- the API nginx proxies to, and the guard that keeps its requests on this host --------------------
class HostApi:
    """A stand-in for the API nginx proxies /api/ to, on the host at the `api_port` fixture."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.server: Any = None

    def start(self) -> "HostApi":
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = b'{"status":"ok"}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("0.0.0.0", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def require_local_host_gateway(project: Project) -> None:
    """nginx forwards /api/ to host.docker.internal (host-gateway, docker0's address). If that
    address is not on this host a request would leave the machine: refuse to send it."""
    import psutil

    st = state_of(project, "nginx")
    out = subprocess.run(
        ["docker", "exec", st.container_id, "getent", "hosts", "host.docker.internal"],
        capture_output=True, text=True, timeout=30,
    ).stdout.split()
    assert out, "host.docker.internal does not resolve in the nginx container"
    local = {a.address for addrs in psutil.net_if_addrs().values() for a in addrs}
    assert out[0] in local, f"host-gateway {out[0]} is not an address of this host (is docker0 missing?)"


__all__ = ["HostApi", "parse_inspect", "require_local_host_gateway"]


#: Where the docker CLI looks for its compose plugin (besides ~/.docker/cli-plugins).
PLUGIN_DIRS = (
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)


def hide_plugins(folder: Path) -> str:
    """The start of a `sh -c` script run under `unshare --mount`: binds `folder` over every plugin
    folder this host has, so the docker CLI inside finds no compose plugin ('' when none exist)."""
    mounts = " && ".join(f"mount --bind {folder} {d}" for d in PLUGIN_DIRS if Path(d).is_dir())
    return f"{mounts} && " if mounts else ""


@contextmanager
def other_liar_tui(project: Project, services: tuple[str, ...]) -> Iterator[int]:
    """Another process holding its compose turn on `services` of the project (none: an up or a
    down), as another liar-tui does while its action runs; yields its pid."""
    code = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from liar_tui.stack import locks
        from liar_tui.stack.project import Project
        with locks.compose_turn(Project(Path({str(project.root)!r}), {project.name!r}), {services!r}):
            print("held", flush=True)
            sys.stdin.read()
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        yield child.pid
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)
