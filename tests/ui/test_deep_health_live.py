"""Deep health in the console against the real, isolated stack (`running_stack`): probes in the
health view and a real fault turning one red, the activity view with an action triggered by key
and an entry another process wrote, the autoheal toggle, a drift marker from an edited .env, and
the bucket bootstrap after the console's own `up`.

Faults are undone in `finally` (SIGCONT, the .env restored): the stack is shared by every test.
"""

from __future__ import annotations

import secrets
import signal
from collections.abc import Iterator
from typing import Any

import pytest
import stackkit
from rich.text import Text
from uikit import HostApi, body_text, log_text, require_local_host_gateway, run_sync, wait_until

from liar_tui.config import Settings
from liar_tui.stack.activity import ActivityLog, activity_path, read_entries
from liar_tui.stack.buckets import ensure_buckets
from liar_tui.stack.model import SERVICES
from liar_tui.stack.project import Project
from liar_tui.ui.app import LiarApp
from liar_tui.ui.messages import ActionFinished, DriftChecked, ServiceProbed
from liar_tui.ui.screens.activity import ActivityScreen
from liar_tui.ui.screens.health import HealthScreen

pytestmark = pytest.mark.engine

SIZE = (160, 48)


def live_app(project: Project, **settings: Any) -> LiarApp:
    return LiarApp(project, Settings(**{"up": False, "refresh": 0.5, **settings}))


def all_healthy(app: LiarApp) -> bool:
    panes = app.main.services
    return all(panes.pane(s).state.running and panes.pane(s).state.health.status == "healthy" for s in SERVICES)


def subtitle(app: LiarApp, service: str) -> str:
    return Text.from_markup(str(app.main.services.pane(service).border_subtitle)).plain


@pytest.fixture
def stack(running_stack: Project) -> Project:
    """The shared stack with the expected buckets (what `liar-tui up` leaves behind)."""
    report = ensure_buckets(running_stack, wait=60)
    assert report.ok, report.error
    return running_stack


@pytest.fixture
def host_api(api_port: int) -> Iterator[HostApi]:
    api = HostApi(api_port).start()
    try:
        yield api
    finally:
        api.stop()


def test_health_view_shows_four_green_probes_and_a_hung_redis_turns_red(stack: Project, host_api: HostApi, messages: list[Any]) -> None:
    require_local_host_gateway(stack)
    env = stack.env()

    async def run() -> None:
        app = live_app(stack)
        async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
            await wait_until(pilot, lambda: all_healthy(app), 120, what="all four healthy")
            await wait_until(
                pilot, lambda: all(getattr(app.probes.get(s), "level", "") == "ok" for s in SERVICES), 30,
                what=f"four green probes (now {[(s, getattr(app.probes.get(s), 'reason', '-')) for s in SERVICES]})",
            )
            assert [subtitle(app, s) for s in SERVICES] == ["✔ probe ok"] * 4
            await pilot.press("1", "H")
            await pilot.pause(0.3)
            assert isinstance(app.screen, HealthScreen)
            figures = {
                "postgres": ("connections", "accepts writes  yes", "oldest xact"),
                "redis": ("PING", "memory", "AOF             on", "last bgsave"),
                "nginx": ("/health         200", "/api/health", "reachable"),
                "minio": ("credentials     accepted", "game-logs:", "all 3 present"),
            }
            for i, service in enumerate(SERVICES, 1):
                await pilot.press(str(i))
                await pilot.pause(0.2)
                text = body_text(app.screen)
                assert sum(line.count("✔ ok") for line in text.splitlines()[:6]) == 4, text
                for needle in figures[service]:
                    assert needle in text, f"{service}: {needle!r} not in\n{text}"
                for secret in (env["POSTGRES_PASSWORD"], env["REDIS_PASSWORD"], env["MINIO_ROOT_PASSWORD"]):
                    assert secret not in text
            # a real fault: every process of the redis container stopped (a hung server)
            await pilot.press("2")
            cid = app.state_of("redis").container_id
            stackkit.signal_container(cid, signal.SIGSTOP)
            try:
                app.trigger_probes(now=True)
                bad = await wait_until(
                    pilot, lambda: (r := app.probes.get("redis")) is not None and r.level == "fail" and r, 15, what="redis probe red"
                )
                assert "no answer within 2s" in bad.reason, bad.reason
                await pilot.pause(0.2)
                text = body_text(app.screen)
                assert "redis    ✖ fail" in text and "no answer within 2s" in text, text
                assert subtitle(app, "redis") == "✖ probe fail"
                assert all(app.probes[s].level == "ok" for s in ("postgres", "nginx", "minio"))
            finally:
                stackkit.signal_container(cid, signal.SIGCONT)
            app.trigger_probes(now=True)
            await wait_until(pilot, lambda: app.probes["redis"].level == "ok", 20, what="redis probe green again")
            await wait_until(pilot, lambda: subtitle(app, "redis") == "✔ probe ok", 5, what="the marker green again")
            await pilot.press("escape", "q")
        # the alarm and the recovery are in the activity log
        texts = [(e.kind, e.service, e.text) for e in read_entries(activity_path(stack), 200)]
        assert any(k == "probe" and s == "redis" and t.startswith("ok -> fail: unreachable") for k, s, t in texts), texts[-10:]
        assert any(k == "probe" and s == "redis" and t.startswith("fail -> ok") for k, s, t in texts), texts[-10:]
        assert sum(isinstance(m, ServiceProbed) for m in messages) >= 8

    run_sync(run())
    stackkit.wait_health(stack, "redis", "healthy")


def test_activity_view_shows_an_action_by_key_and_an_entry_another_process_wrote(running_stack: Project, messages: list[Any]) -> None:
    token = "from-another-process-" + secrets.token_hex(4)

    async def run() -> None:
        app = live_app(running_stack)
        async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
            await wait_until(pilot, lambda: all_healthy(app), 120, what="all four healthy")
            await pilot.press("4", "r")  # restart minio
            done = await wait_until(
                pilot, lambda: [m for m in messages if isinstance(m, ActionFinished) and m.result.action == "restart"], 90,
                what="restart finished",
            )
            assert done[0].result.ok, done[0].result.message
            await pilot.press("A")
            screen = await wait_until(
                pilot, lambda: isinstance(app.screen, ActivityScreen) and app.screen.loaded and app.screen, 10, what="the activity view"
            )
            await wait_until(pilot, lambda: "restart minio: done" in log_text(screen.log_view), 10, what="the action in the view")
            # the state changes the monitor saw on the way (recorded by the ActivityRecorder)
            await wait_until(pilot, lambda: "running -> exited" in log_text(screen.log_view), 20, what="minio's state change")
            # a CLI process writes to the same file: the view follows it
            ActivityLog(running_stack, preload=False).record("action", "minio", token)
            await wait_until(pilot, lambda: token in log_text(screen.log_view), 5, what="the other process's entry")
            text = log_text(screen.log_view)
            assert text.index("restart minio: done") < text.index(token)  # newest last
            assert text.count(token) == 1
            await pilot.press("escape")
            await wait_until(pilot, lambda: all_healthy(app), 90, what="minio healthy again")
            await pilot.press("q")

    run_sync(run())


def test_autoheal_toggle_changes_state_and_is_recorded(running_stack: Project) -> None:
    async def run() -> None:
        app = live_app(running_stack)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.engine_connected, 30, what="engine")
            assert not app.autoheal_on and "autoheal off" in app.main.host_bar.text.plain
            await pilot.press("ctrl+a")
            await wait_until(pilot, lambda: "autoheal ON" in app.main.host_bar.text.plain, 5, what="autoheal on")
            assert app.autoheal_on
            await pilot.press("ctrl+a")
            await wait_until(pilot, lambda: "autoheal off" in app.main.host_bar.text.plain, 5, what="autoheal off")
            assert not app.autoheal_on
            await pilot.press("q")
        texts = [e.text for e in read_entries(activity_path(running_stack), 50) if e.kind == "autoheal"]
        assert texts[-2].startswith("autoheal on: restart a service Docker marks unhealthy (after its healthcheck's own retries) once 3+ checks"), texts
        assert texts[-1].startswith("autoheal off"), texts

    run_sync(run())


def test_drift_marker_appears_when_the_env_changes_and_goes_when_it_is_restored(running_stack: Project, messages: list[Any]) -> None:
    env_file = running_stack.env_file
    original = env_file.read_text()

    async def run() -> None:
        app = live_app(running_stack)
        async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
            await wait_until(pilot, lambda: all_healthy(app), 120, what="all four healthy")
            await wait_until(pilot, lambda: any(isinstance(m, DriftChecked) for m in messages), 30, what="the first drift check")
            assert not app.drift["redis"].drifted, app.drift["redis"].summary()
            pane = app.main.services.pane("redis")
            try:
                env_file.write_text(original.replace("REDIS_PASSWORD=", "REDIS_PASSWORD=changed-"))
                app.check_drift()  # what the 30 s timer does: a changed .env makes it look again
                await wait_until(pilot, lambda: app.drift["redis"].drifted, 30, what="redis drifted")
                await pilot.pause(0.1)
                assert pane.lines[1].plain.startswith("⚠ drift: recreate to apply (R)"), pane.lines[1].plain
                note = [str(n.message) for n in app._notifications if n.title == "drift"]
                assert note and "REDIS_PASSWORD" in note[-1] and "press R" in note[-1], note
                assert not any(app.drift[s].drifted for s in ("postgres", "nginx", "minio"))
            finally:
                env_file.write_text(original)
            app.check_drift()
            await wait_until(pilot, lambda: not app.drift["redis"].drifted, 30, what="no drift once .env is restored")
            await pilot.pause(0.1)
            assert not pane.lines[1].plain.startswith("⚠")
            await pilot.press("q")
        drift = [e.text for e in read_entries(activity_path(running_stack), 50) if e.kind == "drift" and e.service == "redis"]
        assert drift[-2].endswith("recreate to apply") and drift[-1].startswith("matches"), drift

    run_sync(run())


def test_up_from_the_console_creates_a_missing_bucket(stack: Project, messages: list[Any]) -> None:
    s3 = stackkit.s3_client(stack)
    for obj in s3.list_objects("replays", recursive=True):
        s3.remove_object("replays", obj.object_name)
    s3.remove_bucket("replays")

    async def run() -> None:
        app = live_app(stack)
        async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
            await wait_until(pilot, lambda: all_healthy(app), 120, what="all four healthy")
            await pilot.press("u")
            done = await wait_until(
                pilot, lambda: [m for m in messages if isinstance(m, ActionFinished) and m.result.action == "up"], 120, what="up"
            )
            assert done[0].result.ok, done[0].result.message
            await wait_until(pilot, lambda: "created bucket replays" in app.main.activity.text.plain, 60, what="the bucket line")
            assert any("created bucket replays" in str(n.message) for n in app._notifications)
            await pilot.press("q")

    try:
        run_sync(run())
        assert s3.bucket_exists("replays")
    finally:
        ensure_buckets(stack, wait=30)
