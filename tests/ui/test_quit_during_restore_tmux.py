"""Quitting during a console restore, as a person meets it: the installed `liar-tui` in tmux at
80x24 on the real isolated stack (tests/e2e's tmux kit). QA: ctrl+q mid-restore blanked the
terminal for ~11 s without a word, then the console exited when the restore ended."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

import liarscreen  # noqa: E402
from tmuxkit import TmuxServer, liar_tui_executable  # noqa: E402

from liar_tui.stack.project import Project  # noqa: E402

pytestmark = pytest.mark.engine


def test_ctrl_q_during_a_restore_asks_says_what_it_waits_for_and_quits_when_it_ends(
        running_stack: Project, tmux: TmuxServer) -> None:
    project = running_stack
    where = ["--project-dir", str(project.root), "--project-name", project.name]
    made = subprocess.run([liar_tui_executable(), *where, "backup"], capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stdout + made.stderr
    set_id = made.stdout.split("backup ", 1)[1].split()[0]
    status = project.root / ".exit-status-quit"
    status.unlink(missing_ok=True)
    # the shell stays after the console (sleep): its screen is what the console left behind
    command = f"{shlex.join([liar_tui_executable(), *where, '--no-up'])}; echo $? > {shlex.quote(str(status))}; sleep 60"
    tmux.new_session("quit", command, 80, 24, cwd=project.root, env={"LIAR_TUI_CONFIG": "/nonexistent/liar-tui.toml"})
    tmux.wait_for("quit", liarscreen.console_ready, timeout=30, what="the console, all four healthy")
    tmux.send_keys("quit", "V")
    tmux.wait_for("quit", lambda s: set_id in s, timeout=10, what="the backups list")
    tmux.send_keys("quit", "G")  # the newest set: the one just made
    time.sleep(0.2)
    tmux.send_keys("quit", "r")
    tmux.wait_for("quit", lambda s: f"type {project.name} to confirm" in s, timeout=10, what="the restore dialog")
    tmux.send_keys("quit", project.name, "Enter")
    tmux.wait_for("quit", lambda s: "Restoring" in s, timeout=10, what="the restore running")
    tmux.send_keys("quit", "C-q")
    asked = tmux.wait_for("quit", lambda s: "Quit while a restore runs?" in s, timeout=5, what="the question")
    assert "cannot be stopped half-way" in asked.screen, asked.screen
    tmux.send_keys("quit", "y")
    waiting = tmux.wait_for("quit", lambda s: "quitting when the restore ends" in s or status.exists(), timeout=5,
                            what="the dialog saying what the quit waits for")
    assert "quitting when the restore ends" in waiting.screen, waiting.screen  # the restore was still running
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not status.exists():
        time.sleep(0.1)
    assert status.exists() and status.read_text().strip() == "0", tmux.capture("quit")
    after = tmux.capture("quit")
    assert f"liar-tui: ✓ restore {set_id}" in after, after  # what it waited for, on the terminal left behind
    log = (project.root / "docker" / "liar-tui-activity.log").read_text()
    assert f"restore {set_id} of postgres, redis, minio started" in log and f"restore {set_id} (postgres, redis, minio) done" in log
