"""The activity log: redaction, the file format, rotation, tailing, and state transitions."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from liar_tui.stack.activity import (
    ActivityEntry,
    ActivityLog,
    ActivityRecorder,
    fan_out,
    follow_entries,
    read_entries,
)
from liar_tui.stack.model import HealthCheckResult, HealthInfo, ServiceState
from liar_tui.stack.probes import ProbeResult
from liar_tui.stack.project import Project

SECRET = "Pw-very-secret-123"


def _project(tmp_path: Path, password: str = SECRET) -> Project:
    (tmp_path / "compose").mkdir(parents=True, exist_ok=True)
    (tmp_path / "compose" / "docker-compose.yml").write_text("services: {}\n")
    (tmp_path / "compose" / ".env").write_text(f"REDIS_PASSWORD={password}\nPOSTGRES_PASSWORD=pg-secret-456\n")
    return Project(root=tmp_path, name="t")


def test_record_redacts_and_appends(tmp_path: Path) -> None:
    project = _project(tmp_path)
    log = ActivityLog(project)
    log.record("action", "redis", f"restart redis failed: AUTH {SECRET} rejected\nsecond line\twith tab")
    log.record("health", "postgres", "healthy -> unhealthy (pg-secret-456)")
    text = log.path.read_text()
    assert SECRET not in text and "pg-secret-456" not in text
    assert text.count("\n") == 2, "one entry per line, newlines folded"
    assert log.path == tmp_path / "docker" / "liar-tui-activity.log"
    assert oct(log.path.stat().st_mode & 0o777) == "0o600"
    mem = log.entries()
    assert [e.kind for e in mem] == ["action", "health"]
    assert all(SECRET not in e.text for e in mem)
    assert mem[0].text == "restart redis failed: AUTH ****** rejected second line with tab"
    # a new ActivityLog (another process, e.g. the console) sees the history
    again = ActivityLog(project)
    assert [e.text for e in again.entries()] == [e.text for e in mem]


def test_old_passwords_stay_redacted_after_env_changes(tmp_path: Path) -> None:
    project = _project(tmp_path)
    log = ActivityLog(project)
    log.record("action", "", "first")
    (tmp_path / "compose" / ".env").write_text("REDIS_PASSWORD=Pw-new-password-789\n")
    import os

    os.utime(tmp_path / "compose" / ".env", (1, 1))  # a different mtime, whatever the clock
    log.record("action", "", f"old {SECRET} new Pw-new-password-789")
    assert log.entries()[-1].text == "old ****** new ******"


def test_rotation_keeps_the_files_bounded(tmp_path: Path) -> None:
    project = _project(tmp_path)
    log = ActivityLog(project, max_bytes=2000, backups=2, keep=50)
    for i in range(300):
        log.record("probe", "redis", f"entry {i:04d} " + "x" * 40)
    files = sorted(p.name for p in log.path.parent.iterdir())
    assert files == ["liar-tui-activity.log", "liar-tui-activity.log.1", "liar-tui-activity.log.2"]
    assert all(p.stat().st_size < 2100 for p in log.path.parent.iterdir())
    assert len(log.entries()) == 50, "the in-memory deque is bounded"
    last = read_entries(log.path, 5)
    assert [e.text.split()[1] for e in last] == ["0295", "0296", "0297", "0298", "0299"]


def test_entry_line_round_trip() -> None:
    e = ActivityEntry.from_line("2025-01-02T03:04:05.678+00:00\tautoheal\t-\trestarted redis in 1.0s\n")
    assert e is not None and e.kind == "autoheal" and e.service == "" and e.text == "restarted redis in 1.0s"
    assert ActivityEntry.from_line(e.to_line()) == e
    assert ActivityEntry.from_line("garbage") is None


def test_follow_sees_new_entries_and_rotation(tmp_path: Path) -> None:
    project = _project(tmp_path)
    log = ActivityLog(project, max_bytes=600, backups=1)
    log.record("action", "", "before follow")
    stop = threading.Event()
    seen: list[str] = []

    start = log.path.stat().st_size  # (from here, however late the thread starts)

    def tail() -> None:
        for entry in follow_entries(log.path, stop, poll=0.05, offset=start):
            seen.append(entry.text)

    th = threading.Thread(target=tail, daemon=True)
    th.start()
    import time

    for i in range(20):  # crosses several rotations (one each ~5 entries: one a poll or two apart)
        log.record("action", "", f"n{i}")
        time.sleep(0.05)
    deadline = time.monotonic() + 5
    while len(seen) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    th.join(2)
    assert "before follow" not in seen
    assert seen == [f"n{i}" for i in range(20)]


def _st(service: str, state: str = "running", health: str = "healthy", cid: str = "c1", streak: int = 0,
        exit_code: int = 0) -> ServiceState:
    log = (HealthCheckResult(None, None, 1, "PING: NOAUTH"),) if health == "unhealthy" else ()
    return ServiceState(service=service, state=state, container_id=cid, exit_code=exit_code,
                        health=HealthInfo(status=health, failing_streak=streak, log=log))


def test_recorder_writes_transitions_only(tmp_path: Path) -> None:
    log = ActivityLog(_project(tmp_path))
    rec = ActivityRecorder(log)
    rec.on_state(_st("redis"))  # baseline: nothing
    rec.on_state(_st("redis"))  # no change: nothing
    rec.on_state(_st("redis", health="unhealthy", streak=2))
    rec.on_state(_st("redis", state="exited", health="unhealthy", exit_code=137))
    rec.on_state(_st("redis", cid="c2", health="starting"))
    texts = [(e.kind, e.text) for e in log.entries()]
    assert texts == [
        ("health", "healthy -> unhealthy (2 failing checks; last: PING: NOAUTH)"),
        ("state", "running -> exited (137)"),
        ("state", "new container c2 (running)"),
        ("health", "down -> starting"),
    ]


def test_recorder_probe_alarms(tmp_path: Path) -> None:
    log = ActivityLog(_project(tmp_path))
    rec = ActivityRecorder(log)
    rec.on_probe(ProbeResult("redis", "ok", "fine"))
    rec.on_probe(ProbeResult("redis", "ok", "fine"))
    rec.on_probe(ProbeResult("redis", "fail", f"password {SECRET} rejected"))
    rec.on_probe(ProbeResult("redis", "ok", "fine"))
    rec.on_probe(ProbeResult("nginx", "warn", "/api/ 502"))
    assert [e.text for e in log.entries()] == [
        "ok -> fail: password ****** rejected",
        "fail -> ok: fine",
        "new -> warn: /api/ 502",
    ]


def test_a_new_recorder_writes_only_what_changed_since_the_log_last_said(tmp_path: Path) -> None:
    """QA: each console launched while nginx's /api/ failed wrote 'new -> fail' again. A new
    recorder (another launch, the headless watcher) starts from the levels the log last wrote."""
    project = _project(tmp_path)
    first = ActivityRecorder(ActivityLog(project))
    first.on_probe(ProbeResult("nginx", "fail", "/api/ 502"))
    first.on_probe(ProbeResult("redis", "warn", "memory 95%"))
    first.close()  # that console quit
    log = ActivityLog(project, preload=False)  # as the headless watcher opens it
    second = ActivityRecorder(log)
    second.on_probe(ProbeResult("nginx", "fail", "/api/ 502"))  # still failing: said already
    second.on_probe(ProbeResult("redis", "ok", "fine"))  # recovered while nobody watched
    second.on_probe(ProbeResult("postgres", "ok", "fine"))  # never alarmed: nothing to say
    second.on_probe(ProbeResult("nginx", "ok", "fine"))
    assert [(e.service, e.text) for e in read_entries(log.path)] == [
        ("nginx", "new -> fail: /api/ 502"),
        ("redis", "new -> warn: memory 95%"),
        ("redis", "warn -> ok: fine"),
        ("nginx", "fail -> ok: fine"),
    ]


def test_fan_out_contains_errors() -> None:
    got: list[int] = []

    def boom(_: int) -> None:
        raise RuntimeError("x")

    fan_out(boom, None, got.append)(5)
    assert got == [5]


def test_unwritable_log_does_not_raise(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (tmp_path / "docker").write_text("a file where the folder should be")
    log = ActivityLog(project)
    entry = log.record("action", "", "still kept in memory")
    assert log.entries() == [entry]
    assert log.write_error


def test_print_then_follow_loses_nothing_and_repeats_nothing(tmp_path: Path) -> None:
    """`liar-tui activity -f`: the last entries up to an offset, then follow from that offset."""
    log = ActivityLog(_project(tmp_path))
    for i in range(3):
        log.record("action", "", f"old{i}")
    size = log.path.stat().st_size
    log.record("action", "", "written between the listing and the follow")
    listed = [e.text for e in read_entries(log.path, 2, upto=size)]
    stop = threading.Event()
    followed: list[str] = []

    def tail() -> None:
        for entry in follow_entries(log.path, stop, poll=0.01, offset=size):
            followed.append(entry.text)

    th = threading.Thread(target=tail, daemon=True)
    th.start()
    time.sleep(0.3)
    log.record("action", "", "after")
    deadline = time.monotonic() + 5
    while "after" not in followed and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    th.join(2)
    assert listed == ["old1", "old2"]
    assert followed == ["written between the listing and the follow", "after"]
