"""The activity log on the real stack: CLI actions, bucket bootstrap and probe alarms are recorded,
appended to the project's file, printed by `liar-tui activity`, and hold no secret."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest
import stackkit

from liar_tui.stack.activity import ActivityLog, ActivityRecorder, activity_path, read_entries
from liar_tui.stack.buckets import ensure_buckets
from liar_tui.stack.probes import FAIL, ProbeRunner
from liar_tui.stack.project import Project

pytestmark = pytest.mark.engine


cli = stackkit.cli


def secrets_of(project: Project) -> list[str]:
    env = project.env()
    return [env["POSTGRES_PASSWORD"], env["REDIS_PASSWORD"], env["MINIO_ROOT_PASSWORD"]]


def test_cli_actions_and_bucket_bootstrap_are_recorded(running_stack: Project) -> None:
    path = activity_path(running_stack)
    size_before = path.stat().st_size if path.exists() else 0
    assert ensure_buckets(running_stack, wait=60).ok
    stackkit.s3_client(running_stack).remove_bucket("replays")

    up = cli(running_stack, "up", "minio")
    assert up.returncode == 0, up.stderr
    assert "created bucket replays" in up.stdout.splitlines()
    assert "created bucket game-logs" not in up.stdout, "only missing buckets are created"

    out = cli(running_stack, "restart", "nginx")
    assert out.returncode == 0, out.stderr
    stackkit.wait_health(running_stack, "nginx", "healthy")

    assert path.stat().st_size > size_before, "appended, not rewritten"
    entries = read_entries(path, 10)
    texts = [(e.kind, e.service, e.text) for e in entries]
    assert ("bucket", "minio", "created bucket replays") in texts
    assert any(k == "action" and s == "minio" and t.startswith("up minio: done") for k, s, t in texts), texts
    assert any(k == "action" and s == "nginx" and t.startswith("restart nginx: done") for k, s, t in texts), texts

    shown = cli(running_stack, "activity", "-n", "3")
    assert shown.returncode == 0, shown.stderr
    assert len(shown.stdout.splitlines()) == 3 and "restart nginx: done" in shown.stdout.splitlines()[-1]

    text = path.read_text()
    for secret in secrets_of(running_stack):
        assert secret not in text


def test_probe_alarms_reach_the_log_and_the_follower(running_stack: Project) -> None:
    assert ensure_buckets(running_stack, wait=60).ok
    log = ActivityLog(running_stack)
    log.record("note", "", "follower marker")
    follower = subprocess.Popen(
        [sys.executable, "-m", "liar_tui", "--project-dir", str(running_stack.root), "--project-name",
         running_stack.name, "activity", "-n", "1", "-f"],
        stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    printed: list[str] = []
    reader = threading.Thread(target=lambda: printed.extend(iter(follower.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    stackkit.wait_for(lambda: any("follower marker" in line for line in printed), 30, what="the follower to start")
    recorder = ActivityRecorder(log)
    runner = ProbeRunner(running_stack, interval=0.5, on_result=recorder.on_probe, services=("redis",))
    st = stackkit.wait_health(running_stack, "redis", "healthy")
    try:
        runner.start()
        stackkit.wait_for(lambda: runner.result("redis"), 10, what="a first probe round")
        stackkit.signal_container(st.container_id, signal.SIGSTOP)
        try:
            stackkit.wait_for(lambda: (r := runner.result("redis")) and r.level == FAIL, 15, what="redis probe fail")
        finally:
            stackkit.signal_container(st.container_id, signal.SIGCONT)
        stackkit.wait_for(lambda: (r := runner.result("redis")) and r.level == "ok", 15, what="redis probe ok")
    finally:
        runner.stop()
        recorder.close()
    alarms = [e.text for e in log.entries() if e.kind == "probe" and e.service == "redis"]
    assert alarms[-2].startswith("ok -> fail: unreachable") and alarms[-1].startswith("fail -> ok: Redis")
    try:
        stackkit.wait_for(lambda: any("fail -> ok" in line for line in printed), 10, what="the follower to print")
    finally:
        follower.send_signal(signal.SIGINT)
        follower.wait(10)
    text = "".join(printed)
    assert text.count("ok -> fail: unreachable") == 1 and text.count("fail -> ok") == 1, text
    stackkit.wait_health(running_stack, "redis", "healthy")


def test_headless_backup_verify_restore_prune_and_shell_are_recorded(running_stack: Project, tmp_path) -> None:
    """`liar-tui backup` from cron and the other backup commands leave their line in the activity
    log: what ran, on what, and how it ended (a refused restore changes nothing)."""
    path = activity_path(running_stack)
    start = len(read_entries(path)) if path.exists() else 0
    backups = tmp_path / "backups"

    made = cli(running_stack, "backup", "redis", "--backup-dir", str(backups), "-q")
    assert made.returncode == 0, made.stderr
    set_id = made.stdout.split()[1]
    verified = cli(running_stack, "verify", set_id, "--backup-dir", str(backups))
    assert verified.returncode == 0, verified.stderr

    # a flipped byte: verify fails, and restore refuses before touching anything
    data = backups / set_id / "redis" / "dump.rdb"
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))
    assert cli(running_stack, "verify", set_id, "--backup-dir", str(backups)).returncode == 1
    refused = cli(running_stack, "restore", set_id, "--backup-dir", str(backups), "--yes")
    assert refused.returncode == 1

    unwritable = tmp_path / "ro"
    unwritable.mkdir()
    (unwritable / "backups").write_text("a file where the backup folder should be")
    failed = cli(running_stack, "backup", "redis", "--backup-dir", str(unwritable / "backups"), "-q")
    assert failed.returncode != 0

    # the only set failed its verify: prune keeps no bad set in place of a good one
    pruned = cli(running_stack, "backup", "prune", "--keep", "1", "--backup-dir", str(backups))
    assert pruned.returncode == 0, pruned.stderr
    shell = subprocess.run(
        [sys.executable, "-m", "liar_tui", "--project-dir", str(running_stack.root), "--project-name",
         running_stack.name, "shell", "redis"], input="PING\n", capture_output=True, text=True, timeout=60)
    assert shell.returncode == 0 and "PONG" in shell.stdout, shell.stderr

    entries = read_entries(path)[start:]
    texts = [(e.kind, e.service, e.text) for e in entries]
    assert all(k == "action" for k, _, _ in texts), texts
    said = [f"{s}|{t}" for _, s, t in texts]
    assert any(x.startswith(f"redis|backup {set_id} complete: redis ") for x in said), said
    assert f"redis|verify {set_id}: OK" in said, said
    assert any(x.startswith(f"redis|verify {set_id}: FAILED (") for x in said), said
    assert any(x.startswith(f"redis|restore {set_id} refused: backup set {set_id} fails verification") for x in said), said
    assert not any("restore" in x and "started" in x for x in said), said
    assert any(x.startswith("redis|backup of redis failed: ") for x in said), said
    assert f"|prune --keep 1: removed {set_id}" in said, said
    assert "redis|redis-cli opened (fed from stdin; liar-tui shell)" in said, said
    text = path.read_text()
    for secret in secrets_of(running_stack):
        assert secret not in text


def test_an_unwritable_activity_log_is_said_not_lost_silently(tmp_path) -> None:
    """QA: with the log's path a folder (or read-only), every entry was dropped without a word:
    `restart` said nothing, `activity` said 'no activity yet'. Now each command notes it in one
    line, the headless autoheal says so once, and `activity` says what is wrong."""
    project = stackkit.make_project(tmp_path / "p")
    path = activity_path(project)
    path.mkdir(parents=True)  # a folder where the log file should be
    log = ActivityLog(project, preload=False)
    told: list[str] = []
    log.on_write_error = told.append
    log.record("action", "redis", "one")
    log.record("action", "redis", "two")
    assert len(told) == 1 and "cannot write the activity log" in told[0] and str(path) in told[0], told
    assert [e.text for e in log.entries()] == ["one", "two"]  # kept in memory
    import contextlib
    import io

    from liar_tui.cli_health import record_action
    from liar_tui.stack.compose import Stack
    from liar_tui.stack.model import ActionResult

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        record_action(Stack(project), ActionResult("restart", ("redis",), True, "", 0.1))
    assert err.getvalue().startswith("liar-tui: note: cannot write the activity log") and err.getvalue().count("\n") == 1
    shown = subprocess.run([sys.executable, "-m", "liar_tui", "--project-dir", str(project.root), "activity"],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 1 and "is not a file" in shown.stderr and "no activity yet" not in shown.stderr, shown


def test_two_watchers_write_each_transition_once(tmp_path) -> None:
    """QA: a console and a headless autoheal on one project wrote every state, health and probe
    change twice. One recorder (the lock holder) writes them; when it goes, the other takes over."""
    from dataclasses import replace

    from liar_tui.stack.model import HealthInfo, ServiceState

    project = stackkit.make_project(tmp_path / "p")
    first = ActivityRecorder(ActivityLog(project, preload=False))
    second = ActivityRecorder(ActivityLog(project, preload=False))
    healthy = ServiceState(service="redis", container_id="c1", state="running", health=HealthInfo(status="healthy"))
    sick = replace(healthy, health=HealthInfo(status="unhealthy", failing_streak=3))
    for recorder in (first, second):
        recorder.on_state(healthy)  # the baseline: not written
    for recorder in (first, second):
        recorder.on_state(sick)
    texts = [e.text for e in read_entries(activity_path(project))]
    assert texts == ["healthy -> unhealthy (3 failing checks)"], texts
    first.close()
    for recorder in (second, first):
        recorder.on_state(healthy)
    assert second._recorder_fd is not None  # it took over
    texts = [e.text for e in read_entries(activity_path(project))]
    assert texts == ["healthy -> unhealthy (3 failing checks)", "unhealthy -> healthy"], texts


def test_activity_command_filters_by_service_and_text(tmp_path) -> None:
    """`liar-tui activity SVC --grep TEXT -n N`: the last N entries of that service holding the
    text (any case), N counted after the filters; nothing matching is said on stderr, exit 0."""
    project = stackkit.make_project(tmp_path / "p")
    log = ActivityLog(project, preload=False)
    for i in range(30):
        log.record("health", "redis", f"healthy -> unhealthy ({i})")
        log.record("state", "nginx", f"running -> exited ({i}) unhealthy")
        log.record("action", "redis", f"restart redis: done ({i})")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "liar_tui", "--project-dir", str(project.root), "activity", *args],
                              capture_output=True, text=True, timeout=60)

    shown = run("redis", "--grep", "UNHEALTHY", "-n", "3")
    lines = shown.stdout.splitlines()
    assert shown.returncode == 0 and len(lines) == 3, shown
    assert all(" health " in ln and " redis " in ln for ln in lines), lines
    assert lines[-1].endswith("healthy -> unhealthy (29)") and lines[0].endswith("(27)")
    assert len(run("--grep", "unhealthy", "-n", "0").stdout.splitlines()) == 60  # both services, every one
    assert len(run("nginx", "-n", "0").stdout.splitlines()) == 30
    none = run("postgres", "--grep", "x")
    assert none.returncode == 0 and none.stdout == "" and "no activity entries of postgres holding 'x'" in none.stderr
