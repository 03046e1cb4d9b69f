"""Two liar-tuis on one project (two consoles, a console and cron): compose runs on a service one
at a time, up and down alone, and neither during a restore. QA: an up during a recreate of
postgres failed both and left postgres with no container. The real command line, the real stack;
the other liar-tui is a process holding its turn (locks.compose_turn, which the actions take)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import stackkit

from liar_tui.stack.backup import BackupError, BackupManager
from liar_tui.stack.project import Project

pytestmark = pytest.mark.engine

cli = stackkit.cli
other_liar_tui = stackkit.other_liar_tui


def test_actions_wait_their_turn_across_liar_tuis(running_stack: Project, tmp_path: Path) -> None:
    project = running_stack
    sets = tmp_path / "sets"
    bset = BackupManager(project, backup_dir=sets).backup(["redis"])
    before = stackkit.inspect(stackkit.state_of(project, "redis").container_id)["State"]["StartedAt"]
    with other_liar_tui(project, ("redis",)) as pid:
        busy = f"another liar-tui is acting on redis (pid {pid}): wait for it to finish"
        restart = cli(project, "restart", "redis")
        assert restart.returncode == 1, restart
        assert restart.stderr.strip().splitlines() == [
            f"liar-tui: restart redis failed: {busy}, then run this again; or let it wait: --wait-turn SECONDS"], restart.stderr
        up = cli(project, "up")
        assert up.returncode == 1 and f"another liar-tui is running compose on {project.name}" in up.stderr, up
        with pytest.raises(BackupError, match=rf"another liar-tui is acting on redis \(pid {pid}\)"):
            BackupManager(project, backup_dir=sets).restore(bset.id, ["redis"])
        assert stackkit.inspect(stackkit.state_of(project, "redis").container_id)["State"]["StartedAt"] == before
        other = cli(project, "restart", "nginx")  # another service: side by side
        assert other.returncode == 0, other
    stackkit.wait_health(project, "nginx", "healthy")
    again = cli(project, "restart", "redis")  # the turn went with the other liar-tui
    assert again.returncode == 0, again
    stackkit.wait_health(project, "redis", "healthy")


def test_with_wait_turn_an_action_waits_for_the_other_liar_tui_instead_of_failing(running_stack: Project) -> None:
    """cron's `restart --wait-turn N` meeting a console's action: it says why it waits, then acts."""
    project = running_stack
    before = stackkit.inspect(stackkit.state_of(project, "redis").container_id)["State"]["StartedAt"]
    with other_liar_tui(project, ("redis",)) as pid:
        waiting = subprocess.Popen(
            [sys.executable, "-m", "liar_tui", "--project-dir", str(project.root), "--project-name", project.name,
             "restart", "redis", "--wait-turn", "120"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=stackkit.REPO)
        assert waiting.stdout is not None
        said = waiting.stdout.readline()
        assert said == f"waiting for its turn (up to 120s): another liar-tui is acting on redis (pid {pid})\n", said
        time.sleep(3)
        assert waiting.poll() is None  # still waiting: the other liar-tui has the turn
        assert stackkit.inspect(stackkit.state_of(project, "redis").container_id)["State"]["StartedAt"] == before
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, (out, err)
    done = re.search(r"restart redis: done in ([\d.]+)s", out)
    assert done and float(done[1]) < 3.0, out  # the restart's own time, not the 4 s waited for the turn
    assert stackkit.inspect(stackkit.state_of(project, "redis").container_id)["State"]["StartedAt"] != before
    stackkit.wait_health(project, "redis", "healthy")
