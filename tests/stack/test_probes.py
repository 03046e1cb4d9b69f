"""Each probe goes from green to red on a real fault, and back when the fault is undone.

Faults are made on the shared `running_stack` and always undone (in `finally`): a hung process
(SIGSTOP from the host), a Redis password changed at runtime, Redis filled to maxmemory, AOF
switched off, PostgreSQL made read-only, a long open transaction, the API behind nginx stopped,
a bucket removed, wrong MinIO credentials.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import stackkit

from liar_tui.stack.buckets import EXPECTED_BUCKETS, ensure_buckets
from liar_tui.stack.model import SERVICES
from liar_tui.stack.probes import FAIL, LEVELS, OK, WARN, ProbeResult, ProbeThresholds, probe_service, targets
from liar_tui.stack.project import Project

from stackkit import HostApi, require_local_host_gateway  # noqa: E402

pytestmark = pytest.mark.engine


def probe(project: Project, service: str, **kwargs: object) -> ProbeResult:
    return probe_service(targets(project, **kwargs)[service], project.redactor())  # type: ignore[arg-type]


def wait_level(project: Project, service: str, level: str, timeout: float = 20, **kwargs: object) -> ProbeResult:
    return stackkit.wait_for(
        lambda: (r if (r := probe(project, service, **kwargs)).level == level else None),
        timeout, interval=0.3, what=f"{service} probe {level}",
    )


@pytest.fixture
def host_api(api_port: int) -> Iterator[HostApi]:
    api = HostApi(api_port)
    api.start()
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture
def stack(running_stack: Project) -> Project:
    """The shared stack with the expected buckets (what `liar-tui up` leaves behind)."""
    report = ensure_buckets(running_stack, wait=60)
    assert report.ok, report.error
    return running_stack


def test_every_probe_is_green_on_a_working_stack(stack: Project, host_api: HostApi) -> None:
    stackkit.wait_all_healthy(stack)
    require_local_host_gateway(stack)
    results = {s: probe(stack, s) for s in SERVICES}
    assert {s: r.level for s, r in results.items()} == {s: OK for s in SERVICES}, {s: r.reason for s, r in results.items()}
    pg, rd, ng, mn = (results[s].figures for s in SERVICES)
    assert pg["accepts_writes"] and pg["connections"] >= 1 and pg["max_connections"] >= 10 and pg["database_bytes"] > 0
    assert rd["aof_enabled"] and rd["aof_last_write_status"] == "ok" and rd["ping_ms"] < 500
    assert ng["health_status"] == 200 and ng["api_reachable"] and ng["api_status"] == 200
    assert mn["missing"] == [] and {b["name"] for b in mn["buckets"]} >= set(EXPECTED_BUCKETS)
    env = stack.env()
    for r in results.values():
        for secret in (env["POSTGRES_PASSWORD"], env["REDIS_PASSWORD"], env["MINIO_ROOT_PASSWORD"]):
            assert secret not in json.dumps(r.to_dict())


@pytest.mark.parametrize("service", SERVICES)
def test_a_hung_service_turns_its_probe_red_fast(stack: Project, service: str) -> None:
    if service == "nginx":
        require_local_host_gateway(stack)
    before = probe(stack, service)
    st = stackkit.wait_health(stack, service, "healthy")
    stackkit.signal_container(st.container_id, signal.SIGSTOP)
    try:
        started = time.monotonic()
        bad = probe(stack, service)
        took = time.monotonic() - started
    finally:
        stackkit.signal_container(st.container_id, signal.SIGCONT)
    assert bad.level == FAIL, bad.reason
    assert bad.reason.startswith("unreachable") and "no answer within 2s" in bad.reason
    assert took < 6, f"the probe hung for {took:.1f}s"  # its 2 s timeout, with room for a loaded machine
    wait_level(stack, service, before.level)
    stackkit.wait_health(stack, service, "healthy")


def test_redis_password_changed_at_runtime(stack: Project) -> None:
    env = stack.env()
    rotated = "rotated-" + env["REDIS_PASSWORD"]
    stackkit.redis_client(stack).config_set("requirepass", rotated)
    try:
        bad = probe(stack, "redis")
        assert bad.level == FAIL and "password rejected" in bad.reason, bad.reason
        assert rotated not in bad.reason
    finally:
        stackkit.redis_client(stack, password=rotated).config_set("requirepass", env["REDIS_PASSWORD"])
    assert probe(stack, "redis").level == OK
    stackkit.wait_health(stack, "redis", "healthy")


def test_redis_full_to_maxmemory(stack: Project) -> None:
    import redis

    r = stackkit.redis_client(stack)
    saved = {k: r.config_get(k)[k] for k in ("maxmemory", "maxmemory-policy")}
    used = int(r.info("memory")["used_memory"])
    r.config_set("maxmemory-policy", "noeviction")
    r.config_set("maxmemory", str(used + 2 * 1024 * 1024))
    keys = []
    try:
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            for i in range(1000):
                key = f"liar-tui-test:fill:{i}"
                r.set(key, b"x" * 65536)
                keys.append(key)
        bad = probe(stack, "redis")
        assert bad.level == FAIL and "memory full" in bad.reason, bad.reason
        assert bad.figures["maxmemory_policy"] == "noeviction" and bad.figures["oom_errors"] >= 1
    finally:
        if keys:
            r.delete(*keys)
        r.config_set("maxmemory", saved["maxmemory"])
        r.config_set("maxmemory-policy", saved["maxmemory-policy"])
    assert probe(stack, "redis").level == OK


def test_redis_aof_switched_off(stack: Project) -> None:
    r = stackkit.redis_client(stack)
    r.config_set("appendonly", "no")
    try:
        warn = probe(stack, "redis")
        assert warn.level == WARN and "AOF is off" in warn.reason
    finally:
        r.config_set("appendonly", "yes")
    wait_level(stack, "redis", OK)


def test_postgres_read_only(stack: Project) -> None:
    with stackkit.pg_connect(stack) as conn:
        conn.execute("ALTER SYSTEM SET default_transaction_read_only = on")
        conn.execute("SELECT pg_reload_conf()")
        try:
            bad = wait_level(stack, "postgres", FAIL, timeout=10)
            assert "read-only" in bad.reason and bad.figures["accepts_writes"] is False
        finally:
            conn.execute("SET default_transaction_read_only = off")
            conn.execute("ALTER SYSTEM RESET default_transaction_read_only")
            conn.execute("SELECT pg_reload_conf()")
    wait_level(stack, "postgres", OK, timeout=10)


def test_postgres_long_open_transaction(stack: Project) -> None:
    quick = ProbeThresholds(transaction_warn_seconds=1.0)
    conn = stackkit.pg_connect(stack)
    conn.autocommit = False
    try:
        conn.execute("SELECT 1")  # opens the transaction
        time.sleep(1.5)
        warn = probe(stack, "postgres", thresholds=quick)
        assert warn.level == WARN and "transaction has been open" in warn.reason, warn.reason
        assert warn.figures["oldest_transaction_seconds"] >= 1.0
    finally:
        conn.rollback()
        conn.close()
    assert probe(stack, "postgres", thresholds=quick).level == OK


def test_nginx_probe_sees_the_upstream_go(stack: Project, api_port: int) -> None:
    require_local_host_gateway(stack)

    def probe_with_the_api_up() -> None:
        api = HostApi(api_port).start()
        try:
            good = probe(stack, "nginx")
            assert good.level == OK and good.figures["api_reachable"], good.reason
        finally:
            api.stop()

    probe_with_the_api_up()
    # Docker's healthcheck (/health) stays green; the probe goes red: every API call answers 502
    bad = probe(stack, "nginx")
    assert bad.level == FAIL and "502" in bad.reason, bad.reason
    assert bad.figures["health_status"] == 200 and bad.figures["api_reachable"] is False
    assert stackkit.state_of(stack, "nginx").health.status == "healthy"
    probe_with_the_api_up()  # and back to green when the API returns


def test_minio_bucket_removed_and_objects_counted(stack: Project) -> None:
    s3 = stackkit.s3_client(stack)
    s3.put_object("game-logs", "probe-test/1.log", io.BytesIO(b"x" * 1000), 1000)
    try:
        good = probe(stack, "minio")
        logs = next(b for b in good.figures["buckets"] if b["name"] == "game-logs")
        assert logs["objects"] >= 1 and logs["bytes"] >= 1000
    finally:
        s3.remove_object("game-logs", "probe-test/1.log")
    s3.remove_bucket("replays")
    try:
        bad = probe(stack, "minio")
        assert bad.level == FAIL and "missing bucket replays" in bad.reason and bad.figures["missing"] == ["replays"]
    finally:
        report = ensure_buckets(stack, wait=10)
    assert report.created == ("replays",)
    assert probe(stack, "minio").level == OK


def test_minio_wrong_credentials(stack: Project) -> None:
    env = dict(stack.env(), MINIO_ROOT_PASSWORD="wrong-password-123")
    bad = probe(stack, "minio", env=env)
    assert bad.level == FAIL and "credentials rejected" in bad.reason, bad.reason


def test_status_reports_probes_and_drift(stack: Project) -> None:
    require_local_host_gateway(stack)
    base = [sys.executable, "-m", "liar_tui", "--project-dir", str(stack.root), "--project-name", stack.name]
    started = time.monotonic()
    out = subprocess.run([*base, "status", "--json"], capture_output=True, text=True, timeout=60)
    took = time.monotonic() - started
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    for s in data["services"]:
        assert s["probe"]["level"] in LEVELS and s["probe"]["reason"]
        assert isinstance(s["drift"], bool)
        assert "figures" in s["probe"] and "latency_ms" in s["probe"]
    worst = max((s["probe"]["level"] for s in data["services"]), key=["ok", "warn", "fail"].index)
    assert data["probe_level"] == worst
    assert took < 20, f"status --json took {took:.1f}s"  # loose for a loaded machine: this catches a hang
    table = subprocess.run([*base, "status"], capture_output=True, text=True, timeout=60)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert "DRIFT" in lines[1]
    for name in SERVICES:
        assert any(line.startswith(f"  {name}") and line.split()[1] in LEVELS for line in lines), table.stdout
    env = stack.env()
    for secret in (env["POSTGRES_PASSWORD"], env["REDIS_PASSWORD"], env["MINIO_ROOT_PASSWORD"]):
        assert secret not in out.stdout and secret not in table.stdout
