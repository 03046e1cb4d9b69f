"""Drift helpers on plain data: compose's hash output, injected secrets/configs, what changed."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from liar_tui.stack import drift
from liar_tui.stack.drift import DriftInfo, injected_files, parse_hash_lines
from liar_tui.stack.project import Project

MODEL = {
    "services": {
        "redis": {
            "image": "redis:7",
            "mem_limit": "268435456",
            "environment": {"A": "1", "B": None},
            "command": ["redis-server", "/x.conf"],
            "ports": [{"published": "6379", "target": 6379}],
            "secrets": [{"source": "redis_password", "target": "/run/secrets/redis_password"}, "plain"],
            "configs": [{"source": "redis_conf", "target": "/usr/local/etc/redis/redis.conf"}],
        }
    },
    "secrets": {"redis_password": {"environment": "REDIS_PASSWORD"}, "plain": {"file": "/etc/hostname"}},
    "configs": {"redis_conf": {"content": 'requirepass "abc"\n'}},
}


def test_parse_hash_lines() -> None:
    text = "minio 37183f\nnginx 4b60b7\n\nnoise\n"
    assert parse_hash_lines(text) == {"minio": "37183f", "nginx": "4b60b7"}


def test_injected_files_resolve_env_and_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "compose").mkdir()
    (tmp_path / "compose" / ".env").write_text("REDIS_PASSWORD=from-dotenv\n")
    stack = SimpleNamespace(project=Project(tmp_path, "t"))
    monkeypatch.delenv("REDIS_PASSWORD", raising=False)
    items = {i.name: i for i in injected_files(stack, MODEL, "redis")}  # type: ignore[arg-type]
    assert items["redis_password"].expected == b"from-dotenv"
    assert items["redis_password"].target == "/run/secrets/redis_password"
    assert items["redis_password"].source == "REDIS_PASSWORD in .env"
    assert items["redis_conf"].expected == b'requirepass "abc"\n'
    assert items["plain"].expected is None and items["plain"].target == "/run/secrets/plain"
    # compose lets the process environment win over .env; so does the comparison
    monkeypatch.setenv("REDIS_PASSWORD", "from-shell")
    items = {i.name: i for i in injected_files(stack, MODEL, "redis")}  # type: ignore[arg-type]
    assert items["redis_password"].expected == b"from-shell"


def test_explain_hash_change_names_fields_not_values() -> None:
    container = {
        "Config": {"Image": "redis:7", "Env": ["A=1", "B=secret-old", "PATH=/bin"], "Cmd": ["redis-server", "/x.conf"]},
        "HostConfig": {"Memory": 536870912, "PortBindings": {"6379/tcp": [{"HostPort": "6380"}]}},
    }
    out = drift._explain_hash_change(MODEL["services"]["redis"], container)
    assert "mem_limit 512.0MiB -> 256.0MiB" in out
    assert "environment B changed" in out
    assert "ports 6380 -> 6379" in out
    assert not any("secret-old" in line for line in out)


def test_drift_info_texts() -> None:
    d = DriftInfo("redis", True, "recreate", ("secret x changed",), causes=("secret:x",))
    assert d.advice == "recreate to apply (`liar-tui recreate redis`)"
    assert d.summary() == "secret x changed: recreate to apply (`liar-tui recreate redis`)"
    assert d.to_dict()["drift"] is True and d.to_dict()["causes"] == ["secret:x"]
    assert DriftInfo("redis").summary() == "matches the compose file and .env"


def test_the_drift_column_says_when_drift_could_not_be_checked() -> None:
    """QA: with a compose file compose rejects, the DRIFT column said '-' (read: no drift)."""
    from liar_tui.ui.render import drift_cell

    assert drift_cell(DriftInfo("redis", True, "recreate")).plain == "recreate"
    assert drift_cell(DriftInfo("redis", error="compose rejects compose/docker-compose.yml: …")).plain == "?"
    assert drift_cell(DriftInfo("redis", error="no container")).plain == "-"
    assert drift_cell(DriftInfo("redis")).plain == "-"
    assert drift_cell(None).plain == "-"
