"""Each healthcheck turns unhealthy when its service is unusable and healthy again when it recovers.

"Unusable" is made real from the host: every process of the container gets SIGSTOP (a hung
server: the port stays open, nothing answers), then SIGCONT. The checks also write nothing and
leak no secret into `docker inspect`, `docker events` or a process command line.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
import stackkit

from liar_tui.stack.model import SERVICES
from liar_tui.stack.project import Project

pytestmark = pytest.mark.engine


@pytest.mark.parametrize("service", SERVICES)
def test_healthcheck_fails_when_service_hangs_and_recovers(running_stack: Project, service: str) -> None:
    st = stackkit.wait_health(running_stack, service, "healthy")
    stackkit.signal_container(st.container_id, signal.SIGSTOP)
    try:
        bad = stackkit.wait_health(running_stack, service, "unhealthy", timeout=60)
        assert bad.health.failing_streak >= 2
        assert bad.health.log[-1].exit_code != 0
    finally:
        stackkit.signal_container(st.container_id, signal.SIGCONT)
    good = stackkit.wait_health(running_stack, service, "healthy", timeout=60)
    assert good.container_id == st.container_id


def test_redis_check_fails_when_the_password_no_longer_matches(running_stack: Project) -> None:
    """The check authenticates: a server whose password changed is not 'healthy' to its clients."""
    env = running_stack.env()
    r = stackkit.redis_client(running_stack)
    r.config_set("requirepass", "rotated-" + env["REDIS_PASSWORD"])
    try:
        stackkit.wait_health(running_stack, "redis", "unhealthy", timeout=60)
    finally:
        stackkit.redis_client(running_stack, password="rotated-" + env["REDIS_PASSWORD"]).config_set(
            "requirepass", env["REDIS_PASSWORD"]
        )
    stackkit.wait_health(running_stack, "redis", "healthy", timeout=60)


def test_checks_write_no_data(running_stack: Project) -> None:
    r = stackkit.redis_client(running_stack)
    keys_before = r.dbsize()
    time.sleep(3)  # several checks at the test interval of 1 s
    assert r.exists("ping") == 0, "the seed's `incr ping` would leave this key"
    assert r.dbsize() == keys_before
    stats = r.info("commandstats")
    assert "cmdstat_incr" not in stats
    assert stats.get("cmdstat_ping", {}).get("calls", 0) >= 2, "the check should PING"


def test_no_secret_in_inspect_events_or_command_lines(running_stack: Project) -> None:
    env = running_stack.env()
    secrets_ = [env["POSTGRES_PASSWORD"], env["REDIS_PASSWORD"], env["MINIO_ROOT_PASSWORD"]]
    since = str(int(time.time()))
    time.sleep(3)  # let every check run (interval 1 s in tests)
    states = stackkit.Engine().project_states(running_stack.name)
    inspect = json.dumps([stackkit.inspect(s.container_id) for s in states.values()])
    events = subprocess.run(
        ["docker", "events", "--since", since, "--until", str(int(time.time())), "--format", "{{json .}}",
         "--filter", f"label=com.docker.compose.project={running_stack.name}"],
        capture_output=True, text=True, timeout=30,
    ).stdout
    assert "exec_start" in events or "exec_create" in events, "healthcheck exec events expected"
    cmdlines = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdlines.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace"))
            except OSError:
                pass
    for secret in secrets_:
        assert secret not in inspect, "a password is visible in docker inspect"
        assert secret not in events, "a password is visible in docker events"
        assert not any(secret in c for c in cmdlines), "a password is on a process command line"
