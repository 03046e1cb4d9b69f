"""StackMonitor: state from the engine's event stream, stats streams, and reconnecting."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import stackkit

from liar_tui.stack.compose import Stack
from liar_tui.stack.model import ServiceState, StatsSample
from liar_tui.stack.monitor import EngineStatus, StackMonitor
from liar_tui.stack.project import Project

pytestmark = pytest.mark.engine


def test_monitor_reports_a_kill_from_the_event_stream(running_stack: Project) -> None:
    states: queue.Queue[ServiceState] = queue.Queue()
    samples: queue.Queue[StatsSample] = queue.Queue()
    monitor = StackMonitor(running_stack.name, on_state=states.put, on_stats=samples.put).start()
    try:
        stackkit.wait_for(lambda: monitor.state("redis").running, 10, what="initial state")
        while not states.empty():
            states.get_nowait()
        cid = monitor.state("redis").container_id
        subprocess.run(["docker", "kill", cid], check=True, capture_output=True)
        killed_at = time.monotonic()
        while True:
            st = states.get(timeout=5)
            if st.service == "redis" and not st.running:
                break
        # The event stream delivered it (the monitor never polls; the bound is loose, for a
        # loaded machine: the latency itself is measured in tests/bench)
        assert time.monotonic() - killed_at < 3.0
        assert st.exit_code == 137
        # docker kill counts as a manual stop: no restart policy brings it back. Start it again;
        # the monitor follows.
        assert Stack(running_stack).start("redis").ok
        stackkit.wait_for(lambda: monitor.state("redis").running, 30, what="redis running again")
        # stats stream: one frame a second per running container, bounded history
        sample = samples.get(timeout=10)
        assert sample.mem_limit > 0
        assert len(monitor.history(sample.service)) <= 300
    finally:
        monitor.stop()
        stackkit.wait_health(running_stack, "redis", "healthy")


def test_an_oom_kill_is_said_even_when_the_restart_policy_brings_it_back_at_once(running_stack: Project) -> None:
    """QA: the S3 stand-in was OOM-killed and restarted by its policy at once; pane and activity
    log said only `exited (137)`: the exited state comes from the `die` event (the inspect after
    it already finds the container running again), and nothing carried the `oom` before it."""
    states: queue.Queue[ServiceState] = queue.Queue()
    monitor = StackMonitor(running_stack.name, on_state=states.put, stats=False).start()
    client = stackkit.redis_client(running_stack)
    try:
        stackkit.wait_for(lambda: monitor.state("redis").running, 10, what="initial state")
        before = monitor.state("redis")
        # AOF off first: the restart then loads the AOF as it was, not the values below
        client.config_set("appendonly", "no")
        try:
            for i in range(8):  # 100 MB each, past redis's 512 MiB limit
                client.setrange(f"liar-test-oom-{i}", 100_000_000, "x")
        except Exception:  # noqa: BLE001 - the connection dies with the process
            pass
        deadline = time.monotonic() + 30
        died = None
        while died is None and time.monotonic() < deadline:
            st = states.get(timeout=max(0.1, deadline - time.monotonic()))
            if st.service == "redis" and not st.running and st.container_id == before.container_id:
                died = st
        assert died is not None, "no exited state for redis"
        assert died.exit_code == 137 and died.oom_killed, died
        stackkit.wait_health(running_stack, "redis", "healthy", timeout=120)  # unless-stopped brought it back
        assert stackkit.state_of(running_stack, "redis").container_id == before.container_id
    finally:
        monitor.stop()
        client.close()
    fresh = stackkit.redis_client(running_stack)
    try:
        assert fresh.config_get("appendonly")["appendonly"] == "yes"
        assert not fresh.exists("liar-test-oom-0")
    finally:
        fresh.close()


@pytest.fixture
def second_engine(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A second, private dockerd we can kill and start again.

    It runs in its own network namespace: a dockerd started with --bridge=none deletes the host's
    docker0 (which the main engine's host-gateway needs), so it must not see the host's links."""
    if shutil.which("dockerd") is None:
        pytest.fail("dockerd not installed")
    root = Path("/tmp") / f"liar-d2-{os.getpid()}"
    root.mkdir(exist_ok=True)
    sock = root / "d.sock"
    cmd = [
        "unshare",
        "--net",
        "dockerd",
        f"--host=unix://{sock}",
        f"--data-root={root}/data",
        f"--exec-root={root}/exec",
        f"--pidfile={root}/d.pid",
        "--bridge=none",
        "--iptables=false",
        "--ip-masq=false",
        f"--containerd-namespace=liar-d2-{os.getpid()}",
        f"--containerd-plugins-namespace=liar-d2p-{os.getpid()}",
    ]
    try:
        yield f"unix://{sock}", cmd
    finally:
        subprocess.run(["pkill", "-f", f"--pidfile={root}/d.pid"], capture_output=True)
        time.sleep(0.5)
        shutil.rmtree(root, ignore_errors=True)


def _start(cmd: list[str], sock: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    path = sock[len("unix://"):]
    # the socket file comes before the API serves: wait until it answers /_ping, so the
    # monitor's first look finds an engine (not a timeout on a loaded machine)
    stackkit.wait_for(lambda: Path(path).exists() and _pings(path), 60, what="second dockerd answering")
    return proc


def _pings(path: str) -> bool:
    import socket

    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(path)
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return s.recv(64).split(b"\r\n", 1)[0].endswith(b" 200 OK")
    except OSError:
        return False


def test_monitor_says_engine_is_gone_and_reconnects(second_engine: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    """... and the activity log says so once each way (QA: after a night's engine restart the log
    showed the four services exiting and starting again, and not why)."""
    from liar_tui.stack.activity import ActivityLog, ActivityRecorder
    from liar_tui.stack.project import Project

    address, cmd = second_engine
    monkeypatch.setenv("DOCKER_HOST", address)
    engine_events: queue.Queue[EngineStatus] = queue.Queue()
    log = ActivityLog(Project(root=tmp_path, name="liar-nothing"), preload=False)
    recorder = ActivityRecorder(log)

    def on_engine(status: EngineStatus) -> None:
        recorder.on_engine(status)
        engine_events.put(status)

    proc = _start(cmd, address)
    monitor = StackMonitor("liar-nothing", on_engine=on_engine, stats=False).start()
    try:
        first = engine_events.get(timeout=30)
        assert first.connected and first.info is not None
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        gone = engine_events.get(timeout=15)
        assert not gone.connected
        assert gone.error and "\n" not in gone.error
        assert not re.search(r"[A-Z][a-z]+Error\b", gone.error), gone.error  # words, not an exception's class
        proc = _start(cmd, address)
        back = engine_events.get(timeout=30)
        while not back.connected:
            back = engine_events.get(timeout=30)
        assert back.connected
        said = [e.text for e in log.entries() if e.kind == "engine"]
        assert len(said) == 2, said
        assert said[0].startswith("lost the Docker engine") and "\n" not in said[0], said
        assert said[1] == f"the Docker engine answers again (docker {back.info.version} at {address})", said  # type: ignore[union-attr]
    finally:
        monitor.stop()
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
