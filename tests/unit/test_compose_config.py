"""The compose file as compose itself reads it (`docker compose config`, no engine needed): the
seed's healthcheck timings, memory limits, restart policy, start order, names, bind mounts and
the 127.0.0.1 default; and nginx.conf's directives the seed asks for. The test stacks shorten the
healthchecks (tests/stackkit.py), so these values are checked here, on the file users run."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "compose" / "docker-compose.yml"


def config(**env: str) -> dict[str, Any]:
    if shutil.which("docker") is None or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode:
        pytest.fail("`docker compose` (v2) is missing: run `liar-tui setup` (or bash compose/install.sh)")
    # Only the example's values (placeholders, no real secret) and the given overrides.
    done = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "--env-file", str(REPO / "compose" / ".env.example"), "config", "--format", "json"],
        capture_output=True, text=True, env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/nonexistent", **env}, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


#: the seed's table (infra-architecture.ko.md, "서비스별 Health Check 설정") and memory limits
SEED = {
    "postgres": ("10s", "5s", 5, 1 << 30),
    "redis": ("10s", "5s", 5, 512 << 20),
    "nginx": ("10s", "5s", 3, 256 << 20),
    "minio": ("30s", "20s", 3, 1 << 30),
}


def test_seed_healthcheck_timings_memory_limits_and_restart_policy() -> None:
    services = config()["services"]
    assert set(services) == set(SEED)
    for name, (interval, timeout, retries, memory) in SEED.items():
        s = services[name]
        hc = s["healthcheck"]
        assert (hc["interval"], hc["timeout"], hc["retries"]) == (interval, timeout, retries), (name, hc)
        assert int(s["mem_limit"]) == memory, (name, s["mem_limit"])
        assert s["restart"] == "unless-stopped", name


def test_names_network_bind_mounts_and_start_order() -> None:
    c = config()
    assert c["name"] == "liar-game"
    assert c["networks"]["liar"]["name"] == "liar-game-network" and c["networks"]["liar"]["driver"] == "bridge"
    for name, s in c["services"].items():
        assert s["container_name"] == f"liar-game-{name}"
        assert list(s["networks"]) == ["liar"]
        if name != "nginx":
            (data,) = [v for v in s["volumes"] if v["type"] == "bind"]
            assert Path(data["source"]) == REPO / "docker" / "volumes" / name, data
    deps = c["services"]["nginx"]["depends_on"]
    assert {k: v["condition"] for k, v in deps.items()} == {"postgres": "service_healthy", "redis": "service_healthy"}
    (conf,) = c["services"]["nginx"]["volumes"]
    assert Path(conf["source"]) == REPO / "nginx" / "nginx.conf" and conf["read_only"] is True


def test_ports_listen_on_localhost_unless_bind_address_opens_them() -> None:
    published = {(p["host_ip"], int(p["published"]), p["target"]) for s in config()["services"].values() for p in s["ports"]}
    assert published == {("127.0.0.1", 5432, 5432), ("127.0.0.1", 6379, 6379), ("127.0.0.1", 80, 80),
                         ("127.0.0.1", 9000, 9000), ("127.0.0.1", 9001, 9001)}
    opened = config(BIND_ADDRESS="0.0.0.0", POSTGRES_PORT="15432")
    ips = {p["host_ip"] for s in opened["services"].values() for p in s["ports"]}
    assert ips == {"0.0.0.0"}
    assert [int(p["published"]) for p in opened["services"]["postgres"]["ports"]] == [15432]


def test_pinned_images_are_the_defaults() -> None:
    # the example names the offline images: strip those lines to see the compose file's defaults
    services = config(POSTGRES_IMAGE="", REDIS_IMAGE="", NGINX_IMAGE="", MINIO_IMAGE="")["services"]
    assert {n: s["image"] for n, s in services.items()} == {
        "postgres": "postgres:16", "redis": "redis:7", "nginx": "nginx:1.25",
        "minio": "minio/minio:RELEASE.2024-01-01T16-36-33Z",
    }


def _location(conf: str, path: str) -> str:
    conf = re.sub(r"#[^\n]*", "", conf)  # comments are not directives
    m = re.search(r"location\s+" + re.escape(path) + r"\s*\{(.*?)\n\s*\}", conf, re.S)
    assert m, f"no location {path}"
    return m.group(1)


def test_nginx_conf_health_api_ws_gzip() -> None:
    conf = (REPO / "nginx" / "nginx.conf").read_text()
    assert re.search(r"^\s*gzip on;", conf, re.M)
    health = _location(conf, "= /health")
    assert re.search(r"^\s*access_log off;", health, re.M) and re.search(r"^\s*return 200", health, re.M)
    ws = _location(conf, "/ws/")
    assert "proxy_set_header Upgrade $http_upgrade;" in ws and 'proxy_set_header Connection "upgrade";' in ws
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    timeouts = {k: int(v) * unit[u] for k, v, u in re.findall(r"proxy_(read|send)_timeout\s+(\d+)([smhd]);", ws)}
    assert timeouts["read"] >= 3600 and timeouts["send"] >= 3600, timeouts  # long-lived game sessions
    api = _location(conf, "/api/")
    assert "proxy_pass http://liar_api/;" in api
    assert re.search(r"server\s+host\.docker\.internal:3000;", conf)
    assert re.search(r"^\s*root\s+\S+;", conf, re.M), "a static root placeholder"
