"""Autoheal on a real stack: a hung service is restarted and recovers; a service that stays broken is
restarted at most max_attempts times; healthy and user-stopped services are never touched.

Its own stack (postgres, redis, nginx) with nginx's start_period cut to 1 s: a failing check only
counts after the start period, and the cap test needs nginx to turn unhealthy again quickly after
each restart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import stackkit

from liar_tui.stack.activity import ActivityLog, activity_path, fan_out, read_entries
from liar_tui.stack.backup import BackupManager
from liar_tui.stack.autoheal import AutoHealer, AutohealPolicy, AutohealStep
from liar_tui.stack.compose import Stack
from liar_tui.stack.monitor import StackMonitor
from liar_tui.stack.project import Project

pytestmark = pytest.mark.engine

OVERRIDE = """\
services:
  postgres:
    healthcheck: {interval: 1s, timeout: 3s, retries: 2, start_period: 30s}
  redis:
    healthcheck: {interval: 1s, timeout: 2s, retries: 2, start_period: 30s}
  nginx:
    healthcheck: {interval: 1s, timeout: 3s, retries: 2, start_period: 1s}
"""


@pytest.fixture(scope="module")
def heal_stack(engine_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = stackkit.make_project(tmp_path_factory.mktemp("autoheal"))
    project.override_file.write_text(OVERRIDE)
    stackkit.destroy(project)
    try:
        result = Stack(project).up(["nginx"], wait=True, wait_timeout=180)
        assert result.ok, result.message
        yield project
    finally:
        stackkit.destroy(project)


class Lines:
    """Collects a subprocess's stdout lines in a thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float) -> str:
        return stackkit.wait_for(
            lambda: next((line for line in self.lines if text in line), None), timeout, interval=0.2,
            what=f"{text!r} in autoheal output",
        )


def test_cli_autoheal_restarts_a_hung_service_and_nothing_else(heal_stack: Project) -> None:
    stack = Stack(heal_stack)
    pg_before = stackkit.wait_health(heal_stack, "postgres", "healthy")
    redis_before = stackkit.wait_health(heal_stack, "redis", "healthy")
    proc = subprocess.Popen(
        [sys.executable, "-m", "liar_tui", "--project-dir", str(heal_stack.root), "--project-name", heal_stack.name,
         "autoheal", "--checks", "2", "--max-attempts", "2", "--backoff", "5", "--recheck", "0.5", "--stop-timeout", "1",
         "--probe-interval", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    out = Lines(proc)
    try:
        out.wait_for("autoheal on", 20)
        time.sleep(1)  # the monitor's first inspect
        stackkit.signal_container(redis_before.container_id, signal.SIGSTOP)
        try:
            out.wait_for("restarting (attempt 1 of 2)", 60)
            out.wait_for("restarted redis", 30)
        finally:
            # harmless when the restart already replaced the processes
            stackkit.signal_container(redis_before.container_id, signal.SIGCONT)
        out.wait_for("redis is healthy again after autoheal restart 1", 60)
        after = stackkit.wait_health(heal_stack, "redis", "healthy")
        assert after.started_at and redis_before.started_at and after.started_at > redis_before.started_at

        # a service the user stops is left stopped
        assert stack.stop("postgres").ok
        time.sleep(3)
        assert stackkit.state_of(heal_stack, "postgres").state == "exited"
        assert stack.start("postgres").ok
        stackkit.wait_health(heal_stack, "postgres", "healthy")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(15)
    assert code == 0
    heal_lines = [line for line in out.lines if "autoheal" in line.split()[2:3]]
    restarted = [line for line in heal_lines if "restarting" in line]
    assert len(restarted) == 1 and " redis " in restarted[0], heal_lines
    assert not any("postgres" in line for line in heal_lines), "postgres must never be touched by autoheal"
    pg_after = stackkit.state_of(heal_stack, "postgres")
    assert pg_after.container_id == pg_before.container_id
    # the same steps are in the activity file, with state and health transitions
    kinds = {(e.kind, e.service) for e in read_entries(activity_path(heal_stack))}
    assert ("autoheal", "redis") in kinds and ("health", "redis") in kinds
    # and the probes' alarms: the hung redis stopped answering its client, then answered again
    alarms = [e.text for e in read_entries(activity_path(heal_stack)) if (e.kind, e.service) == ("probe", "redis")]
    # ("new -> fail" when the freeze came before redis's first probe, on a loaded machine)
    assert any(t.startswith(("ok -> fail: unreachable", "new -> fail: unreachable")) for t in alarms), alarms
    assert alarms[-1].split(":")[0] in ("fail -> ok", "warn -> ok"), alarms  # (warn: while it was starting)


def test_autoheal_gives_up_after_its_cap(heal_stack: Project) -> None:
    """Two healers on the project (a console and a headless watcher): the cap is the project's
    (one restarts, the other stands by), and neither restarts while a restore holds its lock."""
    stack = Stack(heal_stack)
    conf = heal_stack.root / "nginx" / "nginx.conf"
    original = conf.read_text()
    broken = original.replace('return 200 "OK\\n";', 'return 503 "broken on purpose\\n";')
    assert broken != original
    pg_before = stackkit.wait_health(heal_stack, "postgres", "healthy")
    redis_before = stackkit.wait_health(heal_stack, "redis", "healthy")
    conf.write_text(broken)  # same inode: the bind mount sees it; the restart loads it
    steps: list[AutohealStep] = []
    other_steps: list[AutohealStep] = []
    healers: list[AutoHealer] = []
    monitor: StackMonitor | None = None
    restore_lock = BackupManager(heal_stack, stack).restore_lock()
    restoring = False
    try:
        assert stack.restart("nginx", timeout=1).ok
        stackkit.wait_health(heal_stack, "nginx", "unhealthy", timeout=30)
        policy = AutohealPolicy(checks=2, max_attempts=2, backoff=1, max_backoff=2, recheck=0.5, stop_timeout=1)
        log = ActivityLog(heal_stack, preload=False)
        healer = AutoHealer.for_stack(stack, policy=policy, activity=log, on_step=steps.append)
        other = AutoHealer.for_stack(stack, policy=policy, activity=log, on_step=other_steps.append)
        healers = [healer, other]
        monitor = StackMonitor(heal_stack.name, on_state=fan_out(healer.on_state, other.on_state), stats=False)
        restore_lock.__enter__()  # a restore of the project runs (the lock `liar-tui restore` takes)
        restoring = True
        healer.start()
        monitor.start()
        stackkit.wait_for(lambda: any(s.action == "restore" for s in steps), 30, what="autoheal waiting for the restore")
        time.sleep(2)
        assert healer.restarts == [], steps
        restore_lock.__exit__(None, None, None)
        restoring = False
        stackkit.wait_for(lambda: healer.restarts, 30, what="the first autoheal restart once the restore ended")
        other.start()  # the second healer comes up while the first heals: it stands by
        stackkit.wait_for(lambda: any(s.action == "gave-up" for s in steps), 90, what="autoheal giving up")
        time.sleep(4)  # it stays given up, although nginx is still unhealthy
        assert stackkit.state_of(heal_stack, "nginx").health.status in ("unhealthy", "starting")
        assert [s for s, _ in healer.restarts] == ["nginx", "nginx"], steps
        assert other.restarts == [], other_steps
        assert [s.action for s in other_steps] == ["standby"], other_steps
        assert healer.status()["nginx"].gave_up
        gave_up = next(s for s in steps if s.action == "gave-up")
        assert "after 2 autoheal restarts" in gave_up.text and "liar-tui restart nginx" in gave_up.text
    finally:
        if restoring:
            restore_lock.__exit__(None, None, None)
        for h in healers:
            h.stop()
        if monitor is not None:
            monitor.stop()
        conf.write_text(original)
    assert stack.restart("nginx", timeout=1).ok
    stackkit.wait_health(heal_stack, "nginx", "healthy", timeout=30)
    # the healthy services were never touched
    for before in (pg_before, redis_before):
        now = stackkit.state_of(heal_stack, before.service)
        assert now.container_id == before.container_id and now.started_at == before.started_at, before.service
