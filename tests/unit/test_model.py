"""Pure parsers and formulas of the stack layer (no engine)."""

from __future__ import annotations

from datetime import datetime, timezone

from liar_tui.stack.model import (
    ProcessRow,
    count_of,
    parse_container_config,
    parse_top,
    compute_blkio,
    compute_cpu_percent,
    compute_memory,
    compute_network,
    format_bytes,
    format_duration,
    parse_docker_time,
    parse_inspect,
    parse_ports,
    stats_from_frame,
)

INSPECT = {
    "Id": "abc123",
    "Name": "/liar-game-redis",
    "RestartCount": 2,
    "Config": {
        "Image": "redis:7",
        "Labels": {"com.docker.compose.service": "redis", "com.docker.compose.config-hash": "h1"},
    },
    "State": {
        "Status": "running",
        "Pid": 4242,
        "ExitCode": 0,
        "OOMKilled": False,
        "StartedAt": "2026-11-26T06:00:00.123456789Z",
        "FinishedAt": "0001-01-01T00:00:00Z",
        "Health": {
            "Status": "unhealthy",
            "FailingStreak": 3,
            "Log": [
                {"Start": "2026-11-26T06:01:00.1Z", "End": "2026-11-26T06:01:01.2Z", "ExitCode": 0, "Output": "PONG\n"},
                {"Start": "2026-11-26T06:01:10Z", "End": "2026-11-26T06:01:15Z", "ExitCode": -1,
                 "Output": "Health check exceeded timeout (5s)"},
            ],
        },
    },
    "NetworkSettings": {
        "Ports": {
            "6379/tcp": [{"HostIp": "127.0.0.1", "HostPort": "16379"}],
            "6380/tcp": None,
        }
    },
}


def test_parse_inspect_reads_state_health_ports_and_restarts() -> None:
    st = parse_inspect(INSPECT)
    assert st.service == "redis"
    assert st.container_name == "liar-game-redis"
    assert st.running and st.pid == 4242
    assert st.restart_count == 2
    assert st.health.status == "unhealthy"
    assert st.health.failing_streak == 3
    assert st.health.last_output == "Health check exceeded timeout (5s)"
    assert st.health.log[0].exit_code == 0
    assert [str(p) for p in st.ports] == ["127.0.0.1:16379->6379/tcp"]
    assert st.finished_at is None
    assert st.started_at == datetime(2026, 11, 26, 6, 0, 0, 123456, tzinfo=timezone.utc)
    assert st.uptime_seconds(datetime(2026, 11, 26, 6, 1, 0, 123456, tzinfo=timezone.utc)) == 60
    assert st.status_word == "unhealthy"
    assert st.config_hash == "h1"


def test_exited_container_has_no_uptime_and_shows_exit_code() -> None:
    data = {**INSPECT, "State": {**INSPECT["State"], "Status": "exited", "ExitCode": 137, "Health": None}}
    st = parse_inspect(data)
    assert st.uptime_seconds() is None
    assert st.status_word == "exited(137)"
    assert st.health.status == "none"


def test_ports_dedupe_ipv4_ipv6() -> None:
    ports = parse_ports(
        {"Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}]}}
    )
    assert [str(p) for p in ports] == ["0.0.0.0:8080->80/tcp"]


def test_docker_time_parsing() -> None:
    assert parse_docker_time("0001-01-01T00:00:00Z") is None
    assert parse_docker_time("") is None
    t = parse_docker_time("2026-01-02T03:04:05.999999999+02:00")
    assert t == datetime(2026, 1, 2, 1, 4, 5, 999999, tzinfo=timezone.utc)


FRAME = {
    "read": "2026-11-26T06:00:01Z",
    "cpu_stats": {"cpu_usage": {"total_usage": 2_000_000_000}, "system_cpu_usage": 20_000_000_000, "online_cpus": 2},
    "precpu_stats": {"cpu_usage": {"total_usage": 1_000_000_000}, "system_cpu_usage": 10_000_000_000},
    "memory_stats": {"usage": 100 * 2**20, "limit": 512 * 2**20, "stats": {"total_inactive_file": 20 * 2**20}},
    "networks": {"eth0": {"rx_bytes": 1000, "tx_bytes": 500}, "eth1": {"rx_bytes": 24, "tx_bytes": 12}},
    "blkio_stats": {"io_service_bytes_recursive": [
        {"major": 8, "minor": 0, "op": "Read", "value": 4096},
        {"major": 8, "minor": 0, "op": "Write", "value": 8192},
        {"major": 8, "minor": 0, "op": "Total", "value": 12288},
    ]},
    "pids_stats": {"current": 7},
}


def test_cpu_percent_like_docker_stats() -> None:
    # (1e9 / 1e10) * 2 cpus * 100 = 20 %
    assert compute_cpu_percent(FRAME) == 20.0


def test_first_frame_has_no_precpu_and_reads_zero() -> None:
    assert compute_cpu_percent({**FRAME, "precpu_stats": {}}) == 0.0


def test_memory_subtracts_inactive_file_v1_and_v2() -> None:
    assert compute_memory(FRAME) == (80 * 2**20, 512 * 2**20)
    v2 = {**FRAME, "memory_stats": {"usage": 100, "limit": 1000, "stats": {"inactive_file": 30}}}
    assert compute_memory(v2) == (70, 1000)


def test_network_and_blkio_sums() -> None:
    assert compute_network(FRAME) == (1024, 512)
    assert compute_blkio(FRAME) == (4096, 8192)


def test_rates_against_previous_sample() -> None:
    first = stats_from_frame("redis", FRAME, at=100.0)
    nxt = {**FRAME, "networks": {"eth0": {"rx_bytes": 3048, "tx_bytes": 1536}}}
    second = stats_from_frame("redis", nxt, at=102.0, previous=first)
    assert second.net_rx_rate == (3048 - 1024) / 2
    assert second.net_tx_rate == (1536 - 512) / 2
    assert second.pids == 7
    assert round(second.mem_percent, 2) == 15.62


def test_human_formats() -> None:
    assert format_duration(None) == "-"
    assert format_duration(45) == "45s"
    assert format_duration(125) == "2m05s"
    assert format_duration(3 * 3600 + 5 * 60) == "3h05m"
    assert format_duration(2 * 86400 + 4 * 3600) == "2d04h"
    assert format_bytes(512) == "512B"
    assert format_bytes(1536) == "1.5KiB"
    assert format_bytes(3 * 2**30) == "3.0GiB"
    assert count_of(1, "client") == "1 client"
    assert count_of(0, "key") == "0 keys"
    assert count_of(20000, "key") == "20,000 keys"


def test_parse_top_reads_the_engines_columns_by_title_and_stays_bounded() -> None:
    data = {"Titles": ["PID", "RSS", "ELAPSED", "COMMAND"],
            "Processes": [["16593", "29132", "12:50", "postgres"], ["x", "1", "1", "bad pid"],
                          ["16816", "", "01:02:03", "postgres: checkpointer"]]}
    assert parse_top(data) == [ProcessRow(16593, 29132, "12:50", "postgres"), ProcessRow(16816, 0, "01:02:03", "postgres: checkpointer")]
    reordered = {"Titles": ["COMMAND", "PID"], "Processes": [["nginx: worker", "7"]]}
    assert parse_top(reordered) == [ProcessRow(7, 0, "", "nginx: worker")]
    many = {"Titles": ["PID"], "Processes": [[str(i)] for i in range(500)]}
    assert len(parse_top(many)) == 50
    assert parse_top(None) == [] and parse_top({}) == []


def test_parse_container_config_reads_what_compose_made() -> None:
    data = {
        "Config": {
            "Entrypoint": ["docker-entrypoint.sh"],
            "Cmd": ["postgres"],
            "Healthcheck": {"Test": ["CMD-SHELL", "pg_isready -q"], "Interval": 10_000_000_000, "Timeout": 5_000_000_000,
                            "StartPeriod": 30_000_000_000, "Retries": 5},
        },
        "HostConfig": {"Memory": 2**30, "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}},
        "Mounts": [
            {"Type": "volume", "Name": "pgdata", "Source": "/var/lib/docker/volumes/pgdata/_data", "Destination": "/z", "RW": True},
            {"Type": "bind", "Source": "/p/nginx/nginx.conf", "Destination": "/etc/nginx/nginx.conf", "RW": False},
        ],
        "NetworkSettings": {"Networks": {"liar-game-network": {"IPAddress": "172.20.0.2"}, "bridge": {"IPAddress": ""}}},
    }
    c = parse_container_config(data)
    assert c.command == ("docker-entrypoint.sh", "postgres")
    assert c.restart_policy == "on-failure:3" and c.memory_limit == 2**30
    assert [(m.kind, m.source, m.target, m.writable) for m in c.mounts] == [
        ("bind", "/p/nginx/nginx.conf", "/etc/nginx/nginx.conf", False), ("volume", "pgdata", "/z", True)]
    assert c.networks == (("bridge", ""), ("liar-game-network", "172.20.0.2"))
    assert c.check == ("CMD-SHELL", "pg_isready -q")
    assert (c.check_interval, c.check_timeout, c.check_start_period, c.check_retries) == (10, 5, 30, 5)
    # none given: no policy, no limit, no check (an image's check turned off is ["NONE"])
    bare = parse_container_config({"HostConfig": {"RestartPolicy": {"Name": "no"}}, "Config": {"Healthcheck": {"Test": ["NONE"]}}})
    assert bare.restart_policy == "" and bare.memory_limit == 0 and bare.check == () and bare.mounts == ()
