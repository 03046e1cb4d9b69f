"""Probe logic without an engine: levels from figures, timeouts against silent local servers,
the parallel deadline and the runner's scheduling."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from liar_tui.stack import probes
from liar_tui.stack.model import HealthInfo, PortBinding, ServiceState
from liar_tui.stack.probes import (
    FAIL,
    OK,
    WARN,
    ProbeResult,
    ProbeRunner,
    ProbeTarget,
    ProbeThresholds,
    api_upstream,
    run_probes,
    targets,
)
from liar_tui.stack.project import Project


def _project(tmp_path: Path, env: str = "") -> Project:
    (tmp_path / "compose").mkdir(parents=True, exist_ok=True)
    (tmp_path / "compose" / "docker-compose.yml").write_text("services: {}\n")
    (tmp_path / "compose" / ".env").write_text(env or "REDIS_PASSWORD=Pw-secret-redis-1\nPOSTGRES_PORT=6001\n")
    return Project(root=tmp_path, name="t")


def _target(service: str, port: int, timeout: float = 1.0, **env: str) -> ProbeTarget:
    # credentials as a project's .env has them (an empty MinIO one is a test of its own)
    return ProbeTarget(service, "127.0.0.1", port, {"MINIO_ROOT_USER": "minio-admin", "MINIO_ROOT_PASSWORD": "pw", **env},
                       timeout=timeout)


def _info(**over: object) -> dict:
    base: dict = {
        "redis_version": "7.0.15", "used_memory": 1_000_000, "maxmemory": 0, "maxmemory_policy": "noeviction",
        "connected_clients": 1, "aof_enabled": 1, "aof_last_bgrewrite_status": "ok", "aof_last_write_status": "ok",
        "rdb_last_bgsave_status": "ok", "db0": {"keys": 3, "expires": 0},
    }
    base.update(over)
    return base


def test_redis_levels_from_info() -> None:
    t = _target("redis", 1)
    assert probes._redis_result(t, _info(), 0.3, 0.01).level == OK
    full = probes._redis_result(t, _info(used_memory=2_000_000, maxmemory=2_000_000), 0.3, 0.01)
    assert full.level == FAIL and "memory full" in full.reason and "OOM" in full.reason
    evicting = probes._redis_result(t, _info(used_memory=2_000_000, maxmemory=2_000_000, maxmemory_policy="allkeys-lru"), 0.3, 0.01)
    assert evicting.level == WARN and "evicting" in evicting.reason
    high = probes._redis_result(t, _info(used_memory=900, maxmemory=1000), 0.3, 0.01)
    assert high.level == WARN and "90%" in high.reason
    aof_off = probes._redis_result(t, _info(aof_enabled=0), 0.3, 0.01)
    assert aof_off.level == WARN and "AOF is off" in aof_off.reason
    assert probes._redis_result(t, _info(aof_last_write_status="err"), 0.3, 0.01).level == FAIL
    assert probes._redis_result(t, _info(aof_last_bgrewrite_status="err"), 0.3, 0.01).level == WARN
    assert probes._redis_result(t, _info(rdb_last_bgsave_status="err"), 0.3, 0.01).level == FAIL
    figures = probes._redis_result(t, _info(errorstat_OOM={"count": 7}), 0.3, 0.01).figures
    assert figures["oom_errors"] == 7 and figures["keys"] == 3


def test_api_upstream_from_nginx_conf() -> None:
    conf = Path(__file__).resolve().parents[2].joinpath("nginx", "nginx.conf").read_text()
    assert api_upstream(conf) == "host.docker.internal:3000"
    assert api_upstream("") == ""


def test_targets_prefer_the_published_port(tmp_path: Path) -> None:
    project = _project(tmp_path)
    st = ServiceState("redis", state="running", ports=(PortBinding("0.0.0.0", 7777, 6379),))
    t = targets(project, {"redis": st})
    assert (t["redis"].host, t["redis"].port) == ("127.0.0.1", 7777)
    assert t["postgres"].port == 6001  # from .env
    assert t["minio"].port == 9000  # compose's default


def _tcp_server(on_accept: Callable[[socket.socket], None]) -> Iterator[int]:
    """A local TCP server handing each accepted connection to `on_accept`; yields its port."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                on_accept(srv.accept()[0])
            except OSError:
                continue

    th = threading.Thread(target=accept, daemon=True)
    th.start()
    yield srv.getsockname()[1]
    stop.set()
    th.join(1)
    srv.close()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts TCP connections and never answers: a hung server (the kernel still completes the handshake)."""
    conns: list[socket.socket] = []
    yield from _tcp_server(conns.append)
    for c in conns:
        c.close()


@pytest.mark.parametrize("service", ["postgres", "redis", "nginx", "minio"])
def test_a_hung_server_is_unreachable_within_the_timeout(silent_server: int, service: str) -> None:
    box: list[ProbeResult] = []
    started = time.monotonic()
    # in a thread: a probe without a working timeout makes this test fail, not hang
    th = threading.Thread(
        target=lambda: box.append(probes.PROBES[service](_target(service, silent_server, timeout=1.0, REDIS_PASSWORD="x"))),
        daemon=True,
    )
    th.start()
    th.join(6)
    took = time.monotonic() - started
    assert box, f"the {service} probe still hangs after {took:.0f}s"
    result = box[0]
    assert result.level == FAIL
    assert result.reason.startswith("unreachable") and "no answer within" in result.reason, result.reason
    assert took < 5.5, f"{service} probe took {took:.1f}s"  # libpq's connect timeout is at least 2 s; loose for load


@pytest.mark.parametrize("service", ["postgres", "redis", "nginx", "minio"])
def test_nothing_listening_is_unreachable_at_once(service: str) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    started = time.monotonic()
    result = probes.PROBES[service](_target(service, port))
    assert result.level == FAIL and "refused" in result.reason, result.reason
    assert time.monotonic() - started < 1.5


@pytest.fixture
def closing_server() -> Iterator[int]:
    """Accepts each connection and closes it at once, as a container starting or stopping does."""
    yield from _tcp_server(lambda conn: conn.close())


@pytest.mark.parametrize("service", ["postgres", "redis", "nginx", "minio"])
def test_a_server_closing_at_once_reads_as_such_without_the_clients_words(closing_server: int, service: str) -> None:
    """QA (Activity view): minio's reason went on with `(('Connection aborted.',
    RemoteDisconnected('Remote end closed connection without response')))`, each client its own."""
    result = probes.PROBES[service](_target(service, closing_server, REDIS_PASSWORD="x"))
    assert result.level == FAIL
    assert result.reason == (f"unreachable at 127.0.0.1:{closing_server}: the server closed the connection without "
                             "answering (starting or stopping, or another server on this port)"), result.reason


def _pg_msg(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!I", len(payload) + 4) + payload


@pytest.fixture
def pg_that_hangs_in_queries() -> Iterator[int]:
    """Speaks enough of the PostgreSQL protocol to log a client in, then never answers a query:
    a backend that hangs after the connection is made (libpq's connect_timeout no longer helps)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            held.append(c)
            length = struct.unpack("!I", c.recv(4))[0]
            body = c.recv(length - 4)
            if struct.unpack("!I", body[:4])[0] == 80877103:  # SSLRequest: no
                c.sendall(b"N")
                length = struct.unpack("!I", c.recv(4))[0]
                c.recv(length - 4)
            c.sendall(
                _pg_msg(b"R", struct.pack("!I", 0))
                + _pg_msg(b"S", b"client_encoding\0UTF8\0")
                + _pg_msg(b"S", b"server_version\x0015.0\0")
                + _pg_msg(b"S", b"integer_datetimes\0on\0")
                + _pg_msg(b"K", struct.pack("!II", 1, 2))
                + _pg_msg(b"Z", b"I")
            )

    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()[1]
    srv.close()
    for c in held:
        c.close()


def test_postgres_probe_gives_up_on_a_query_that_never_answers(pg_that_hangs_in_queries: int) -> None:
    box: list[ProbeResult] = []
    t = _target("postgres", pg_that_hangs_in_queries, timeout=1.0, POSTGRES_PASSWORD="x")
    th = threading.Thread(target=lambda: box.append(probes.probe_postgres(t)), daemon=True)
    started = time.monotonic()
    th.start()
    th.join(6)
    assert box, "the postgres probe hangs in its query"
    assert box[0].level == FAIL and "no answer within 1s" in box[0].reason, box[0].reason
    assert time.monotonic() - started < 3


def test_watchdog_unblocks_a_stuck_reader(silent_server: int) -> None:
    c = socket.create_connection(("127.0.0.1", silent_server))
    wd = probes._Watchdog(0.3)
    wd.arm(c.fileno())
    started = time.monotonic()
    data = c.recv(10)  # would block forever
    assert data == b"" and wd.fired
    assert time.monotonic() - started < 2
    wd.disarm()
    c.close()


class _Api(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/health":
            body, status, server = b"OK\n", 200, "nginx"
        else:
            status = _Api.status
            body = b"<center>nginx</center>" if status == 502 else b"hello"
            server = "nginx" if status == 502 else "api"
        self.send_response(status)
        self.send_header("Server", server)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_nginx_probe_reads_502_from_the_proxy() -> None:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        t = ProbeTarget("nginx", "127.0.0.1", srv.server_address[1], {}, nginx_conf="upstream liar_api { server h:3000; }")
        _Api.status = 404
        ok = probes.probe_nginx(t)
        assert ok.level == OK and ok.figures["api_status"] == 404, ok.reason
        _Api.status = 502
        bad = probes.probe_nginx(t)
        assert bad.level == FAIL and "502" in bad.reason and "h:3000" in bad.reason
        assert bad.figures["api_reachable"] is False
    finally:
        srv.shutdown()
        srv.server_close()


def test_run_probes_deadline_and_redaction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = _project(tmp_path)

    def stuck(t: ProbeTarget) -> ProbeResult:
        time.sleep(5)
        return ProbeResult(t.service, OK, "late")

    def leaky(t: ProbeTarget) -> ProbeResult:
        return ProbeResult(t.service, FAIL, "said Pw-secret-redis-1 aloud", {"x": ["Pw-secret-redis-1"]})

    def broken(t: ProbeTarget) -> ProbeResult:
        raise RuntimeError("bug")

    monkeypatch.setattr(probes, "PROBES", {"postgres": stuck, "redis": leaky, "nginx": broken, "minio": leaky})
    started = time.monotonic()
    results = run_probes(project, deadline=0.5)
    assert time.monotonic() - started < 1.5
    assert list(results) == ["postgres", "redis", "nginx", "minio"]
    assert results["postgres"].level == FAIL and "no answer within 0.5s" in results["postgres"].reason
    assert "Pw-secret-redis-1" not in results["redis"].reason and results["redis"].figures == {"x": ["******"]}
    assert results["nginx"].reason == "probe error: bug"
    stopped = ServiceState("minio", state="exited", exit_code=0)
    assert run_probes(project, {"minio": stopped}, services=("minio",))["minio"].reason == "not running (exited(0))"
    # a failure while Docker's own healthcheck says `starting` is a service coming up: amber
    starting = ServiceState("redis", state="running", health=HealthInfo("starting"))
    came_up = run_probes(project, {"redis": starting}, services=("redis",))["redis"]
    assert came_up.level == WARN and came_up.reason.startswith("starting: "), came_up
    healthy = ServiceState("redis", state="running", health=HealthInfo("healthy"))
    assert run_probes(project, {"redis": healthy}, services=("redis",))["redis"].level == FAIL


def test_runner_never_overlaps_and_reports_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = _project(tmp_path)
    running = [0]
    overlaps = [0]
    levels = iter([OK, OK, FAIL, FAIL, OK] + [OK] * 100)
    lock = threading.Lock()

    def slow(t: ProbeTarget) -> ProbeResult:
        with lock:
            running[0] += 1
            overlaps[0] = max(overlaps[0], running[0])
            level = next(levels)
        time.sleep(0.1)  # longer than the interval: rounds must still not overlap
        with lock:
            running[0] -= 1
        return ProbeResult(t.service, level, level)

    monkeypatch.setattr(probes, "PROBES", {"redis": slow})
    changes: list[tuple[str | None, str]] = []
    results: list[ProbeResult] = []
    runner = ProbeRunner(
        project, interval=0.01, services=("redis",), on_result=results.append,
        on_change=lambda prev, cur: changes.append((prev.level if prev else None, cur.level)),
    )
    runner.start()
    deadline = time.monotonic() + 5
    while len(results) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    runner.stop()
    assert overlaps[0] == 1
    assert changes[:3] == [(None, OK), (OK, FAIL), (FAIL, OK)]
    assert runner.result("redis") is not None


def test_runner_trigger_runs_a_round_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = _project(tmp_path)
    monkeypatch.setattr(probes, "PROBES", {"redis": lambda t: ProbeResult(t.service, OK, "ok")})
    runner = ProbeRunner(project, interval=60, services=("redis",)).start()
    deadline = time.monotonic() + 3
    while runner.rounds < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    runner.trigger()
    while runner.rounds < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    runner.stop()
    assert runner.rounds == 2, "trigger() should run a round without waiting the 60 s interval"


def test_a_runner_started_paused_waits_for_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The console starts the runner paused while its launch `up` runs: no round may probe
    services that are still down (its results would be alarms in the activity log)."""
    project = _project(tmp_path)
    monkeypatch.setattr(probes, "PROBES", {"redis": lambda t: ProbeResult(t.service, OK, "ok")})
    runner = ProbeRunner(project, interval=0.05, services=("redis",))
    runner.pause()
    runner.start()
    time.sleep(0.3)
    assert runner.rounds == 0
    runner.resume()
    deadline = time.monotonic() + 3
    while runner.rounds < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    runner.stop()
    assert runner.rounds >= 1


def test_thresholds_are_settings() -> None:
    assert ProbeThresholds(transaction_warn_seconds=1).transaction_warn_seconds == 1


def test_minio_without_credentials_in_env_names_the_variable() -> None:
    """An empty MINIO_ROOT_PASSWORD: the SDK's own "Secret key must not be empty" (and, from
    `up`'s bucket bootstrap, a traceback) named neither the variable nor the file."""
    result = probes.PROBES["minio"](_target("minio", 9, MINIO_ROOT_USER="minio-admin", MINIO_ROOT_PASSWORD=""))
    assert result.level == FAIL
    assert result.reason == "MINIO_ROOT_PASSWORD is empty or missing in compose/.env: set it there (the value MinIO already has)"
