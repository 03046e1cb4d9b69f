"""Drift appears when the compose file, .env or a mounted config changes under a running service,
and disappears after the recreate (or restart) that applies it.

Runs on its own stack (postgres, redis, nginx; no MinIO needed) because it edits the project's
files and recreates containers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import stackkit

from liar_tui.stack.compose import Stack
from liar_tui.stack.drift import ComposeConfigCache, _container_file_sha, compose_hashes, detect_drift
from liar_tui.stack.envfile import set_env_values
from liar_tui.stack.probes import FAIL, OK, probe_service, targets
from liar_tui.stack.project import Project

pytestmark = pytest.mark.engine

SERVICES3 = ("postgres", "redis", "nginx")


@pytest.fixture(scope="module")
def drift_stack(engine_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = stackkit.make_project(tmp_path_factory.mktemp("drift"))
    stackkit.destroy(project)
    try:
        result = Stack(project).up(["nginx"], wait=True, wait_timeout=180)  # with its dependencies
        assert result.ok, result.message
        yield project
    finally:
        stackkit.destroy(project)


def causes(project: Project, service: str) -> set[str]:
    """What differs, minus 'image': other work on this machine may rebuild the offline images."""
    info = detect_drift(Stack(project))[service]
    assert not info.error, info.error
    return set(info.causes) - {"image"}


# `--no-probes`: the nginx probe requests /api/, which nginx forwards to the host gateway; these
# tests are about drift and must not depend on (or send anything through) that path.
def cli_json(project: Project) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "liar_tui", "--project-dir", str(project.root), "--project-name", project.name,
         "status", "--json", "--no-probes"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return {s["name"]: s for s in json.loads(out.stdout)["services"]}


def test_a_fresh_stack_has_no_drift(drift_stack: Project) -> None:
    drift = detect_drift(Stack(drift_stack))
    for service in SERVICES3:
        assert set(drift[service].causes) <= {"image"}, drift[service].reasons
        assert "config-hash" in drift[service].checked
    assert "secret:redis_password" in drift["redis"].checked and "config:redis_conf" in drift["redis"].checked
    assert "file:nginx.conf" in drift["nginx"].checked
    assert drift["minio"].error == "no container"


def test_compose_file_edit_drifts_until_recreate(drift_stack: Project) -> None:
    stack = Stack(drift_stack)
    text = drift_stack.compose_file.read_text()
    assert text.count("mem_limit: 512m") == 1
    drift_stack.compose_file.write_text(text.replace("mem_limit: 512m", "mem_limit: 256m"))
    info = detect_drift(stack)["redis"]
    assert "config-hash" in info.causes and info.fix == "recreate"
    assert any("mem_limit 512.0MiB -> 256.0MiB" in r for r in info.reasons), info.reasons
    assert "config-hash" not in causes(drift_stack, "postgres")
    data = cli_json(drift_stack)
    assert data["redis"]["drift"] is True and data["postgres"]["drift"] in (False, True)
    assert "config-hash" in data["redis"]["drift_detail"]["causes"]

    assert stack.recreate("redis").ok
    stackkit.wait_health(drift_stack, "redis", "healthy")
    assert causes(drift_stack, "redis") == set()
    assert stackkit.inspect(stackkit.state_of(drift_stack, "redis").container_id)["HostConfig"]["Memory"] == 256 * 2**20


def test_a_console_asks_compose_again_only_when_its_files_change(drift_stack: Project) -> None:
    """The console's cache: a recreate (a new container) is judged without running compose again;
    an edit of the compose file or .env is seen at once; an old entry is not used."""
    stack = Stack(drift_stack)
    now = [0.0]
    cache = ComposeConfigCache(max_age=300, clock=lambda: now[0])
    assert set(detect_drift(stack, cache=cache)["postgres"].causes) <= {"image"}
    assert cache.runs == 1
    assert stack.recreate("postgres").ok
    stackkit.wait_health(drift_stack, "postgres", "healthy")
    info = detect_drift(stack, cache=cache)["postgres"]
    assert set(info.causes) <= {"image"} and not info.error, info
    assert cache.runs == 1, "a new container alone must not run compose again"

    text = drift_stack.compose_file.read_text()
    assert text.index("mem_limit: 1g") < text.index("  redis:")  # the first one is postgres's
    drift_stack.compose_file.write_text(text.replace("mem_limit: 1g", "mem_limit: 900m", 1))
    try:
        assert "config-hash" in detect_drift(stack, cache=cache)["postgres"].causes
        assert cache.runs == 2
    finally:
        drift_stack.compose_file.write_text(text)
    assert "config-hash" not in detect_drift(stack, cache=cache)["postgres"].causes
    assert cache.runs == 3
    env = drift_stack.env_file
    env.write_text(env.read_text() + "\n# touched\n")
    detect_drift(stack, cache=cache)
    assert cache.runs == 4
    now[0] += 301
    detect_drift(stack, cache=cache)
    assert cache.runs == 5


def test_a_created_container_has_no_drift_before_or_after_it_starts(drift_stack: Project) -> None:
    """QA: a container created and not yet started (`up --no-start`, or between compose's create
    and start during an up) showed drift 'secret ... missing in the container': compose copies
    secrets in when it starts a container. And the console kept the miss after the start."""
    stack = Stack(drift_stack)
    stack.docker.compose.up(["redis"], start=False, force_recreate=True, dependencies=False, quiet=True)
    try:
        st = stackkit.state_of(drift_stack, "redis")
        assert st.state == "created"
        assert causes(drift_stack, "redis") == set()
        assert _container_file_sha(stack.engine, st.container_id, "/run/secrets/redis_password") is None
        assert stack.start("redis").ok
        assert _container_file_sha(stack.engine, st.container_id, "/run/secrets/redis_password") is not None
        assert causes(drift_stack, "redis") == set()
    finally:
        stackkit.wait_health(drift_stack, "redis", "healthy")


def test_env_password_change_drifts_until_recreate(drift_stack: Project) -> None:
    """compose 2.40's config hash ignores secret/config content: our content check catches it."""
    stack = Stack(drift_stack)
    hash_before = compose_hashes(stack)["redis"]
    new_password = stackkit.password()
    env_file = drift_stack.env_file
    env_file.write_text(set_env_values(env_file.read_text(), {"REDIS_PASSWORD": new_password}))

    assert compose_hashes(stack)["redis"] == hash_before, "compose's own hash does not see the change"
    found = causes(drift_stack, "redis")
    assert found == {"secret:redis_password", "config:redis_conf"}
    info = detect_drift(stack)["redis"]
    assert info.fix == "recreate" and "REDIS_PASSWORD in .env" in " ".join(info.reasons)
    assert new_password not in json.dumps(info.to_dict())
    # what clients see meanwhile: the container still has the old password
    assert probe_service(targets(drift_stack)["redis"]).level == FAIL

    table = subprocess.run(
        [sys.executable, "-m", "liar_tui", "--project-dir", str(drift_stack.root), "--project-name", drift_stack.name,
         "status", "--no-probes"],
        capture_output=True, text=True, timeout=60,
    )
    redis_line = next(line for line in table.stdout.splitlines() if line.startswith("redis "))
    assert "recreate to apply" in redis_line
    assert "liar-tui recreate redis" in table.stdout and new_password not in table.stdout

    assert stack.recreate("redis").ok
    stackkit.wait_health(drift_stack, "redis", "healthy")
    assert causes(drift_stack, "redis") == set()
    assert probe_service(targets(drift_stack)["redis"]).level == OK


def test_a_postgres_password_change_says_a_recreate_alone_is_not_enough(drift_stack: Project) -> None:
    """PostgreSQL takes POSTGRES_PASSWORD only when it creates its data folder: drift's advice must
    not promise that a recreate applies it (QA: after the recreate the probe said ALTER USER)."""
    stack = Stack(drift_stack)
    env_file = drift_stack.env_file
    saved = env_file.read_text()
    try:
        env_file.write_text(set_env_values(saved, {"POSTGRES_PASSWORD": stackkit.password()}))
        info = detect_drift(stack)["postgres"]
        assert info.fix == "recreate", info
        text = " ".join(info.reasons)
        assert "POSTGRES_PASSWORD in .env" in text and "ALTER USER" in text and "liar-tui shell postgres" in text, text
    finally:
        env_file.write_text(saved)
    assert causes(drift_stack, "postgres") == set()


def test_env_port_change_drifts_by_composes_hash_until_recreate(drift_stack: Project) -> None:
    """A plain .env value (a published port) changes compose's own config hash of the service."""
    stack = Stack(drift_stack)
    hash_before = compose_hashes(stack)["nginx"]
    new_port = stackkit.free_port()
    env_file = drift_stack.env_file
    env_file.write_text(set_env_values(env_file.read_text(), {"NGINX_HTTP_PORT": str(new_port)}))

    assert compose_hashes(stack)["nginx"] != hash_before
    assert "config-hash" in causes(drift_stack, "nginx")
    assert "config-hash" not in causes(drift_stack, "redis")
    assert cli_json(drift_stack)["nginx"]["drift"] is True

    assert stack.recreate("nginx").ok
    stackkit.wait_health(drift_stack, "nginx", "healthy")
    assert "config-hash" not in causes(drift_stack, "nginx")
    assert any(p.host_port == new_port for p in stackkit.state_of(drift_stack, "nginx").ports)


def test_mounted_config_edit_asks_for_a_restart(drift_stack: Project) -> None:
    stack = Stack(drift_stack)
    conf: Path = drift_stack.root / "nginx" / "nginx.conf"
    conf.write_text(conf.read_text() + "\n# edited\n")  # same inode: the container sees it live
    info = detect_drift(stack)["nginx"]
    assert "file:nginx.conf" in info.causes, info
    if set(info.causes) <= {"file:nginx.conf"}:
        assert info.fix == "restart"
    assert stack.restart("nginx").ok
    stackkit.wait_health(drift_stack, "nginx", "healthy")
    assert causes(drift_stack, "nginx") == set()


def test_a_check_that_met_a_dead_engine_is_due_again_soon(drift_stack: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The console looks at drift only when what it compares changed; a look the engine failed
    (restarting, a dropped connection) is taken again after DRIFT_RETRY, not after 5 minutes:
    seen once as 'not checked: BrokenPipeError' on redis until the console was restarted."""
    import time

    from liar_tui.stack.engine import Engine
    from liar_tui.stack.engineapi import EngineAPI
    from liar_tui.ui import wiring

    monkeypatch.setattr(wiring, "DRIFT_RETRY", 0.5)
    console = wiring.ConsoleWiring(drift_stack)
    dead = Engine()
    dead.api = EngineAPI(f"unix://{tmp_path}/gone.sock", timeout=2)
    console.compose_view = wiring.ComposeView(drift_stack, engine=dead)
    states = Engine().project_states(drift_stack.name)
    assert console.drift_due(states)
    info = console.detect_drift(states)["postgres"]
    assert info.error and info.retry, info
    assert not console.drift_due(states)  # not at once
    time.sleep(0.6)
    assert console.drift_due(states)
    console.compose_view = wiring.ComposeView(drift_stack)  # the engine answers again
    info = console.detect_drift(states)["postgres"]
    assert not info.error and not info.retry, info
    time.sleep(0.6)
    assert not console.drift_due(states)  # settled: due again only when something changes
