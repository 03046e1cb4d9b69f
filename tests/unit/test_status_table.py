"""`liar-tui status` as a table: every column for a pipe, fitted to a narrow terminal (QA at 80
columns: each row wrapped in two, the probe reasons broke into the next row's columns)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from liar_tui.cli import format_status_table
from liar_tui.stack.drift import DriftInfo
from liar_tui.stack.model import HealthInfo, PortBinding, ServiceState
from liar_tui.stack.probes import ProbeResult
from liar_tui.stack.project import Project

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)
PORTS = {"postgres": (5432,), "redis": (6379,), "nginx": (80,), "minio": (9000, 9001)}


def _states(address: str = "127.0.0.1") -> dict[str, ServiceState]:
    return {
        name: ServiceState(
            service=name, state="running", container_id=f"{name}-id", image=f"liar-offline/{name}:15-bookworm-long-tag",
            health=HealthInfo("healthy"), started_at=NOW - timedelta(minutes=15),
            ports=tuple(PortBinding(address if i == 0 else "0.0.0.0" if address == "mixed" else address, p, p)
                        for i, p in enumerate(ports)) if address != "mixed" else
            tuple(PortBinding("127.0.0.1" if name != "minio" else "0.0.0.0", p, p) for p in ports),
        )
        for name, ports in PORTS.items()
    }


def _probes() -> dict[str, ProbeResult]:
    long = "/health 200, but /api/health answers 502 Bad Gateway: nothing answers at the API upstream (is the API running?)"
    return {name: ProbeResult(name, "fail" if name == "nginx" else "ok", long if name == "nginx" else f"{name} fine") for name in PORTS}


def _drift() -> dict[str, DriftInfo]:
    return {name: DriftInfo(name, drifted=name == "redis", fix="recreate" if name == "redis" else "",
                            reasons=("secret redis_password (REDIS_PASSWORD in .env) changed: differs in the container",)
                            if name == "redis" else ()) for name in PORTS}


PROJECT = Project(root=Path("/srv/liar-game"), name="liar-game")


def test_a_pipe_gets_every_column_unwrapped() -> None:
    out = format_status_table(PROJECT, _states(), NOW, _probes(), _drift())
    assert out.splitlines()[1].split() == ["SERVICE", "STATE", "HEALTH", "UPTIME", "RESTARTS", "PORTS", "IMAGE", "DRIFT"]
    assert "127.0.0.1:9000->9000, 127.0.0.1:9001->9001" in out and "liar-offline/minio:15-bookworm-long-tag" in out
    assert max(map(len, out.splitlines())) > 80


def test_an_80_column_terminal_gets_rows_that_fit_and_lose_nothing_else() -> None:
    out = format_status_table(PROJECT, _states(), NOW, _probes(), _drift(), width=80)
    lines = out.splitlines()
    assert max(map(len, lines)) <= 80, "\n".join(line for line in lines if len(line) > 80)
    assert lines[0] == "project liar-game (/srv/liar-game), ports on 127.0.0.1"
    assert lines[1].split() == ["SERVICE", "STATE", "HEALTH", "UPTIME", "RESTARTS", "PORTS", "DRIFT"]
    minio = next(line for line in lines if line.startswith("minio "))
    assert "9000->9000, 9001->9001" in minio and minio.rstrip().endswith("-")
    assert next(line for line in lines if line.startswith("redis ")).rstrip().endswith("recreate")
    assert any("recreate to apply (`liar-tui recreate redis`)" in line for line in lines)  # the DRIFT section says why
    # a long probe reason continues under its text, not under the service names
    at = next(i for i, line in enumerate(lines) if line.startswith("  nginx "))
    text_at = lines[at].index("/health")
    assert lines[at + 1].startswith(" " * text_at) and lines[at + 1].strip(), lines[at:at + 3]
    assert " ".join(" ".join(lines[at:at + 3]).split()).count("is the API running?") == 1


def test_ports_on_different_addresses_keep_their_address() -> None:
    out = format_status_table(PROJECT, _states("mixed"), NOW, width=80)
    assert "0.0.0.0:9000->9000" in out and ", ports on" not in out.splitlines()[0]


def test_a_wide_terminal_gets_the_full_table() -> None:
    assert format_status_table(PROJECT, _states(), NOW, _probes(), _drift(), width=250) == \
        format_status_table(PROJECT, _states(), NOW, _probes(), _drift())


def _set(set_id: str, project: str = "liar-game") -> Any:
    from liar_tui.stack.backupset import BackupFile, BackupSet

    files = tuple(BackupFile(f"{s}/data", 1000, "0" * 64, s, "dump") for s in ("postgres", "redis", "minio"))
    return BackupSet(set_id, Path("/backups") / set_id, True, datetime(2026, 11, 27, 8, 41, 28, tzinfo=timezone.utc), project,
                     ("postgres", "redis", "minio"), files, 3000, {})


def test_backup_list_fits_a_narrow_terminal_and_names_another_projects_set() -> None:
    from liar_tui.cli_backup import backup_list_lines

    sets = [_set("20261127T084128Z"), _set("20261127T090817Z")]
    full = backup_list_lines(sets, "liar-game")
    assert full[0].split() == ["SET", "CREATED", "(UTC)", "SIZE", "SERVICES", "PROJECT", "STATUS"] and max(map(len, full)) > 80
    narrow = backup_list_lines(sets, "liar-game", 80)
    assert narrow[0].split() == ["SET", "CREATED", "(UTC)", "SIZE", "SERVICES", "STATUS"] and max(map(len, narrow)) <= 80
    # a set of another project keeps PROJECT; the creation time goes (the id is that time)
    mixed = backup_list_lines([*sets, _set("20261127T095038Z", "other-game")], "liar-game", 80)
    assert mixed[0].split() == ["SET", "SIZE", "SERVICES", "PROJECT", "STATUS"] and max(map(len, mixed)) <= 80
    assert "other-game" in mixed[-1]
