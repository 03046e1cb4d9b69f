"""Data written before a recreate, or a `down` and `up`, is there after it (bind mounts under docker/volumes)."""

from __future__ import annotations

import io
import secrets

import pytest
import stackkit

from liar_tui.stack.compose import Stack
from liar_tui.stack.project import Project

pytestmark = pytest.mark.engine


def write_everything(project: Project, token: str) -> None:
    with stackkit.pg_connect(project) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS survivors (token text PRIMARY KEY)")
        conn.execute("INSERT INTO survivors VALUES (%s)", (token,))
    r = stackkit.redis_client(project)
    r.set(f"survivor:{token}", token)
    s3 = stackkit.s3_client(project)
    if not s3.bucket_exists("survivors"):
        s3.make_bucket("survivors")
    body = token.encode()
    s3.put_object("survivors", f"{token}.txt", io.BytesIO(body), len(body))


def read_everything(project: Project, token: str) -> None:
    with stackkit.pg_connect(project) as conn:
        rows = conn.execute("SELECT token FROM survivors WHERE token = %s", (token,)).fetchall()
        assert rows == [(token,)]
    assert stackkit.redis_client(project).get(f"survivor:{token}") == token.encode()
    obj = stackkit.s3_client(project).get_object("survivors", f"{token}.txt")
    try:
        assert obj.read() == token.encode()
    finally:
        obj.close()
        obj.release_conn()


def test_data_survives_recreate_of_each_service(running_stack: Project) -> None:
    token = secrets.token_hex(8)
    write_everything(running_stack, token)
    # Redis keeps the key in its AOF; a recreate starts a new container on the same files.
    stack = Stack(running_stack)
    for service in ("postgres", "redis", "minio"):
        old = stackkit.state_of(running_stack, service).container_id
        result = stack.recreate(service)
        assert result.ok, result.message
        st = stackkit.wait_health(running_stack, service, "healthy")
        assert st.container_id != old
    stackkit.wait_for(lambda: _readable(running_stack, token), 60, what="data readable after recreate")
    read_everything(running_stack, token)


def _readable(project: Project, token: str) -> bool:
    try:
        read_everything(project, token)
        return True
    except Exception:  # noqa: BLE001 - a service still warming up
        return False


def test_down_keeps_data_and_up_brings_it_back(running_stack: Project) -> None:
    token = secrets.token_hex(8)
    write_everything(running_stack, token)
    stack = Stack(running_stack)
    result = stack.down()
    assert result.ok, result.message
    assert stack.engine.project_containers(running_stack.name) == []
    assert (running_stack.data_dir / "postgres" / "PG_VERSION").exists()
    result = stack.up(wait=True, wait_timeout=240)
    assert result.ok, result.message
    stackkit.wait_all_healthy(running_stack)
    stackkit.wait_for(lambda: _readable(running_stack, token), 60, what="data readable after down/up")


def test_redis_keeps_aof_on(running_stack: Project) -> None:
    r = stackkit.redis_client(running_stack)
    assert r.config_get("appendonly")["appendonly"] == "yes"
    assert (running_stack.data_dir / "redis" / "appendonlydir").is_dir()


def test_wrong_passwords_are_refused(running_stack: Project) -> None:
    import psycopg
    import redis
    from minio.error import S3Error

    with pytest.raises(psycopg.OperationalError):
        stackkit.pg_connect(running_stack, password="wrong-password")
    with pytest.raises(redis.AuthenticationError):
        stackkit.redis_client(running_stack, password="wrong-password").ping()
    with pytest.raises(redis.AuthenticationError):
        stackkit.redis_client(running_stack, password="").ping()
    with pytest.raises(S3Error):
        stackkit.s3_client(running_stack, secret="wrong-password").list_buckets()
