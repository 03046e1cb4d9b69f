"""The real stack: healthy from the start, and each service survives restart, stop/start, recreate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import stackkit

from liar_tui.stack.compose import Stack
from liar_tui.stack.model import SERVICES
from liar_tui.stack.project import Project

pytestmark = pytest.mark.engine


cli = stackkit.cli


class FollowedLogs:
    """`liar-tui logs ARGS` running on `project` (PYTHONUNBUFFERED), its stdout and stderr lines
    collected as they come by a reader thread each."""

    def __init__(self, project: Project, *args: str, env: dict[str, str] | None = None) -> None:
        import threading

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "liar_tui", "--project-dir", str(project.root), "--project-name", project.name, "logs", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        self.seen: list[str] = []
        self.notes: list[str] = []
        self.readers = [threading.Thread(target=lambda into=into, pipe=pipe: into.extend(iter(pipe.readline, "")), daemon=True)  # type: ignore[misc]
                        for into, pipe in ((self.seen, self.proc.stdout), (self.notes, self.proc.stderr))]
        for reader in self.readers:
            reader.start()

    def drained(self, timeout: float = 10) -> None:
        """After the process ended: every line it wrote is collected."""
        for reader in self.readers:
            reader.join(timeout)


def get_until_logged(port: int, marker: str, seen: list[str], timeout: float = 30) -> None:
    """GET `marker` from nginx every half second until a followed log line holds it (nginx may
    be starting again meanwhile), for `timeout` seconds at most; the caller asserts."""
    import http.client
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not any(marker in line for line in seen):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", marker)
            conn.getresponse().read()
        except OSError:
            pass  # nginx is starting again
        time.sleep(0.5)


def test_all_four_services_healthy_on_loopback(running_stack: Project) -> None:
    states = stackkit.wait_all_healthy(running_stack)
    assert set(states) == set(SERVICES)
    env = running_stack.env()
    for name, st in states.items():
        assert st.running and st.health.status == "healthy", name
        assert st.container_name == f"{running_stack.name}-{name}"
        assert st.ports, f"{name} publishes no port"
        assert all(p.host_ip == "127.0.0.1" for p in st.ports), st.ports
    assert {p.host_port for p in states["minio"].ports} == {int(env["MINIO_API_PORT"]), int(env["MINIO_CONSOLE_PORT"])}
    data = stackkit.inspect(states["nginx"].container_id)
    assert data["HostConfig"]["Memory"] == 256 * 2**20
    assert data["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert f"{running_stack.name}-network" in data["NetworkSettings"]["Networks"]


def test_status_json_lists_every_service(running_stack: Project) -> None:
    out = cli(running_stack, "status", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["project"] == running_stack.name
    assert [s["name"] for s in data["services"]] == list(SERVICES)
    assert all(s["state"] == "running" and s["health"] == "healthy" for s in data["services"])
    assert data["healthy"] is True
    assert all("uptime_seconds" in s and "ports" in s and "restart_count" in s for s in data["services"])


def test_status_table(running_stack: Project) -> None:
    out = cli(running_stack, "status")
    assert out.returncode == 0, out.stderr
    for name in SERVICES:
        line = next(line for line in out.stdout.splitlines() if line.startswith(name))
        assert "running" in line and "healthy" in line


@pytest.mark.parametrize("service", SERVICES)
def test_restart_stop_start_recreate(running_stack: Project, service: str) -> None:
    stack = Stack(running_stack)
    before = stackkit.state_of(running_stack, service)
    # Each action reports compose's own progress of its container as it goes (the console shows it).
    progress: list[tuple[str, str]] = []

    def steps(action: str) -> Any:
        return lambda ev: progress.append((action, f"{ev.resource} {ev.status}"))

    result = stack.restart(service, on_progress=steps("restart"))
    assert result.ok, result.message
    after = stackkit.wait_health(running_stack, service, "healthy")
    assert after.container_id == before.container_id
    assert after.started_at and before.started_at and after.started_at > before.started_at

    result = stack.stop(service, on_progress=steps("stop"))
    assert result.ok, result.message
    stopped = stackkit.state_of(running_stack, service)
    assert stopped.state == "exited" and not stopped.running

    result = stack.start(service, on_progress=steps("start"))
    assert result.ok, result.message
    stackkit.wait_health(running_stack, service, "healthy")

    result = stack.recreate(service, on_progress=steps("recreate"))
    assert result.ok, result.message
    container = before.container_name or service
    for action, last in (("restart", "Started"), ("stop", "Stopped"), ("start", "Started"), ("recreate", "Started")):
        said = [text for a, text in progress if a == action]
        assert said and said[-1].endswith(last) and container in said[-1], (action, progress)
    recreated = stackkit.wait_health(running_stack, service, "healthy")
    assert recreated.container_id != before.container_id
    # no stray second container of the service
    rows = stack.engine.project_containers(running_stack.name)
    assert sum(1 for r in rows if r["Labels"].get("com.docker.compose.service") == service) == 1


def test_cli_actions(running_stack: Project) -> None:
    out = cli(running_stack, "restart", "nginx")
    assert out.returncode == 0, out.stderr
    # compose's own progress is captured, never passed through: one summary line, nothing else
    assert len(out.stdout.splitlines()) == 1 and out.stdout.startswith("restart nginx: done"), out.stdout
    assert out.stderr == ""
    stackkit.wait_health(running_stack, "nginx", "healthy")
    out = cli(running_stack, "logs", "nginx", "--tail", "5")
    assert out.returncode == 0, out.stderr


def test_unknown_service_is_rejected(running_stack: Project) -> None:
    out = cli(running_stack, "restart", "mysql")
    assert out.returncode != 0
    assert "invalid choice" in out.stderr


def test_cli_logs_follow_goes_on_through_a_restart_and_a_recreate_and_stops_on_ctrl_c(running_stack: Project) -> None:
    """`liar-tui logs nginx -f` prints requests as they are logged, and keeps following when
    nginx is restarted or recreated (it used to end at the first restart, as `docker logs -f`
    does), each line once; what happened goes to stderr. Ctrl-C ends it at once, quietly (no
    traceback), with exit status 0."""
    import signal
    import uuid

    followed = FollowedLogs(running_stack, "nginx", "-f", "-n", "0", "-t")
    proc, seen, notes = followed.proc, followed.seen, followed.notes
    port = stackkit.port(running_stack, "NGINX_HTTP_PORT")

    def request_until_logged(step: str) -> str:
        marker = f"/followed-{step}-{uuid.uuid4().hex}"
        get_until_logged(port, marker, seen)
        assert any(marker in line for line in seen), (step, seen[-5:], notes)
        return marker

    stack = Stack(running_stack)
    markers = []
    try:
        markers.append(request_until_logged("first"))
        assert stack.restart("nginx", timeout=1).ok
        markers.append(request_until_logged("after-restart"))
        before = stackkit.state_of(running_stack, "nginx").container_id
        assert stack.recreate("nginx").ok
        assert stackkit.state_of(running_stack, "nginx").container_id != before
        markers.append(request_until_logged("after-recreate"))
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(10)
        stackkit.wait_health(running_stack, "nginx", "healthy")
    assert code == 0
    # each line once (-t: the engine's nanosecond timestamp makes every line distinct)
    lines = [line for line in seen if "/followed-" in line]
    assert lines[0][:4].isdigit() and "Z " in lines[0][:40], lines[0]
    assert len(lines) == len(set(lines)), "a line shown twice after reopening"
    said = "".join(notes)
    # the restart is told either way: seen stopped and started (or, when it was over before the
    # follower looked, seen as a later start of the same container: test below)
    assert ("liar-tui: nginx started again: following on" in said
            or "liar-tui: nginx restarted: following on" in said), said
    assert "new container" in said, said
    assert "Traceback" not in said


def test_cli_logs_of_several_services_are_prefixed_merged_by_time_and_followed(running_stack: Project) -> None:
    """`liar-tui logs` with no service (or several) is `docker compose logs`: every line says
    whose it is; without -f each service's last lines are merged by the engine's timestamps; with
    -f all are followed at once, through a restart of one of them, and Ctrl-C ends it (0)."""
    import re
    import signal
    import uuid

    out = cli(running_stack, "logs", "-n", "5", "-t")
    assert out.returncode == 0, out.stderr
    rows = [re.match(r"(\w+) *\| (\S+) ", line) for line in out.stdout.splitlines()]
    assert all(rows), out.stdout[:500]
    assert {m.group(1) for m in rows} == set(SERVICES), out.stdout[:500]  # type: ignore[union-attr]
    stamps = [m.group(2) for m in rows]  # type: ignore[union-attr]
    assert stamps == sorted(stamps), "not merged by time"
    out = cli(running_stack, "logs", "redis", "nginx", "-n", "3")
    assert out.returncode == 0 and {line.split(" ", 1)[0] for line in out.stdout.splitlines()} == {"redis", "nginx"}, out.stdout
    out = cli(running_stack, "logs", "redis", "-n", "3")  # one service: its lines as they are
    assert out.returncode == 0 and not out.stdout.startswith("redis"), out.stdout

    followed = FollowedLogs(running_stack, "-f", "-n", "1")
    proc, seen, notes = followed.proc, followed.seen, followed.notes
    port = stackkit.port(running_stack, "NGINX_HTTP_PORT")
    marker = f"/all-followed-{uuid.uuid4().hex}"
    try:
        # each service's last line: its stream is open (a restart before that would not be seen)
        stackkit.wait_for(lambda: {line.split(" ", 1)[0] for line in seen} >= set(SERVICES), 30, what="a line of every service")
        get_until_logged(port, marker, seen)
        assert any(line.startswith("nginx    | ") and marker in line for line in seen), (seen[-5:], notes)
        assert Stack(running_stack).restart("redis", timeout=1).ok
        stackkit.wait_for(lambda: any(line.startswith("redis    | ") and "Ready to accept connections" in line for line in seen), 30,
                          what="redis's start in the followed log")
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(10)
        stackkit.wait_health(running_stack, "redis", "healthy")
    assert code == 0 and "Traceback" not in "".join(notes), notes


class EngineProxy:
    """A unix socket that forwards to the real engine's, for a client to lose the engine: stop()
    removes the socket and cuts every connection, as a stopping dockerd does to its clients."""

    def __init__(self, path: Path) -> None:
        import socket
        import threading

        self.path = path
        self.conns: list[Any] = []
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(str(path))
        self.server.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect("/var/run/docker.sock")
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: Any, b: Any) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        try:
            b.shutdown(2)
        except OSError:
            pass

    def stop(self) -> None:
        self.server.close()
        self.path.unlink(missing_ok=True)
        for conn in self.conns:
            try:
                conn.shutdown(2)
            except OSError:
                pass


@pytest.mark.parametrize("which", [["nginx"], []], ids=["one", "all"])
def test_cli_logs_follow_says_in_one_line_when_the_engine_goes_away(running_stack: Project, tmp_path: Path, which: list[str]) -> None:
    """QA: the engine stopped under `liar-tui logs -f`, which then said "No such file or directory:
    check that folder's owner and permissions" (the engine's socket was gone). Now one line says
    the engine was lost and what to do, exit status 1, for one log or all of them."""
    import time

    proxy = EngineProxy(tmp_path / "engine.sock")
    followed = FollowedLogs(running_stack, *which, "-f", "-n", "1", env={"DOCKER_HOST": f"unix://{proxy.path}"})
    proc, seen = followed.proc, followed.seen
    try:
        stackkit.wait_for(lambda: len(seen) >= (1 if which else len(SERVICES)), 30, what="the logs' last lines")
        time.sleep(0.5)
        proxy.stop()
        code = proc.wait(30)
    finally:
        proxy.stop()
        if proc.poll() is None:
            proc.kill()
    followed.drained()
    err = "".join(followed.notes)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 1, err
    assert len(lines) == 1 and lines[0].startswith("liar-tui: lost the Docker engine while reading "), err
    assert "DOCKER_HOST" in lines[0] and "permission" not in lines[0], err


def test_a_restart_over_before_the_follower_looks_is_still_told(running_stack: Project) -> None:
    """When `logs -f`'s stream ends and the service already runs again in the same container
    (a quick restart), the follower says it restarted, instead of carrying on silently (CI saw
    a one-second nginx restart end before the look, and nothing was said). A stream that merely
    ended on a container that did not restart is followed on without a word."""
    from liar_tui.stack.logs import LogNotice, _next_start

    stack = Stack(running_stack)
    before = stackkit.state_of(running_stack, "nginx")

    def look() -> tuple[list[str], tuple[str, Any]]:
        gen = _next_start(stack.engine, running_stack.name, "nginx", before.container_id, before.started_at)
        said: list[str] = []
        while True:
            try:
                item = next(gen)
            except StopIteration as end:
                return said, end.value
            assert isinstance(item, LogNotice)
            said.append(item.text)

    said, (cid, _) = look()
    assert said == [] and cid == before.container_id
    try:
        assert stack.restart("nginx", timeout=1).ok
        said, (cid, started) = look()
        assert said == ["nginx restarted: following on"], said
        assert cid == before.container_id and started is not None and started != before.started_at
    finally:
        stackkit.wait_health(running_stack, "nginx", "healthy")


def test_a_second_copy_under_the_same_name_refuses_to_take_the_stack_over(running_stack: Project, tmp_path: Any) -> None:
    """Another checkout (or the bundled copy) run under the running stack's project name: compose
    would take its containers over and a recreate would mount this copy's empty data. Every
    action refuses with one line naming both folders; status says so; drift is not claimed."""
    import shutil

    other = stackkit.make_project(tmp_path / "copy", running_stack.name)
    shutil.copy2(running_stack.env_file, other.env_file)  # same secrets and ports: only the folder differs
    before = {s: st.container_id for s, st in Stack(running_stack).states().items()}
    stack = Stack(other)
    for result in (stack.recreate("postgres"), stack.restart("redis"), stack.stop("nginx"), stack.start("nginx"),
                   stack.up(), stack.down(volumes=True)):
        assert not result.ok, result
        assert f"made from {running_stack.root}, not {other.root}" in result.message, result.message
        assert "--project-name" in result.message
    out = cli(other, "recreate", "postgres")
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    # backup (and restore, which checks the same way) would read or overwrite the other copy's data
    out = cli(other, "backup", "redis", "--backup-dir", str(tmp_path / "backups"))
    assert out.returncode == 1 and f"made from {running_stack.root}" in out.stderr, out  # as recreate's
    assert not any((tmp_path / "backups").glob("2*")), "no set was written"
    after = Stack(running_stack).states()
    assert {s: st.container_id for s, st in after.items()} == before
    assert all(st.running for st in after.values())
    # a copy with its own passwords: its probes do not log in to the other copy's services (and
    # blame a password mismatch, suggesting ALTER USER on that copy's database)
    env = other.env_file.read_text()
    other.env_file.write_text("".join(ln.split("=", 1)[0] + "=another-copy-secret\n" if "PASSWORD=" in ln else ln + "\n"
                                      for ln in env.splitlines()))
    status = cli(other, "status", "--json")
    data = json.loads(status.stdout)
    probes = {s["name"]: s["probe"] for s in data["services"]}
    for service in ("postgres", "redis", "minio"):
        assert probes[service]["level"] == "warn", probes[service]
        assert probes[service]["reason"].startswith(f"not probed: its container was made from {running_stack.root}"), probes[service]
    assert data["made_elsewhere"] == str(running_stack.root)
    assert not any(s["drift"] for s in data["services"]), [s["drift_detail"] for s in data["services"]]
    assert all("made from" in s["drift_detail"]["error"] for s in data["services"])
    assert f"note: project {running_stack.name}'s containers were made from {running_stack.root}" in cli(other, "status").stdout
    # the stack's own folder is not affected
    assert Stack(running_stack).made_elsewhere() is None


def test_status_check_exits_1_when_a_service_is_not_healthy(running_stack: Project) -> None:
    """`status` always exits 0 (it reports); `status --check` is for cron and monitoring."""
    ok = cli(running_stack, "status", "--check", "--no-probes", "--no-drift")
    assert ok.returncode == 0, ok.stderr
    stack = Stack(running_stack)
    assert stack.stop("nginx").ok
    try:
        out = cli(running_stack, "status", "--check", "--no-probes", "--no-drift")
        assert out.returncode == 1, out
        assert out.stderr.strip().splitlines() == ["liar-tui: not healthy: nginx exited(0)"], out.stderr
        assert "nginx" in out.stdout  # the table is still printed
        assert cli(running_stack, "status", "--no-probes", "--no-drift").returncode == 0
    finally:
        assert stack.start("nginx").ok
        stackkit.wait_health(running_stack, "nginx", "healthy")


def test_a_paused_service_is_started_restarted_and_brought_up(running_stack: Project) -> None:
    """QA: with redis paused (`docker pause`), `s` (start) and `r` (restart) said "port 6379 is
    already in use" (the paused container holds it) and `u` (up) failed with compose's "cannot
    start a paused container". Start unpauses; restart and up work; up also waits for the health
    Docker marks bad on a pause (compose's dependency check failed on it at once)."""
    import redis as redis_client

    stack = Stack(running_stack)

    def docker(verb: str) -> None:
        subprocess.run(["docker", verb, cid], check=True, capture_output=True)
    cid = stackkit.wait_health(running_stack, "redis", "healthy").container_id
    env = running_stack.env()
    client = redis_client.Redis(host="127.0.0.1", port=stackkit.port(running_stack, "REDIS_PORT"),
                                password=env["REDIS_PASSWORD"], socket_timeout=5)
    client.set("paused-marker", "kept")
    try:
        docker("pause")
        result = stack.start("redis")
        assert result.ok, result.message
        assert stackkit.state_of(running_stack, "redis").state == "running"

        docker("pause")
        result = stack.restart("redis", timeout=1)
        assert result.ok, result.message
        stackkit.wait_health(running_stack, "redis", "healthy")

        docker("pause")
        assert stackkit.state_of(running_stack, "redis").health.status == "unhealthy"  # Docker's doing
        steps: list[Any] = []
        result = stack.up(wait=True, wait_timeout=60, on_progress=steps.append)
        assert result.ok, result.message
        assert any(ev.status == "Unpaused" and "redis" in ev.resource for ev in steps), steps
        after = stackkit.state_of(running_stack, "redis")
        assert after.state == "running" and after.container_id == cid
        assert client.get("paused-marker") == b"kept"
    finally:
        if stackkit.state_of(running_stack, "redis").state == "paused":
            docker("unpause")
        stackkit.wait_health(running_stack, "redis", "healthy")
