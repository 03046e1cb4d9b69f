"""The README's first command, `liar-tui up --wait`, on a stack that is not running: exit 0, the
four services healthy and their status printed; a failing action carries compose's own message
in one line; `down --volumes --yes` removes the containers and the data (plain `down` keeping
it is in test_data.py). Its own project: it takes the stack down."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

import pytest
import stackkit

from liar_tui.stack.envfile import set_env_values
from liar_tui.stack.project import Project

pytestmark = pytest.mark.engine

SERVICES = ("postgres", "redis", "nginx", "minio")


cli = functools.partial(stackkit.cli, timeout=400)


def containers(project: Project) -> list[str]:
    out = subprocess.run(["docker", "ps", "-a", "--filter", f"label=com.docker.compose.project={project.name}",
                          "--format", "{{.Names}}"], capture_output=True, text=True, check=True).stdout
    return out.split()


def test_up_wait_prints_four_healthy_then_down_volumes_removes_everything(engine_ready: None, tmp_path: Path) -> None:
    project = stackkit.make_project(tmp_path / "p")
    stackkit.destroy(project)
    try:
        up = cli(project, "up", "--wait")
        assert up.returncode == 0, up.stderr
        rows = {line.split()[0]: line.split() for line in up.stdout.splitlines() if line.split()[:1] and line.split()[0] in SERVICES}
        assert {s: rows[s][1:3] for s in SERVICES} == {s: ["running", "healthy"] for s in SERVICES}, up.stdout
        assert "created bucket game-logs" in up.stdout  # the bucket bootstrap of a first `up`
        for s in SERVICES:
            assert stackkit.state_of(project, s).health.status == "healthy"
        assert "Traceback" not in up.stderr

        # a failing action: compose's own reason, in one line, and the service left running
        env_text = project.env_file.read_text()
        project.env_file.write_text(set_env_values(env_text, {"MINIO_IMAGE": "liar-offline/no-such-image:0"}))
        before = stackkit.state_of(project, "minio").container_id
        failed = cli(project, "recreate", "minio")
        project.env_file.write_text(env_text)
        assert failed.returncode == 1 and failed.stdout == ""
        (line,) = failed.stderr.strip().splitlines()
        assert line.startswith("liar-tui: recreate minio failed: "), line
        # compose's own words: offline, its pull fails at the registry; online, the image is unknown
        assert any(w in line for w in ("registry", "pull access denied", "not found", "no-such-image")), line
        assert stackkit.state_of(project, "minio").container_id == before

        # down --volumes refuses without --yes when not on a terminal, then deletes with it
        refused = cli(project, "down", "--volumes")
        assert refused.returncode != 0 and "--yes" in refused.stderr and containers(project)
        data = project.root / "docker" / "volumes"
        assert (data / "postgres").is_dir() and any((data / "postgres").iterdir())
        down = cli(project, "down", "--volumes", "--yes")
        assert down.returncode == 0, down.stderr
        assert "down (data deleted) all services: done" in down.stdout, down.stdout  # not told like a plain down
        assert containers(project) == []
        assert not any(p.exists() and any(p.iterdir()) for p in (data / s for s in ("postgres", "redis", "minio"))), \
            list(data.rglob("*"))[:5]
    finally:
        stackkit.destroy(project)


def test_data_that_cannot_be_removed_is_one_line_not_a_traceback(engine_ready: None, tmp_path: Path) -> None:
    """`down --volumes` where the data cannot be deleted (here a read-only mount; for a non-root
    user, files owned by the containers' users) ends in one line naming the folder."""
    from liar_tui.stack.compose import Stack
    from liar_tui.stack.errors import StackError

    project = stackkit.make_project(tmp_path / "p")
    data = project.root / "docker" / "volumes"
    data.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(data)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        (data / "postgres").mkdir()
        (data / "postgres" / "PG_VERSION").write_text("15\n")
        subprocess.run(["mount", "-o", "remount,ro", str(data)], check=True)
        with pytest.raises(StackError) as info:
            Stack(project)._remove_data()
        message = str(info.value)
        assert "\n" not in message and str(data) in message and "as root" in message, message
        assert (data / "postgres" / "PG_VERSION").exists()
    finally:
        subprocess.run(["umount", "-l", str(data)], capture_output=True)


def test_ctrl_c_during_up_is_in_the_activity_log(engine_ready: None, tmp_path: Path) -> None:
    """Ctrl-C (or SIGTERM) during `liar-tui up --wait` ended it with 130 and no entry at all in the
    activity log: read in the morning, it showed no trace of a half-done up."""
    import signal
    import sys

    from liar_tui.stack.activity import activity_path, read_entries

    project = stackkit.make_project(tmp_path / "p")
    stackkit.destroy(project)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "liar_tui", "--project-dir", str(project.root), "--project-name", project.name,
             "up", "--wait"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=stackkit.REPO)
        stackkit.wait_for(lambda: len(containers(project)) >= 3, 60, interval=0.05, what="the up under way")
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        last = read_entries(activity_path(project), 5)[-1].text
        assert last.startswith("up all services failed: interrupted by Ctrl-C after "), last
        assert last.endswith("; run it again"), last
    finally:
        stackkit.destroy(project)
