"""Deep health in the console without an engine: probe markers and the health view, drift markers,
the autoheal toggle, the activity view, the bucket bootstrap after `up`, help and palette.

FakeMonitor/FakeStack supply fixed state, FakeProbeRunner stands in for ProbeRunner (the app asks
it to start/pause/resume/trigger; the test hands results over as its thread would), and
MemoryActivity for the activity log.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text
from textual.command import CommandPalette
from uikit import (
    FakeProbeRunner,
    body_text,
    MemoryActivity,
    offline_app,
    palette_texts,
    run_sync,
    sample_activity,
    sample_drift,
    sample_probes,
    wait_until,
)

from liar_tui.config import Settings, load_settings
from liar_tui.cli import build_parser
from liar_tui.stack.activity import ActivityEntry
from liar_tui.stack.buckets import BucketReport
from liar_tui.stack.model import ContainerConfig, MountInfo, ProcessRow
from liar_tui.stack.project import Project
from liar_tui.stack.probes import ProbeResult
from liar_tui.ui.messages import DriftChecked, ServiceStateChanged
from liar_tui.ui.screens.activity import ACTIVITY_KEEP, ActivityScreen
from liar_tui.ui.screens.health import HealthScreen
from liar_tui.ui.screens.main import MainScreen


def plain(renderable: Any, width: int = 200) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def health_text(app: Any) -> str:
    return body_text(app.screen)


async def started_runner(pilot: Any, app: Any) -> FakeProbeRunner:
    return await wait_until(pilot, lambda: app._probe_runner, 5, what="the probe runner (after the first frame)")


def test_probe_levels_show_in_the_panes_and_the_health_view() -> None:
    activity = MemoryActivity()

    async def run() -> None:
        app, _, _ = offline_app(probe_factory=FakeProbeRunner, activity=activity)
        async with app.run_test(size=(160, 48)) as pilot:
            runner = await started_runner(pilot, app)
            assert runner.calls[:1] == ["start"] and runner.interval == 10.0
            for result in sample_probes().values():
                runner.emit(result)
            await pilot.pause(0.1)
            subtitle = {s: Text.from_markup(str(app.main.services.pane(s).border_subtitle)).plain for s in ("postgres", "redis", "nginx", "minio")}
            assert subtitle == {"postgres": "▲ probe warn", "redis": "✖ probe fail", "nginx": "✖ probe fail", "minio": "✔ probe ok"}
            # the health view: the four at a glance, then the selected one's reason and figures
            await pilot.press("1", "H")
            await pilot.pause(0.2)
            assert isinstance(app.screen, HealthScreen)
            assert "trigger" in runner.calls  # opening it asks for fresh figures
            text = health_text(app)
            for line in ("postgres ▲ warn", "redis    ✖ fail", "nginx    ✖ fail", "minio    ✔ ok"):
                assert line in text, text
            assert "3 of max 100" in text and "accepts writes  yes" in text and "liardb 7.4MiB" in text
            await pilot.press("3")  # nginx in the same view
            await pilot.pause(0.1)
            text = health_text(app)
            assert "/api/health" in text and "502: host.docker.internal:3000 unreachable" in text
            await pilot.press("right")  # -> minio
            await pilot.pause(0.1)
            assert app.screen.service == "minio" and "user-uploads: 3 objects" in health_text(app)
            await pilot.press("escape")
            # the compact table has a PROBE column
            await pilot.resize_terminal(80, 24)
            await pilot.pause(0.3)
            row = app.main.services.pane("redis").lines[0].plain
            assert "● unhealthy ×3  ✖ fail" in row, row
        # probe alarms reach the activity log (a first result that is ok is not an alarm)
        alarms = [(e.service, e.text.split(":")[0]) for e in activity.entries() if e.kind == "probe"]
        assert alarms == [("postgres", "new -> warn"), ("redis", "new -> fail"), ("nginx", "new -> fail")]

    run_sync(run())


def test_probe_rounds_coalesce_and_go_on_behind_a_shell_and_the_backups_view() -> None:
    async def run() -> None:
        app, monitor, _ = offline_app(probe_factory=FakeProbeRunner)
        async with app.run_test(size=(120, 40)) as pilot:
            runner = await started_runner(pilot, app)
            runner.calls.clear()
            # a burst of state changes asks for one round, once the burst is over
            for _ in range(5):
                app.post_message(ServiceStateChanged(monitor.state("redis")))
            await pilot.pause(0.3)
            assert runner.calls == []
            await wait_until(pilot, lambda: runner.calls == ["trigger"], 3, what="one trigger after the burst")
            # a shell owns the terminal: probes go on (the activity log records their alarms)
            runner.calls.clear()
            app.hide_panes("shell")
            assert not runner.paused
            app.post_message(ServiceStateChanged(monitor.state("redis")))
            await wait_until(pilot, lambda: runner.calls == ["trigger"], 3, what="a round behind the shell")
            app.show_panes("shell")
            assert not runner.paused
            # so does the backups view
            await pilot.press("V")
            await pilot.pause(0.2)
            assert app.backups_screen is not None and not runner.paused
            await pilot.press("escape")
            await pilot.pause(0.1)
            # the activity view shows probe alarms as they happen: probes keep running
            await pilot.press("A")
            await pilot.pause(0.2)
            assert isinstance(app.screen, ActivityScreen) and not runner.paused
            await pilot.press("escape")
            await pilot.pause(0.1)
        assert runner.calls[-1] == "stop"

    run_sync(run())


def test_drift_marks_the_pane_notifies_and_R_applies_it(monkeypatch: Any) -> None:
    async def run() -> None:
        app, _, stack = offline_app()
        async with app.run_test(size=(160, 48)) as pilot:
            app.post_message(DriftChecked(sample_drift()))
            await pilot.pause(0.2)
            pane = app.main.services.pane("redis")
            assert pane.lines[1].plain.startswith("⚠ drift: recreate to apply (R)"), pane.lines[1].plain
            assert not app.main.services.pane("postgres").lines[1].plain.startswith("⚠")
            note = [str(n.message) for n in app._notifications if "drift" in str(n.title)]
            assert note and "Recreate to apply: select redis and press R" in note[0], note
            assert "REDIS_PASSWORD in .env" in note[0]
            # the same drift again is not announced twice
            app.post_message(DriftChecked(sample_drift()))
            await pilot.pause(0.1)
            assert len([n for n in app._notifications if "drift" in str(n.title)]) == 1
            # the health view says what and how; R there recreates
            await pilot.press("2", "H")
            await pilot.pause(0.2)
            assert "recreate to apply" in health_text(app)
            await pilot.press("R")
            await wait_until(pilot, lambda: stack.calls, 5, what="recreate from the health view")
            assert stack.calls == [("recreate", ("redis",))]
            # R on a service without drift says so (QA: it did nothing, silently)
            await pilot.press("1")
            await pilot.pause(0.2)
            await pilot.press("R")
            await wait_until(pilot, lambda: any("postgres matches the compose file and .env: no drift to apply"
                                                in str(n.message) for n in app._notifications), 5, what="why R is off")
            assert stack.calls == [("recreate", ("redis",))]
            await pilot.press("escape")
            await pilot.resize_terminal(80, 24)
            await pilot.pause(0.3)
            assert "recreate" in pane.lines[0].plain  # DRIFT column of the compact table

    run_sync(run())


def test_autoheal_toggle_and_setting() -> None:
    activity = MemoryActivity()

    async def run() -> None:
        app, _, _ = offline_app(activity=activity)
        async with app.run_test(size=(160, 48)) as pilot:
            assert "autoheal off" in app.main.host_bar.text.plain
            assert not app.autoheal_on
            await pilot.press("ctrl+a")
            await wait_until(pilot, lambda: "autoheal ON" in app.main.host_bar.text.plain, 5, what="autoheal on in the header")
            assert app.autoheal_on
            assert any(e.kind == "autoheal" and e.text.startswith("autoheal on:") for e in activity.entries())
            assert any("autoheal on" in str(n.message) for n in app._notifications)
            await pilot.press("ctrl+a")
            await wait_until(pilot, lambda: "autoheal off" in app.main.host_bar.text.plain, 5, what="autoheal off again")
            assert not app.autoheal_on
            assert activity.entries()[-1].text.startswith("autoheal off")

        app, _, _ = offline_app(settings=Settings(up=False, autoheal=True))
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: app.autoheal_on, 5, what="autoheal on at launch")
            await wait_until(pilot, lambda: "autoheal ON" in app.main.host_bar.text.plain, 5, what="header")

    run_sync(run())
    args = build_parser().parse_args(["--autoheal"])
    assert load_settings({"autoheal": args.autoheal}, {}, Path("/nonexistent")).autoheal is True
    assert load_settings({}, {"LIAR_TUI_AUTOHEAL": "1"}, Path("/nonexistent")).autoheal is True
    assert load_settings({"autoheal": build_parser().parse_args([]).autoheal}, {}, Path("/nonexistent")).autoheal is False


def test_autoheal_on_while_another_liar_tui_heals_says_standby_at_once(tmp_path: Path) -> None:
    """Another liar-tui (a headless `liar-tui autoheal`) holds the project's autoheal lock: turned
    on here, autoheal stands by, and the header, the Health view and a notification say so
    before any service needs a restart ("autoheal ON" promised restarts the other one makes)."""
    import os

    from liar_tui.stack import locks

    project = Project(root=tmp_path, name="liar-game")
    (tmp_path / "docker").mkdir()
    fd = locks.take(project.lock_path("autoheal"))
    assert fd is not None
    activity = MemoryActivity()

    async def run() -> None:
        app, _, _ = offline_app(project=project, activity=activity)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("ctrl+a")
            await wait_until(pilot, lambda: "autoheal standby" in app.main.host_bar.text.plain, 5, what="standby in the header")
            assert app.autoheal_on and app.autoheal_standby
            said = [str(n.message) for n in app._notifications]
            assert any(f"another liar-tui heals this project (pid {os.getpid()})" in m for m in said), said
            assert any(e.kind == "autoheal" and "stands by" in e.text for e in activity.entries())
            await pilot.press("H")
            screen = await wait_until(pilot, lambda: isinstance(app.screen, HealthScreen) and app.screen, 5, what="health")
            await pilot.pause(0.2)
            assert "autoheal standing by: another liar-tui heals this project" in screen._autoheal_text().plain
            await pilot.press("escape", "ctrl+a")
            await wait_until(pilot, lambda: "autoheal off" in app.main.host_bar.text.plain, 5, what="autoheal off")
            assert not app.autoheal_standby

    try:
        run_sync(run())
    finally:
        os.close(fd)


def test_the_health_view_lists_the_containers_processes_redacted(tmp_path: Path) -> None:
    """As lazydocker's top: the processes of the service's container, with each inspect; a secret
    on a command line (someone else's image may put one there) shows as the redactor's mark."""
    (tmp_path / "compose").mkdir()
    (tmp_path / "compose" / ".env").write_text("REDIS_PASSWORD=SuperSecretRedisPw1\n")

    async def run() -> None:
        app, monitor, _ = offline_app(project=Project(root=tmp_path, name="liar-game"))
        monitor._processes["redis"] = [ProcessRow(4242, 8192, "05:00", "redis-server *:6379"),
                                       ProcessRow(4243, 100, "00:01", "redis-cli -a SuperSecretRedisPw1 ping")]
        # the seed's own compose file put the password on redis's command line and in its check
        monitor._configs["redis"] = ContainerConfig(
            command=("docker-entrypoint.sh", "redis-server", "--requirepass", "SuperSecretRedisPw1"),
            restart_policy="unless-stopped", memory_limit=512 * 2**20,
            mounts=(MountInfo("bind", str(tmp_path / "docker" / "volumes" / "redis"), "/data"),),
            networks=(("liar-game-network", "172.20.0.3"),),
            check=("CMD-SHELL", "redis-cli -a SuperSecretRedisPw1 ping"), check_interval=10, check_timeout=5, check_retries=5)
        async with app.run_test(size=(100, 60)) as pilot:
            await pilot.press("2", "H")
            screen = await wait_until(pilot, lambda: isinstance(app.screen, HealthScreen) and app.screen.processes and app.screen, 5, what="the processes")
            text = body_text(screen, ("#health-docker",))
            assert "processes (2;" in text and "4242" in text and "8.0MiB" in text and "redis-server *:6379" in text, text
            assert "SuperSecretRedisPw1" not in text and "redis-cli -a ****** ping" in text, text
            assert "command docker-entrypoint.sh redis-server --requirepass ******" in text, text
            assert "check redis-cli -a ****** ping · every 10s, timeout 5s, unhealthy after 5 failures" in text, text
            assert "mount docker/volumes/redis → /data" in text and "network liar-game-network 172.20.0.3" in text, text
            await pilot.press("right")  # another service: its own processes (none known here)
            await pilot.pause(0.3)
            assert app.screen.service == "nginx" and "processes (" not in body_text(app.screen, ("#health-docker",))

    run_sync(run())


def test_a_live_entry_leaves_a_reader_scrolled_up_where_they_are() -> None:
    """QA: while a service crash-looped, its entries (every few seconds) pulled the activity view
    back to the end under whoever was reading further up. At the end, the view follows."""
    activity = MemoryActivity([ActivityEntry(datetime(2026, 11, 27, 3, 0, i % 60, tzinfo=timezone.utc), "note", "", f"old {i}")
                               for i in range(200)])

    async def run() -> None:
        app, _, _ = offline_app(activity=activity)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("A")
            screen = await wait_until(pilot, lambda: isinstance(app.screen, ActivityScreen) and app.screen.loaded and app.screen, 5, what="history")
            view = screen.log_view
            await wait_until(pilot, lambda: view.max_scroll_y > 0 and view.is_vertical_scroll_end, 5, what="the end")
            await pilot.press("pageup", "pageup")
            await pilot.pause(0.2)
            reading = view.scroll_y
            assert reading < view.max_scroll_y
            app.wiring.record("state", "nginx", "running -> restarting")
            await wait_until(pilot, lambda: screen.count == 201, 5, what="a live entry")
            await pilot.pause(0.2)
            assert view.scroll_y == reading
            await pilot.press("G")
            await pilot.pause(0.2)
            app.wiring.record("state", "nginx", "restarting -> running")
            await wait_until(pilot, lambda: screen.count == 202, 5, what="another live entry")
            await pilot.pause(0.2)
            assert view.is_vertical_scroll_end and "restarting -> running" in "".join(seg.text for seg in view.lines[-1])

    run_sync(run())


def test_activity_view_shows_history_then_live_entries_bounded() -> None:
    activity = MemoryActivity(sample_activity())

    async def run() -> None:
        app, _, stack = offline_app(activity=activity)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.press("2", "r")  # an action: recorded by the worker that ran it
            await wait_until(pilot, lambda: stack.calls and "redis" not in app.busy, 5, what="restart")
            await pilot.press("A")
            screen = await wait_until(pilot, lambda: isinstance(app.screen, ActivityScreen) and app.screen.loaded and app.screen, 5, what="history")
            texts = [ln.text for ln in screen.log_view.lines]
            shown = "\n".join("".join(seg.text for seg in strip) for strip in screen.log_view.lines)
            assert screen.count == len(sample_activity()) + 1
            assert "restart redis: done" in shown and "created bucket replays" in shown, texts
            assert shown.index("created bucket game-logs") < shown.index("restart redis: done")  # newest last
            app.wiring.record("state", "nginx", "exited (0) -> running")  # live, while the view is open
            await wait_until(pilot, lambda: screen.count == len(sample_activity()) + 2, 5, what="a live entry")
            assert "exited (0) -> running" in "".join(seg.text for seg in screen.log_view.lines[-1])
            for i in range(ACTIVITY_KEEP + 50):
                app.wiring.record("note", "", f"entry {i}")
            await wait_until(pilot, lambda: "entry 1049" in "".join(seg.text for seg in screen.log_view.lines[-1]), 10, what="the last of the flood")
            assert screen.count == ACTIVITY_KEEP == screen.shown and len(screen.log_view.lines) <= ACTIVITY_KEEP
            assert len(screen._seen) <= 2 * ACTIVITY_KEEP
            await pilot.press("escape")
            await pilot.pause(0.1)
            assert isinstance(app.screen, MainScreen) and app.activity_screen is None
            assert activity._subscribers == []  # the view stopped listening

    run_sync(run())


def test_buckets_are_bootstrapped_after_the_consoles_own_up(monkeypatch: Any) -> None:
    activity = MemoryActivity()
    calls: list[str] = []

    def fake_ensure(project: Any, *, on_created: Any = None, **_: Any) -> BucketReport:
        calls.append(project.name)
        on_created("replays")
        return BucketReport(created=("replays",), present=("game-logs", "user-uploads"))

    monkeypatch.setattr("liar_tui.stack.buckets.ensure_buckets", fake_ensure)

    async def run() -> None:
        app, _, stack = offline_app(activity=activity)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.press("u")
            await wait_until(pilot, lambda: calls, 5, what="ensure_buckets after up")
            await wait_until(pilot, lambda: "created bucket replays" in app.main.activity.text.plain, 5, what="the activity line")
            assert any("created bucket replays" in str(n.message) for n in app._notifications)
            assert [(e.kind, e.text) for e in activity.entries() if e.kind in ("bucket", "action")] == [
                ("action", "up all services: done in 0.2s"), ("bucket", "created bucket replays")
            ]

    run_sync(run())


def test_quitting_stops_the_bucket_bootstrap_waiting_for_minio(monkeypatch: Any, tmp_path: Path) -> None:
    # After `up` the console waits up to a minute for MinIO's S3 API to create the buckets; quit
    # must not wait with it (the project here has no MinIO at all: it never answers).
    from liar_tui.stack import buckets

    real = buckets.ensure_buckets
    reports: list[Any] = []
    monkeypatch.setattr("liar_tui.stack.buckets.ensure_buckets", lambda *a, **k: reports.append(real(*a, **k)))
    # MinIO credentials, and nothing listening at its port (an empty credential ends at once)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "compose").mkdir()
    (tmp_path / "compose" / ".env").write_text(
        f"MINIO_ROOT_USER=liar\nMINIO_ROOT_PASSWORD=not-a-real-password\nMINIO_API_PORT={port}\n")

    async def run() -> None:
        app, _, stack = offline_app(project=Project(root=tmp_path, name="liar-game"))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("u")
            await wait_until(pilot, lambda: ("up", ()) in stack.calls and "stack" not in app.busy, 5, what="up done")
            await pilot.pause(0.6)  # the bootstrap is waiting for MinIO now
            assert reports == []
            await pilot.press("q")

    run_sync(run())
    [report] = reports
    assert not report.ok and "stopped waiting at quit" in report.error and report.seconds < 30


def test_a_failed_up_does_not_bootstrap_buckets(monkeypatch: Any) -> None:
    from uikit import FakeStack

    calls: list[str] = []
    monkeypatch.setattr("liar_tui.stack.buckets.ensure_buckets", lambda *a, **k: calls.append("x"))

    class FailingUp(FakeStack):
        def up_events(self, services: Any = None, **_: Any) -> Any:
            from liar_tui.stack.model import ActionResult

            yield ActionResult("up", (), False, "port is already allocated", 0.1)

    async def run() -> None:
        app, _, _ = offline_app(stack=FailingUp())
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("u")
            await wait_until(pilot, lambda: "stack" not in app.busy, 5, what="up finished")
            await pilot.pause(0.3)
            assert calls == []

    run_sync(run())


@pytest.mark.parametrize("query,expected", [("activity", "Activity view"), ("autoheal on", "Autoheal on/off")])
def test_command_palette_lists_the_new_actions(query: str, expected: str) -> None:
    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("ctrl+p")
            await pilot.pause(0.2)
            assert isinstance(app.screen, CommandPalette)
            await pilot.press(*query)
            texts = await palette_texts(pilot, app, lambda t: t and expected in t[0])
            assert any(expected in t for t in texts), texts
            await pilot.press("enter")
            if query == "activity":  # enter runs the best hit
                await wait_until(pilot, lambda: isinstance(app.screen, ActivityScreen), 5, what="the activity view from the palette")
            else:
                await wait_until(pilot, lambda: app.autoheal_on, 5, what="autoheal on from the palette")

    run_sync(run())


def test_a_command_not_available_now_says_why_when_chosen_in_the_palette() -> None:
    """QA: choosing 'Back up the selected service … (not available now)' with nginx selected did
    nothing at all; its key (B) says why, and so does the palette now."""

    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("3")  # nginx: no backup
            await pilot.press("ctrl+p")
            await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), 5, what="the palette")
            await pilot.press(*"back up the selected")
            texts = await palette_texts(pilot, app, lambda t: t and "(not available now)" in t[0])
            assert texts and "(not available now)" in texts[0], texts
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), 5, what="the palette closed")
            await wait_until(pilot, lambda: any("nginx has no backup: backups cover postgres, redis and minio"
                                                in str(n.message) for n in app._notifications), 5, what="the reason")
            assert app.backup_job is None

    run_sync(run())


def test_probe_results_are_redacted_before_they_reach_the_view(tmp_path: Path) -> None:
    """The stack layer redacts (probes._redacted); the view shows what it is given: check both ends."""
    from liar_tui.stack.probes import _redacted
    from liar_tui.stack.project import Project

    (tmp_path / "compose").mkdir()
    (tmp_path / "compose" / ".env").write_text("REDIS_PASSWORD=SuperSecretRedisPw1\n")
    project = Project(root=tmp_path, name="liar-game")
    leaky = ProbeResult("redis", "fail", "AUTH SuperSecretRedisPw1 rejected", {"error_code": "SuperSecretRedisPw1"})

    async def run() -> None:
        app, _, _ = offline_app(project=project, probe_factory=FakeProbeRunner)
        async with app.run_test(size=(120, 40)) as pilot:
            runner = await started_runner(pilot, app)
            runner.emit(_redacted(leaky, project.redactor()))
            await pilot.press("2", "H")
            await pilot.pause(0.2)
            text = health_text(app)
            assert "AUTH ****** rejected" in text and "SuperSecretRedisPw1" not in text

    run_sync(run())


def test_health_view_shows_the_stats_the_compact_table_has_no_room_for() -> None:
    """At 80x24 the table keeps CPU and memory only; the health view has network, block I/O and
    the sparklines of the selected service, from the monitor's stats history, kept live."""
    async def run() -> None:
        app, monitor, _ = offline_app()
        async with app.run_test(size=(80, 24)) as pilot:
            row = app.main.services.pane("redis").lines[0].plain
            assert "↓" not in row and "r " not in row.split("│")[-1], row  # no NET / I/O column at 80 wide
            await pilot.press("2", "H")
            await wait_until(pilot, lambda: isinstance(app.screen, HealthScreen), 5, what="the health view")
            await pilot.pause(0.2)
            stats = body_text(app.screen, ("#health-stats",)).strip().splitlines()
            latest = monitor.history("redis")[-1]
            assert stats[0].startswith("STATS")
            net = next(line for line in stats if line.startswith("NET"))
            io = next(line for line in stats if line.startswith("I/O"))
            cpu = next(line for line in stats if line.startswith("CPU"))
            assert f"{latest.cpu_percent:.1f}%" in cpu
            assert "↓" in net and "↑" in net and "w" in io
            assert any(ch in cpu for ch in "▁▂▃▄▅▆▇█"), cpu  # the sparkline
            assert all(len(line.rstrip()) <= app.screen.query_one("#health-stats").content_region.width for line in stats)

    run_sync(run())


def test_health_view_keeps_its_checks_and_inspect_time_fresh(monkeypatch: Any) -> None:
    """The health view's last checks and `inspected` time follow the service: a state change
    from the monitor (a recreate) shows at once with its time, and checks that change no status
    (no engine event) are picked up by the view's own inspect while it is open."""
    from dataclasses import replace
    from datetime import timedelta

    from uikit import FIXED_NOW

    from liar_tui.stack.model import HealthCheckResult, HealthInfo
    from liar_tui.ui.screens import health

    now = [FIXED_NOW]

    def checks(tag: str, n: int) -> HealthInfo:
        return HealthInfo("healthy", 0, tuple(
            HealthCheckResult(now[0] - timedelta(seconds=n - i), now[0] - timedelta(seconds=n - i - 0.5), 0, f"{tag}{i}")
            for i in range(n)))

    def hint(app: Any) -> str:
        return str(app.screen.query_one("#health-hint").render())

    async def run() -> None:
        app, monitor, _ = offline_app()
        app.clock = lambda: (now[0], now[0].timestamp())
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("1", "H")
            await wait_until(pilot, lambda: isinstance(app.screen, HealthScreen) and "inspected 12:00:00" in hint(app), 5,
                             what="the health view")
            # a recreate: the monitor's state change (a fresh inspect) shows at once, with its time
            now[0] = FIXED_NOW + timedelta(seconds=30)
            recreated = replace(monitor.state("postgres"), container_id="ab" * 32, health=checks("RECREATED", 1))
            monitor.set_state(recreated)
            app.post_message(ServiceStateChanged(recreated))
            await wait_until(pilot, lambda: "RECREATED0" in health_text(app), 2, what="the new container's check")
            assert "inspected 12:00:30" in hint(app)
            await pilot.press("escape")
            # checks that change nothing else send no event: the open view inspects again by itself
            monkeypatch.setattr(health, "REINSPECT_INTERVAL", 0.2)
            await pilot.press("H")
            await wait_until(pilot, lambda: isinstance(app.screen, HealthScreen), 5, what="the health view")
            now[0] = FIXED_NOW + timedelta(seconds=60)
            monitor.set_state(replace(recreated, health=checks("LATER", 3)))
            await wait_until(pilot, lambda: "LATER2" in health_text(app) and "inspected 12:01:00" in hint(app), 3,
                             what="the later checks without any event")

    run_sync(run())


def test_a_stopped_service_shows_no_stale_probe_ok() -> None:
    """QA saw `redis ● exited (0) ✔ ok` for about a second: the last probe (taken while it ran)
    said ok. A container that is not running shows '-' until the probe's own failure arrives."""
    from dataclasses import replace

    from uikit import drawn, sample_states

    from liar_tui.stack.model import HealthInfo

    async def run() -> None:
        states = sample_states()
        states["redis"] = replace(states["postgres"], service="redis", container_name="liar-game-redis")
        app, monitor, _ = offline_app(states, probe_factory=FakeProbeRunner)
        async with app.run_test(size=(80, 24)) as pilot:
            runner = await started_runner(pilot, app)
            ok = ProbeResult("redis", "ok", "Redis 7: PING 0.3 ms", {}, 0.001, None)
            runner.emit(ok)
            await wait_until(pilot, lambda: "✔ ok" in drawn(app.main.services.pane("redis")), 5, what="the ok marker")
            stopped = replace(monitor.state("redis"), state="exited", exit_code=0, health=HealthInfo("none", 0, ()))
            monitor.set_state(stopped)
            app.post_message(ServiceStateChanged(stopped))
            await pilot.pause(0.1)
            row = drawn(app.main.services.pane("redis"))
            assert "exited (0)" in row and "✔" not in row and " ok" not in row, row
            # the wide card's border and the health view say the same
            await pilot.resize_terminal(160, 48)
            await pilot.pause(0.2)
            assert "ok" not in Text.from_markup(str(app.main.services.pane("redis").border_subtitle)).plain
            await pilot.press("2", "H")
            await wait_until(pilot, lambda: isinstance(app.screen, HealthScreen), 5, what="the health view")
            text = health_text(app)
            assert "redis    -      not running" in text, text
            await pilot.press("escape")
            # the probe's own failure shows once it arrives
            runner.emit(ProbeResult("redis", "fail", "connection refused", {}, 0.001, None))
            await pilot.pause(0.1)
            assert "probe fail" in Text.from_markup(str(app.main.services.pane("redis").border_subtitle)).plain

    run_sync(run())


def test_the_health_views_service_is_selected_after_it_closes() -> None:
    """←/→ and 1-4 in the health view change the service shown; after esc the main view had the
    old selection. They stay in step."""
    async def run() -> None:
        app, _, stack = offline_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("1", "H")
            await wait_until(pilot, lambda: isinstance(app.screen, HealthScreen), 5, what="the health view")
            await pilot.press("right")
            await pilot.pause(0.1)
            assert app.screen.service == "redis"
            await pilot.press("escape")
            await pilot.pause(0.1)
            assert app.main.selected == "redis"
            await pilot.press("H", "4", "left", "escape")
            await pilot.pause(0.1)
            assert app.main.selected == "nginx"
            await pilot.press("r")  # the service keys act on it
            await pilot.pause(0.2)
            assert stack.calls == []  # nginx is exited: r does not apply to it

    run_sync(run())


def drift_project(root: Path) -> tuple[Path, list[float]]:
    """A project folder with a compose file and a .env (returned), and a list for the times of
    the drift checks drift_counting_app counts."""
    (root / "compose").mkdir()
    (root / "compose" / "docker-compose.yml").write_text("services: {}\n")
    env = root / "compose" / ".env"
    env.write_text("REDIS_PASSWORD=one\n")
    return env, []


def drift_counting_app(root: Path, checks: list[float]) -> Any:
    """An offline console on that project whose drift checks only note when they ran."""
    import time

    app, _, _ = offline_app(project=Project(root=root, name="liar-game"))
    app._drift_enabled = True

    def detect(states: Any) -> dict[str, Any]:
        checks.append(time.monotonic())
        return {}

    app.wiring.detect_drift = detect  # type: ignore[method-assign]
    return app


def test_a_drift_check_waits_for_a_log_burst_to_end(tmp_path: Path) -> None:
    """A drift check runs `docker compose config` (~70 MB, ~0.1 s of CPU): during a log burst it
    waits until the burst is over (bench: the launch's check in a burst took the process tree from
    75 to 120-141 MB), then runs."""
    import os
    import time

    from liar_tui.stack.logs import LogBatch, LogLine
    from liar_tui.ui import app as app_module
    from liar_tui.ui.messages import LogLinesArrived

    env, checks = drift_project(tmp_path)

    async def run() -> None:
        app = drift_counting_app(tmp_path, checks)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: checks, 5, what="the first drift check")
            lines = [LogLine("nginx", f"2026-11-27T09:00:00.{i:09d}Z", f"line {i}") for i in range(app_module.HEAP_SETTLE_BATCH)]
            app.post_message(LogLinesArrived(LogBatch(app._log_generation, lines)))
            burst = time.monotonic()
            await wait_until(pilot, lambda: app._heap.paused, 2, what="the burst")
            later = time.time() + 5
            os.utime(env, (later, later))
            app.check_drift(force=True)
            await pilot.pause(app_module.HEAP_SETTLE_AFTER - 0.6)
            assert len(checks) == 1, "no check while the burst holds the heap"
            await wait_until(pilot, lambda: len(checks) == 2, 5, what="the check once the burst was over")
            assert checks[1] - burst >= app_module.HEAP_SETTLE_AFTER

    run_sync(run())


def test_drift_is_checked_soon_after_the_env_is_edited(tmp_path: Path) -> None:
    """Drift took up to 30 s to show after .env or the compose file was edited (`liar-tui status`
    shows it at once): the console looks at the files' mtimes every 2 s and checks at once when
    one changed, and not while nothing did."""
    import os
    import time

    env, checks = drift_project(tmp_path)

    async def run() -> None:
        app = drift_counting_app(tmp_path, checks)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: checks, 5, what="the first drift check")
            await pilot.pause(4.5)
            assert len(checks) == 1  # nothing changed: no check
            env.write_text("REDIS_PASSWORD=two\n")
            later = time.time() + 5
            os.utime(env, (later, later))
            edited = time.monotonic()
            await wait_until(pilot, lambda: len(checks) == 2, 15, what="a drift check after the edit")
            # a 2 s look plus a worker; loose for a loaded machine, and still far from the old 30 s
            assert checks[1] - edited < 10

    run_sync(run())


def test_hints_name_the_remapped_keys() -> None:
    """QA: with stack.up and health.fix-drift remapped, the --no-up line still said 'u brings it
    up' and the health view 'press R' (keys that then did nothing)."""

    async def run() -> None:
        settings = Settings(up=False, keys={"stack.up": "ctrl+u", "health.fix-drift": "F"})
        app, _, stack = offline_app(settings=settings)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.2)
            line = app.main.activity.text.plain if hasattr(app.main.activity, "text") else str(app.main.activity.render())
            assert "ctrl+u brings it up" in line and "u brings it up" not in line.replace("ctrl+u", ""), line
            app.post_message(DriftChecked(sample_drift()))
            await pilot.pause(0.2)
            await pilot.press("2", "H")
            await pilot.pause(0.2)
            text = health_text(app)
            assert "(press F)" in text and "press R" not in text, text
            await pilot.press("F")
            await wait_until(pilot, lambda: stack.calls, 5, what="recreate by the remapped key")
            assert stack.calls == [("recreate", ("redis",))]

    run_sync(run())


def test_an_activity_log_that_cannot_be_written_is_told_once(tmp_path: Path) -> None:
    from liar_tui.stack.activity import ActivityLog
    from liar_tui.stack.project import Project

    project = Project(root=tmp_path, name="liar-game")
    (tmp_path / "docker" / "liar-tui-activity.log").mkdir(parents=True)  # a folder where the file goes
    log = ActivityLog(project, preload=False)

    async def run() -> None:
        app, _, _ = offline_app(project=project, activity=log)
        async with app.run_test(size=(160, 48)) as pilot:
            log.record("action", "redis", "restart redis: done in 0.5s")
            await wait_until(pilot, lambda: any(n.title == "activity log" for n in app._notifications), 5,
                             what="the activity log warning")
            log.record("action", "redis", "again")
            app._tick()
            await pilot.pause(0.1)
            warned = [str(n.message) for n in app._notifications if n.title == "activity log"]
            assert len(warned) == 1 and "cannot write the activity log" in warned[0] and "memory only" in warned[0], warned
            await pilot.press("A")
            await pilot.pause(0.3)
            assert "NOT SAVED: cannot write the activity log" in app.activity_screen.bar.text.plain

    run_sync(run())


def test_activity_view_filters_by_service_and_text_and_esc_clears() -> None:
    """Reading a night's activity: 1-4 keep one service's entries (the same key again: all), /
    keeps those holding a text (any case, kind and service included), esc clears the filters
    before it leaves the view; entries arriving meanwhile obey the filters."""
    from uikit import sample_activity

    activity = MemoryActivity(sample_activity())

    def rows(screen: Any) -> list[str]:
        return [line.text for line in screen.log_view.lines]

    async def run() -> None:
        app, _, _ = offline_app(activity=activity)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("A")
            screen = await wait_until(pilot, lambda: isinstance(app.screen, ActivityScreen) and app.screen.loaded and app.screen,
                                      5, what="the activity view")
            total = len(sample_activity())
            assert screen.shown == total and "entries" in screen.bar.text.plain
            await pilot.press("2")  # redis only
            await pilot.pause(0.1)
            assert screen.shown == 7 and all(" redis " in r for r in rows(screen) if r[:2].isdigit())
            assert f"7/{total}" in screen.bar.text.plain and "redis only" in screen.bar.text.plain
            await pilot.press("slash")
            await pilot.pause(0.1)
            await pilot.press(*"NOAUTH", "enter")
            await pilot.pause(0.3)
            assert screen.shown == 3 and screen.text_filter == "NOAUTH"
            assert "redis only · /NOAUTH/" in screen.bar.text.plain
            # a live entry: kept only when it matches
            activity.record("probe", "redis", "ok -> fail: noauth again")
            activity.record("state", "nginx", "exited -> running (noauth in its text, wrong service)")
            await pilot.pause(0.2)
            assert screen.shown == 4 and screen.count == total + 2
            await pilot.press("2")  # the same key again: every service, the text filter stays
            await pilot.pause(0.1)
            assert screen.shown == 5 and screen.service_filter == ""
            await pilot.press("slash")
            await pilot.pause(0.1)
            await pilot.press(*"zzz")
            await pilot.pause(0.4)  # applied once typing pauses
            assert screen.shown == 0 and any("no entry matches" in r for r in rows(screen))
            await pilot.press("escape")  # esc in the box drops its text
            await pilot.pause(0.2)
            assert screen.text_filter == "" and screen.shown == total + 2 and isinstance(app.screen, ActivityScreen)
            # a long filter at 80 columns is cut short: the way out stays on the bar
            await pilot.press("4", "slash", *"restart of the selected service took", "enter")
            await pilot.pause(0.3)
            bar = screen.bar.text.plain
            assert bar.endswith("… · esc: all") and "minio only · /restart" in bar and len(bar) <= 78, bar  # 80 less padding
            await pilot.press("slash", "escape")
            await pilot.pause(0.2)
            assert screen.text_filter == "" and screen.service_filter == "minio"
            await pilot.press("escape")  # esc clears the service filter first
            await pilot.pause(0.2)
            assert isinstance(app.screen, ActivityScreen) and not screen.filtering and screen.shown == total + 2
            await pilot.press("escape")
            await pilot.pause(0.2)
            assert isinstance(app.screen, MainScreen)

    run_sync(run())
