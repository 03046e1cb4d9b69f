"""Backups from the console against the real, isolated stack (`running_stack`; its sets go to its
own tmp folder): `B` makes a complete set (manifest on disk), the Backups view verifies it and
restores it after the typed project name, and a cancelled backup leaves no complete set."""

from __future__ import annotations

import io
import os
import secrets
from typing import Any

import pytest
import stackkit
from textual import events
from textual.widgets import Input
from uikit import run_sync, wait_until

from liar_tui.config import Settings
from liar_tui.stack.buckets import ensure_buckets
from liar_tui.stack.backupset import MANIFEST, list_sets, resolve_backup_dir
from liar_tui.stack.model import SERVICES
from liar_tui.stack.project import Project
from liar_tui.ui.app import LiarApp
from liar_tui.ui.messages import BackupJobFinished, BackupProgressed
from liar_tui.ui.screens.backups import BackupsScreen, JobScreen, RestoreConfirmScreen

pytestmark = pytest.mark.engine

SIZE = (120, 40)


def live_app(project: Project) -> LiarApp:
    return LiarApp(project, Settings(up=False, refresh=0.5))


def all_running(app: LiarApp) -> bool:
    return all(app.state_of(s).running and app.state_of(s).health.status == "healthy" for s in SERVICES)


def finished(messages: list[Any]) -> list[Any]:
    return [m.job for m in messages if isinstance(m, BackupJobFinished)]


def test_B_makes_a_complete_set_that_verifies_and_restores(running_stack: Project, messages: list[Any]) -> None:
    key, value = f"liar-tui-test:{secrets.token_hex(4)}", secrets.token_hex(8)
    r = stackkit.redis_client(running_stack)
    r.set(key, value)
    backup_dir = resolve_backup_dir(running_stack.root)

    async def run() -> None:
        app = live_app(running_stack)
        async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
            await wait_until(pilot, lambda: all_running(app), 120, what="all four healthy")
            await pilot.press("2", "B")
            await wait_until(pilot, lambda: finished(messages), 60, what="the backup")
            job = finished(messages)[0]
            assert job.ok, job.text
            assert isinstance(app.screen, JobScreen)
            bset = next(s for s in list_sets(backup_dir) if s.id == job.set_id)
            assert bset.complete and bset.services == ("redis",) and (bset.path / MANIFEST).is_file()
            await pilot.press("escape")
            r.delete(key)
            # the Backups view: the new set is selected; verify it, then restore it
            await pilot.press("V")
            screen = await wait_until(pilot, lambda: isinstance(app.screen, BackupsScreen) and app.screen.selected and app.screen, 10, what="sets")
            assert screen.selected.id == job.set_id
            await pilot.press("v")
            await wait_until(pilot, lambda: len(finished(messages)) == 2, 60, what="verify")
            assert finished(messages)[1].ok, finished(messages)[1].text
            assert any("redis-check-rdb" in line for line in finished(messages)[1].details)
            await pilot.press("escape")
            await pilot.press("r")
            await pilot.pause(0.3)
            assert isinstance(app.screen, RestoreConfirmScreen)
            app.screen.query_one("#restore-name", Input).value = running_stack.name
            await pilot.press("enter")
            await wait_until(pilot, lambda: len(finished(messages)) == 3, 120, what="restore")
            done = finished(messages)[2]
            assert done.ok, done.text
            assert done.kind == "restore" and "keys loaded from the RDB" in " ".join(done.details)
            await pilot.press("escape", "escape")
            await wait_until(pilot, lambda: all_running(app), 120, what="redis healthy after the restore")
            await pilot.press("q")

    run_sync(run())
    assert r.get(key) == value.encode()  # what the set held is back
    r.delete(key)


def test_cancelling_a_backup_leaves_no_complete_set(running_stack: Project, messages: list[Any]) -> None:
    backup_dir = resolve_backup_dir(running_stack.root)
    before = {s.id for s in list_sets(backup_dir)}
    # enough objects that the backup is still running when esc arrives (the rest takes ~1 s)
    assert ensure_buckets(running_stack, wait=60).ok
    s3 = stackkit.s3_client(running_stack)
    blobs = [f"liar-tui-test/cancel-{i}.bin" for i in range(4)]
    for name in blobs:
        s3.put_object("game-logs", name, io.BytesIO(os.urandom(8 << 20)), 8 << 20)

    async def run() -> None:
        app = live_app(running_stack)
        pressed: list[bool] = []

        def hook(message: Any) -> None:
            messages.append(message)
            # esc as the terminal driver delivers it, the moment the backup reports progress
            if isinstance(message, BackupProgressed) and not pressed:
                pressed.append(True)
                app.post_message(events.Key("escape", None))

        async with app.run_test(size=SIZE, message_hook=hook) as pilot:
            await wait_until(pilot, lambda: all_running(app), 120, what="all four healthy")
            await pilot.press("ctrl+b")  # postgres, redis, minio
            await wait_until(pilot, lambda: finished(messages), 60, what="the cancel")
            job = finished(messages)[0]
            assert pressed and job.cancelled and not job.ok, job.text
            assert "cancelled" in app.main.activity.text.plain
            await pilot.press("escape", "q")

    try:
        run_sync(run())
    finally:
        for name in blobs:
            s3.remove_object("game-logs", name)
    after = list_sets(backup_dir)
    assert not [s for s in after if s.id not in before and s.complete]
    assert not [s for s in after if s.id not in before]  # the partial folder is gone too
