"""Quitting during a console restore, as a person meets it: the installed `liar-tui` in tmux at
80x24 on the real isolated stack (tests/e2e's tmux kit). QA: ctrl+q mid-restore blanked the
terminal for ~11 s without a word, then the console exited when the restore ended."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

import liarscreen  # noqa: E402
import stackkit  # noqa: E402
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
    status = _console_leaving_status(tmux, project, "quit")
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


def _console_leaving_status(tmux: TmuxServer, project: Project, session: str) -> Path:
    """The console in tmux at 80x24, all four healthy, in a shell that writes its exit status to
    the returned file and stays (sleep): its screen is what the console left behind."""
    where = ["--project-dir", str(project.root), "--project-name", project.name]
    status = project.root / f".exit-status-{session}"
    status.unlink(missing_ok=True)
    command = f"{shlex.join([liar_tui_executable(), *where, '--no-up'])}; echo $? > {shlex.quote(str(status))}; sleep 60"
    tmux.new_session(session, command, 80, 24, cwd=project.root, env={"LIAR_TUI_CONFIG": "/nonexistent/liar-tui.toml"})
    tmux.wait_for(session, liarscreen.console_ready, timeout=30, what="the console, all four healthy")
    return status


def _console(tmux: TmuxServer, project: Project, session: str, prefix: tuple[str, ...] = ()) -> psutil.Process:
    """The console in tmux at 80x24, all four healthy; returns its process."""
    where = ["--project-dir", str(project.root), "--project-name", project.name]
    pane = tmux.new_session(session, [*prefix, liar_tui_executable(), *where, "--no-up"], 80, 24, cwd=project.root,
                            env={"LIAR_TUI_CONFIG": "/nonexistent/liar-tui.toml"})
    tmux.wait_for(session, liarscreen.console_ready, timeout=30, what="the console, all four healthy")
    for p in [psutil.Process(pane), *psutil.Process(pane).children(recursive=True)]:
        if "--no-up" in p.cmdline() and not p.cmdline()[0].endswith("tmux"):
            return p
    raise AssertionError("no console process")


def _gone(proc: psutil.Process, timeout: float) -> bool:
    try:
        proc.wait(timeout)
    except psutil.TimeoutExpired:
        return False
    return True


def _activity(project: Project) -> str:
    return (project.root / "docker" / "liar-tui-activity.log").read_text()


@pytest.fixture
def bulky(running_stack: Project) -> Iterator[Project]:
    """The stack with a table that makes a dump or a restore of postgres take a few seconds."""
    with stackkit.pg_connect(running_stack) as conn:
        conn.execute("CREATE TABLE hup_bulk AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1500000) g")
        conn.commit()
    try:
        yield running_stack
    finally:
        with stackkit.pg_connect(running_stack) as conn:
            conn.execute("DROP TABLE IF EXISTS hup_bulk")
            conn.commit()


def test_a_terminal_that_goes_away_cancels_a_backup_and_finishes_a_restore(bulky: Project, tmux: TmuxServer) -> None:
    """An SSH connection dropped under the console (tmux kill-session: its terminal hangs up).
    SIGHUP killed the console at once: mid-restore, that left a database half restored; mid-backup,
    pg_dump ran on in the container. Now it ends as a quit does: the backup is cancelled (nothing
    kept), the restore runs to its end, and the activity log says why the console ended."""
    project = bulky
    where = ["--project-dir", str(project.root), "--project-name", project.name]
    backups = project.root / "backups"
    # a backup, cut by the terminal going away
    before = set(p.name for p in backups.iterdir()) if backups.exists() else set()
    console = _console(tmux, project, "hup-backup")
    tmux.send_keys("hup-backup", "1")
    tmux.wait_for("hup-backup", lambda s: liarscreen.selected_service(s) == "postgres", timeout=5, what="postgres selected")
    tmux.send_keys("hup-backup", "B")
    tmux.wait_for("hup-backup", lambda s: "Backing up" in s and "postgres  dump " in s, timeout=10,
                  what="the dump under way")
    tmux.kill_session("hup-backup")
    assert _gone(console, 30), "the console outlived its terminal"
    assert set(p.name for p in backups.iterdir()) == before  # no set, no .partial folder
    assert "pg_dump" not in " ".join(" ".join(r) for r in stackkit.Engine().api.top(
        stackkit.state_of(project, "postgres").container_id)["Processes"])
    log = _activity(project)
    assert "console ended: its terminal went away" in log and "the running backup is cancelled first" in log, log[-2000:]

    # a restore: it must end, with the data of the set
    redis = stackkit.redis_client(project)
    redis.set("hup:marker", "in-the-set")
    made = subprocess.run([liar_tui_executable(), *where, "backup", "postgres", "redis"], capture_output=True,
                          text=True, timeout=300)
    assert made.returncode == 0, made.stdout + made.stderr
    set_id = made.stdout.split("backup ", 1)[1].split()[0]
    redis.set("hup:marker", "after-the-set")
    console = _console(tmux, project, "hup-restore")
    tmux.send_keys("hup-restore", "V")
    tmux.wait_for("hup-restore", lambda s: set_id in s, timeout=10, what="the backups list")
    tmux.send_keys("hup-restore", "G")
    time.sleep(0.2)
    tmux.send_keys("hup-restore", "r")
    tmux.wait_for("hup-restore", lambda s: f"type {project.name} to confirm" in s, timeout=10, what="the restore dialog")
    tmux.send_keys("hup-restore", project.name, "Enter")
    tmux.wait_for("hup-restore", lambda s: "Restoring" in s, timeout=10, what="the restore running")
    tmux.kill_session("hup-restore")
    assert _gone(console, 180), "the console outlived its terminal by minutes"
    log = _activity(project)
    assert "the running restore is finished first" in log, log[-2000:]
    assert f"restore {set_id} (postgres, redis) done" in log, log[-2000:]
    assert log.index("the running restore is finished first") < log.index(f"restore {set_id} (postgres, redis) done")
    assert redis.get("hup:marker") == b"in-the-set"
    stackkit.wait_all_healthy(project)
    redis.delete("hup:marker")


def test_headless_backup_and_restore_on_a_terminal_that_goes_away(bulky: Project, tmux: TmuxServer, tmp_path: Path) -> None:
    """`liar-tui restore` over SSH, and the connection drops: killed by SIGHUP, it left the database
    half restored. Now a restore goes on to its end (and says so in the activity log); a backup
    is cancelled and keeps nothing."""
    project = bulky
    where = ["--project-dir", str(project.root), "--project-name", project.name]
    sets = ["--backup-dir", str(tmp_path / "sets")]
    tmux.new_session("cli-backup", [liar_tui_executable(), *where, "backup", "postgres", *sets], 80, 24, cwd=project.root)
    tmux.wait_for("cli-backup", lambda s: "postgres: dump" in s, timeout=20, what="the dump under way")
    backup = _cli_process(["backup", "postgres"])
    tmux.kill_session("cli-backup")
    assert _gone(backup, 30), "the backup outlived its terminal"
    assert list((tmp_path / "sets").iterdir()) == []  # nothing kept, not even a .partial folder
    assert _activity(project).splitlines()[-1].endswith("backup of postgres cancelled")

    made = subprocess.run([liar_tui_executable(), *where, "backup", "postgres", *sets], capture_output=True, text=True,
                          timeout=300)
    assert made.returncode == 0, made.stdout + made.stderr
    set_id = made.stdout.split("backup ", 1)[1].split()[0]
    with stackkit.pg_connect(project) as conn:
        conn.execute("DELETE FROM hup_bulk WHERE id > 1000")
        conn.commit()
    tmux.new_session("cli-restore", [liar_tui_executable(), *where, "restore", set_id, "postgres", "--yes", *sets], 80, 24,
                     cwd=project.root)
    tmux.wait_for("cli-restore", lambda s: "postgres: restore" in s, timeout=30, what="the restore under way")
    restore = _cli_process(["restore", set_id])
    tmux.kill_session("cli-restore")
    assert _gone(restore, 180), "the restore never ended"
    last = _activity(project).splitlines()[-1]
    assert f"restore {set_id} done in " in last, last
    with stackkit.pg_connect(project) as conn:
        assert conn.execute("SELECT count(*) FROM hup_bulk").fetchone()[0] == 1500000
    stackkit.wait_all_healthy(project)


def _cli_process(args: list[str]) -> psutil.Process:
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if any("liar-tui" in c for c in cmd[:2]) and all(a in cmd for a in args):
            return p
    raise AssertionError(f"no liar-tui {' '.join(args)} running")


def test_a_console_that_ignores_sighup_still_ends_with_its_terminal(running_stack: Project, tmux: TmuxServer) -> None:
    """Started with SIGHUP ignored (nohup, some job runners), the console outlived its terminal
    and spun at 64% of a core for ever (its input thread selecting a descriptor always at its end).
    It now ends when its input ends, or when a write to the terminal fails, whichever comes first."""
    ignore = (sys.executable, "-c", "import os, signal, sys; signal.signal(signal.SIGHUP, signal.SIG_IGN); "
              "os.execvp(sys.argv[1], sys.argv[1:])")
    console = _console(tmux, running_stack, "nohup", ignore)
    tmux.kill_session("nohup")
    assert _gone(console, 15), f"the console outlived its terminal, at {console.cpu_percent(0.5)}% CPU"
    assert "console ended: its terminal went away" in _activity(running_stack).splitlines()[-1]


def test_q_during_a_recreate_quits_when_it_ends_leaving_the_service_whole(running_stack: Project, tmux: TmuxServer) -> None:
    """QA: q 0.4 s into `R` on postgres stopped compose half-way: the old container exited beside
    a renamed new one (`<id>_liar-game-postgres`, created), the database down until the next up.
    q now waits for the recreate, says so, and quits when it ends: one postgres container, new and
    running."""
    project = running_stack
    where = ["--project-dir", str(project.root), "--project-name", project.name]
    old = stackkit.state_of(project, "postgres").container_id
    logged = len(_activity(project)) if (project.root / "docker" / "liar-tui-activity.log").exists() else 0
    status = _console_leaving_status(tmux, project, "recreate")
    tmux.send_keys("recreate", "1")
    tmux.wait_for("recreate", lambda s: liarscreen.selected_service(s) == "postgres", timeout=5, what="postgres selected")
    try:
        tmux.send_keys("recreate", "R", "q")  # q while compose runs: R has started it when q is read
        tmux.wait_for("recreate", lambda s: "quitting when recreate postgres ends" in s or "(then quitting)" in s or status.exists(),
                      timeout=10, interval=0.02, what="the console saying it quits when the recreate ends")
        stackkit.wait_for(status.exists, timeout=120, interval=0.1, what="the console's exit")
        assert status.read_text().strip() == "0", tmux.capture("recreate")
        after = tmux.capture("recreate")
        assert "liar-tui: ✓ recreate postgres: done" in after, after
        names = subprocess.run(["docker", "ps", "-a", "--filter", f"label=com.docker.compose.project={project.name}",
                                "--filter", "label=com.docker.compose.service=postgres", "--format", "{{.ID}} {{.Names}} {{.State}}"],
                               capture_output=True, text=True, check=True).stdout.split("\n")
        containers = [line.split() for line in names if line.strip()]
        assert len(containers) == 1 and containers[0][2] == "running", containers
        assert not old.startswith(containers[0][0])
        said = _activity(project)[logged:]
        assert "recreate postgres: done" in said and "recreate postgres cut short" not in said, said
    finally:
        subprocess.run([liar_tui_executable(), *where, "up", "--wait"], capture_output=True, timeout=300)
    stackkit.wait_health(project, "postgres", "healthy")
