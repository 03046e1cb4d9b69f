"""Backups in the console without an engine: the job modal (progress, result, cancel), the Backups
view (list, verify, restore behind the typed project name), and which keys apply when.

FakeManager stands in for stack.backup.BackupManager: same calls, progress and cancel semantics.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.widgets import Input, Label
from uikit import MemoryActivity, drawn, offline_app, run_sync, wait_until

from liar_tui.stack.backup import BackupProgress, RestoreReport, ServiceCheck, ServiceRestore, VerifyReport
from liar_tui.stack.backupset import BackupCancelled, BackupFile, BackupSet
from liar_tui.ui.messages import BackupJobFinished, BackupProgressed
from liar_tui.ui.screens.backups import BackupsScreen, JobScreen, RestoreConfirmScreen
from liar_tui.ui.screens.main import MainScreen
from liar_tui.ui.screens.modals import ConfirmDownScreen


def make_set(set_id: str, services: tuple[str, ...] = ("postgres", "redis", "minio"), complete: bool = True) -> BackupSet:
    files = tuple(BackupFile(f"{s}/data", 1000 * (i + 1), "0" * 64, s, "dump") for i, s in enumerate(services))
    return BackupSet(
        set_id, Path("/backups") / set_id, complete, datetime(2024, 6, 1, 11, 0, tzinfo=timezone.utc), "liar-game",
        services, files, sum(f.size for f in files), {"minio": {"objects": 2}},
    )


class FakeManager:
    """BackupManager's interface: `block` makes backup() wait until cancelled (or released)."""

    def __init__(self, sets: list[BackupSet] | None = None, block: bool = False, down: tuple[str, ...] = ()) -> None:
        self.sets = list(sets or [])
        self.block = block
        self.down = down  # services "not running": verify cannot check them
        self.release = threading.Event()
        self.calls: list[tuple[Any, ...]] = []
        self.backup_dir = Path("/backups")

    def list(self) -> list[BackupSet]:
        return list(self.sets)

    def backup(self, services: Any, progress: Any = None, cancel: threading.Event | None = None) -> BackupSet:
        services = tuple(services)
        self.calls.append(("backup", services))
        deadline = time.monotonic() + 20  # a broken test must not leave this thread behind
        for svc in services:
            progress(BackupProgress(svc, "dump", 500, 1000, ""))
            if self.block:
                while not self.release.is_set() and time.monotonic() < deadline:
                    if cancel is not None and cancel.is_set():
                        raise BackupCancelled("backup cancelled: nothing was kept")
                    time.sleep(0.01)
            progress(BackupProgress(svc, "done", 1000, 1000, f"{svc}: 1000B in 0.1s"))
        bset = make_set("20240601T120000Z", services)
        self.sets.append(bset)
        return bset

    def verify(self, name: str, progress: Any = None, cancel: Any = None, **_: Any) -> VerifyReport:
        self.calls.append(("verify", name))
        bset = next(s for s in self.sets if s.id == name)
        checks = tuple(
            ServiceCheck(s, False, f"not checked: {s} is not running", {"not_checked": True}) if s in self.down
            else ServiceCheck(s, True, f"{s} looks fine") for s in bset.services)
        problems = tuple(f"{c.service}: {c.summary}" for c in checks if not c.ok)
        return VerifyReport(bset, not problems, problems, checks, 0.2, bset.services)

    def restore(self, name: str, services: Any, progress: Any = None, **_: Any) -> RestoreReport:
        self.calls.append(("restore", name, tuple(services)))
        deadline = time.monotonic() + 20  # a broken test must not leave this thread behind
        for svc in services:
            progress(BackupProgress(svc, "restore", 10, 100, "streaming"))
            while self.block and not self.release.is_set() and time.monotonic() < deadline:
                time.sleep(0.01)
        return RestoreReport(name, tuple(ServiceRestore(s, f"{s}: restored", 0.1) for s in services), 0.5)


def backups_app(fake: "FakeManager", states: Any = None, **kwargs: Any) -> Any:
    """An offline app whose backups, verifies and restores go to `fake`."""
    app, _, _ = offline_app(states, **kwargs)
    app._backup_manager = lambda: fake  # type: ignore[method-assign]
    return app


def job_result(app: Any) -> str:
    from rich.console import Console

    console = Console(width=200, record=True, color_system=None)
    console.print(app.screen.query_one("#job-result").content)
    return console.export_text()



async def open_backups_view(pilot: Any, app: Any) -> BackupsScreen:
    """`V`, and the view once it lists the sets and has drawn them."""
    await pilot.press("V")
    screen = await wait_until(pilot, lambda: isinstance(app.screen, BackupsScreen) and app.screen.sets and app.screen, 5,
                              what="sets")
    await pilot.pause(0.1)
    return screen


async def open_restore_dialog(pilot: Any, app: Any) -> None:
    """V (the backups view, its sets listed), then r: the restore dialog of the first set."""
    await open_backups_view(pilot, app)
    await pilot.press("r")
    await wait_until(pilot, lambda: isinstance(app.screen, RestoreConfirmScreen), 5, what="the restore dialog")


async def restore_first_set(pilot: Any, app: Any) -> None:
    """The restore dialog of the first set, confirmed with the project's name; waits for the end."""
    await open_restore_dialog(pilot, app)
    app.screen.query_one("#restore-name", Input).value = "liar-game"
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, JobScreen) and app.screen.job.done, 5, what="restore")


def test_B_backs_up_the_selected_service_with_progress_and_a_result(messages: list[Any]) -> None:
    activity = MemoryActivity()
    fake = FakeManager()

    async def run() -> None:
        app = backups_app(fake, activity=activity)
        async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
            width = app.main.host_bar.size.width
            await pilot.press("2", "B")
            await wait_until(pilot, lambda: any(isinstance(m, BackupJobFinished) for m in messages), 5, what="the backup")
            await pilot.pause(0.1)
            assert isinstance(app.screen, JobScreen)
            assert fake.calls == [("backup", ("redis",))]
            assert any(isinstance(m, BackupProgressed) and m.progress.phase == "dump" for m in messages)
            assert "backup 20240601T120000Z complete: redis 1000B" in job_result(app)
            assert app.screen.query_one("#bar-redis").percentage == 1.0
            # the bar fills the row (the dialogs' Label width took all of it but one cell: QA)
            bar = app.screen.query_one("#bar-redis Bar")
            assert bar.size.width >= 60 and drawn(bar).strip() == "━" * bar.size.width, (bar.size, drawn(bar))
            await pilot.press("escape")
            assert isinstance(app.screen, MainScreen)
            assert "✓ backup 20240601T120000Z complete" in app.main.activity.text.plain
            assert [e.text.split(":")[0] for e in activity.entries() if e.kind == "action"] == ["backup 20240601T120000Z complete"]
            # ProgressBar's own inner widget is called Bar: ours must not share its CSS (width 32),
            # which applies to widgets mounted once a ProgressBar has been shown
            assert app.main.host_bar.size.width == width
            await pilot.press("A")
            await wait_until(pilot, lambda: app.activity_screen is not None and app.activity_screen.loaded, 5, what="activity view")
            assert app.activity_screen.bar.size.width == width
            assert "autoheal off" in drawn(app.activity_screen.bar)
            await pilot.press("escape")
            # nginx holds no data: B does not apply to it; ctrl+b backs up all three
            await pilot.press("3")
            assert app.main.check_action("backup_service", ()) is None
            await pilot.press("ctrl+b")
            await wait_until(pilot, lambda: len(fake.calls) == 2 and app.backup_job is None, 5, what="backup all")
            assert fake.calls[-1] == ("backup", ("postgres", "redis", "minio"))

    run_sync(run())


def test_esc_cancels_a_running_backup_and_nothing_is_kept(messages: list[Any]) -> None:
    fake = FakeManager(block=True)

    async def run() -> None:
        app = backups_app(fake)
        async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
            await pilot.press("ctrl+b")
            await wait_until(pilot, lambda: any(isinstance(m, BackupProgressed) for m in messages), 5, what="progress")
            assert app.main.check_action("backup_all", ()) is None  # one job at a time
            await pilot.press("escape")  # cancel, not close
            await wait_until(pilot, lambda: any(isinstance(m, BackupJobFinished) for m in messages), 5, what="the cancel")
            job = [m for m in messages if isinstance(m, BackupJobFinished)][0].job
            assert job.cancelled and not job.ok and "nothing was kept" in job.text
            assert fake.sets == []
            await pilot.pause(0.1)
            assert isinstance(app.screen, JobScreen) and "nothing was kept" in job_result(app)
            await pilot.press("escape")
            assert isinstance(app.screen, MainScreen)

    run_sync(run())


def test_backups_view_verifies_and_restores_only_after_the_project_name(messages: list[Any]) -> None:
    fake = FakeManager([make_set("20240531T100000Z", ("redis",)), make_set("20240601T110000Z")], block=True)

    async def run() -> None:
        app = backups_app(fake)
        async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
            await pilot.press("V")
            screen = await wait_until(pilot, lambda: isinstance(app.screen, BackupsScreen) and app.screen.sets and app.screen, 5, what="sets")
            assert screen.selected.id == "20240601T110000Z"  # the newest
            assert not app.probes_paused  # the activity log still records probe alarms
            await pilot.press("v")
            await wait_until(pilot, lambda: ("verify", "20240601T110000Z") in fake.calls and app.backup_job is None, 5, what="verify")
            await pilot.pause(0.1)
            assert "verify 20240601T110000Z: OK" in job_result(app) and "ok   minio: minio looks fine" in job_result(app)
            await pilot.press("escape")
            # restore: a wrong name restores nothing
            await pilot.press("r")
            await pilot.pause(0.2)
            assert isinstance(app.screen, RestoreConfirmScreen)
            await pilot.press(*"liar", "enter")
            await pilot.pause(0.1)
            assert isinstance(app.screen, RestoreConfirmScreen) and not any(c[0] == "restore" for c in fake.calls)
            assert "not the project name" in str(app.screen.query_one("#restore-error").render())
            # only redis, the right name
            app.screen.query_one("#restore-services", Input).value = "redis"
            app.screen.query_one("#restore-name", Input).value = "liar-game"
            await pilot.press("enter")
            await wait_until(pilot, lambda: any(c[0] == "restore" for c in fake.calls), 5, what="restore")
            assert fake.calls[-1] == ("restore", "20240601T110000Z", ("redis",))
            await pilot.pause(0.1)
            assert isinstance(app.screen, JobScreen)
            await pilot.press("escape")  # a restore cannot be stopped half-way
            await pilot.pause(0.1)
            assert isinstance(app.screen, JobScreen) and not app.backup_job.cancel.is_set()
            fake.release.set()
            await wait_until(pilot, lambda: app.backup_job is None, 5, what="restore done")
            await pilot.pause(0.1)
            assert "restore 20240601T110000Z (redis) done" in job_result(app)
            await pilot.press("escape", "escape")
            assert isinstance(app.screen, MainScreen) and not app.probes_paused

    run_sync(run())


def test_verify_with_a_service_down_is_not_finished_not_failed(messages: list[Any]) -> None:
    fake = FakeManager([make_set("20240601T110000Z")], down=("postgres",))

    async def run() -> None:
        app = backups_app(fake)
        async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
            await pilot.press("V")
            await wait_until(pilot, lambda: isinstance(app.screen, BackupsScreen) and app.screen.sets, 5, what="sets")
            await pilot.press("v")
            await wait_until(pilot, lambda: ("verify", "20240601T110000Z") in fake.calls and app.backup_job is None, 5, what="verify")
            await pilot.pause(0.1)
            text = job_result(app)
            assert "not finished (postgres not running" in text and "FAILED" not in text, text
            assert text.lstrip().startswith("■") and "✗" not in text, text  # a warning, not a failure
            assert "skip postgres: not checked" in text and "ok   redis" in text, text

    run_sync(run())



def test_a_stopped_service_refuses_backup_and_restore_up_front_with_the_consoles_key(messages: list[Any]) -> None:
    """QA: with postgres stopped, B in the main view said why at once, but n in the Backups view
    and a confirmed restore started a job that failed, naming the headless `liar-tui start`."""
    from uikit import sample_states

    states = sample_states()
    pg = states["postgres"]
    states["postgres"] = pg.__class__(**{**pg.__dict__, "state": "exited", "exit_code": 0})
    fake = FakeManager([make_set("20240601T110000Z")])

    async def run() -> None:
        app = backups_app(fake, states)
        async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
            await pilot.press("1")
            assert app.main.check_action("backup_service", ()) is None
            assert app.main.check_action("backup_all", ()) is None
            reason = app.main.disabled_reason("backup_all")
            assert reason.startswith("postgres is not running: a backup needs it running (s in the main view"), reason
            screen = await open_backups_view(pilot, app)
            assert screen.check_action("new", ()) is None
            assert screen.disabled_reason("new") == reason
            await pilot.press("n")
            await pilot.pause(0.2)
            assert isinstance(app.screen, BackupsScreen) and fake.calls == []
            # restore: with postgres among the services the dialog says so and starts nothing
            await pilot.press("r")
            await wait_until(pilot, lambda: isinstance(app.screen, RestoreConfirmScreen), 5, what="the restore dialog")
            app.screen.query_one("#restore-name", Input).value = "liar-game"
            await pilot.press("enter")
            await pilot.pause(0.2)
            assert isinstance(app.screen, RestoreConfirmScreen) and fake.calls == []
            error = str(app.screen.query_one("#restore-error").render())
            assert error.startswith("postgres is not running: a restore needs it running") and "nothing was restored" in error
            # without postgres it goes ahead
            app.screen.query_one("#restore-services", Input).value = "redis minio"
            await pilot.press("enter")
            await wait_until(pilot, lambda: any(c[0] == "restore" for c in fake.calls), 5, what="restore")
            assert fake.calls[-1] == ("restore", "20240601T110000Z", ("redis", "minio"))

    run_sync(run())


def test_typed_confirmations_show_no_name_in_the_box() -> None:
    """The project name as a placeholder read as already typed (QA pressed enter and was told it
    is not the project name): the boxes start empty and the label above says what to type."""
    fake = FakeManager([make_set("20240601T110000Z")])

    def box_shows(screen: Any, selector: str) -> str:
        box = screen.query_one(selector, Input)
        return box.placeholder + "".join(seg.text for seg in box.render_line(0))

    async def run() -> None:
        app = backups_app(fake)
        async with app.run_test(size=(80, 24)) as pilot:
            await open_restore_dialog(pilot, app)
            await pilot.pause(0.1)
            assert "liar-game" not in box_shows(app.screen, "#restore-name")
            labels = " ".join(str(label.render()) for label in app.screen.query(Label))
            assert "type liar-game to confirm" in labels
            await pilot.press("escape", "escape")
            await pilot.press("D")
            await pilot.pause(0.1)
            await pilot.press("v")
            await pilot.pause(0.1)
            assert isinstance(app.screen, ConfirmDownScreen)
            assert "liar-game" not in box_shows(app.screen, "#confirm-name")
            labels = " ".join(str(label.render()) for label in app.screen.query(Label))
            assert "type liar-game to confirm" in labels
            await pilot.press("escape")

    run_sync(run())


def test_backups_view_at_80_columns_shows_each_sets_status() -> None:
    """At 80 columns STATUS was off screen while PROJECT (always this project) took the room:
    STATUS comes before SERVICES, and PROJECT only shows when a set is another project's."""
    from dataclasses import replace

    fake = FakeManager([make_set("20240531T100000Z", ("redis",)), make_set("20240601T110000Z")])

    async def run() -> None:
        app = backups_app(fake)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_backups_view(pilot, app)
            table = drawn(screen.table)
            assert table.count("complete") == 2 and "STATUS" in table, table
            assert "PROJECT" not in table
            fake.sets.append(replace(make_set("20240601T120000Z"), project="other-game"))
            await pilot.press("f5")
            await wait_until(pilot, lambda: len(screen.sets) == 3, 5, what="the reload")
            await pilot.pause(0.1)
            assert [str(c.label) for c in screen.table.columns.values()][-1] == "PROJECT"
            assert drawn(screen.table).count("complete") == 3

    run_sync(run())


def job_rows(screen: Any) -> dict[str, tuple[str, Any]]:
    """row -> (its label's text, its bar's total) of a job dialog."""
    from rich.console import Console

    out = {}
    for row, label in screen._labels.items():
        console = Console(width=200, record=True, color_system=None)
        console.print(label.render())
        out[row] = (console.export_text().strip(), screen._bars[row].total)
    return out


def test_finished_jobs_leave_every_row_final_and_still(messages: list[Any]) -> None:
    """After a verify finished OK a row still said `minio waiting` over a full bar; after a cancel
    the rows kept pulsing under 'cancelled'. A finished job leaves each row done, skipped,
    cancelled or failed, and no bar without a total (an indeterminate bar animates)."""
    fake = FakeManager([make_set("20240601T110000Z")], block=True)

    async def run() -> None:
        app = backups_app(fake)
        async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
            # a verify that reports no progress for some rows
            await pilot.press("V")
            await wait_until(pilot, lambda: isinstance(app.screen, BackupsScreen) and app.screen.sets, 5, what="sets")
            await pilot.press("v")
            await wait_until(pilot, lambda: app.backup_job is None and isinstance(app.screen, JobScreen) and app.screen.job.done,
                             5, what="verify")
            await pilot.pause(0.1)
            rows = job_rows(app.screen)
            assert set(rows) == {"set", "postgres", "redis", "minio"}
            assert all(text.split()[1] == "done" and total is not None for text, total in rows.values()), rows
            assert all(app.screen._bars[r].percentage == 1.0 for r in rows)
            await pilot.press("escape", "escape")
            # a cancelled backup: the running row and the waiting ones say cancelled, nothing pulses
            await pilot.press("ctrl+b")
            await wait_until(pilot, lambda: any(isinstance(m, BackupProgressed) and m.progress.service == "postgres"
                                                for m in messages), 5, what="progress")
            await pilot.pause(0.1)
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.backup_job is None, 5, what="the cancel")
            await pilot.pause(0.1)
            rows = job_rows(app.screen)
            assert all(text.split()[1] == "cancelled" and total is not None for text, total in rows.values()), rows
            await pilot.press("escape")
            # a verify with postgres down: postgres skipped, the others done
            fake.down = ("postgres",)
            fake.block = False
            await pilot.press("V")
            await wait_until(pilot, lambda: isinstance(app.screen, BackupsScreen) and app.screen.sets, 5, what="sets")
            await pilot.press("v")
            await wait_until(pilot, lambda: app.backup_job is None and isinstance(app.screen, JobScreen) and app.screen.job.done,
                             5, what="verify")
            await pilot.pause(0.1)
            rows = job_rows(app.screen)
            assert {r: t.split()[1] for r, (t, _) in rows.items()} == {"set": "done", "postgres": "skipped", "redis": "done",
                                                                      "minio": "done"}, rows

    run_sync(run())


def test_a_long_restore_result_fits_80x24_and_scrolls() -> None:
    """At 80x24 the restore result was cut (the minio line and the `esc/enter closes` hint off
    screen, no scrollbar): the dialog fits the screen, its body scrolls (shown at its end, the
    result), the hint stays in view, and long result lines wrap under themselves."""
    long = ("restored 123 objects into 3 buckets (game-logs, replays, user-uploads) and removed 4 objects "
            "that were not in the set; verified by their hashes")

    class LongRestore(FakeManager):
        def restore(self, name: str, services: Any, progress: Any = None, **_: Any) -> RestoreReport:
            self.calls.append(("restore", name, tuple(services)))
            for svc in services:
                progress(BackupProgress(svc, "done", 100, 100, "streamed"))
            return RestoreReport(name, tuple(ServiceRestore(s, f"{s}: {long} END-{s}", 0.1) for s in services), 0.5)

    fake = LongRestore([make_set("20240601T110000Z")])

    async def run() -> None:
        app = backups_app(fake)
        async with app.run_test(size=(80, 24)) as pilot:
            await restore_first_set(pilot, app)
            await pilot.pause(0.3)
            screen = app.screen
            dialog = screen.query_one("Vertical")
            hint = screen.query_one("#job-hint")
            body = screen.query_one("#job-body")
            assert dialog.region.bottom <= 24 and hint.region.y < dialog.region.bottom - 1, (dialog.region, hint.region)
            assert str(hint.render()) == "esc/enter closes"
            assert body.max_scroll_y > 0 and body.scroll_y == body.max_scroll_y  # scrolls, and shows the result
            result = screen.query_one("#job-result")
            assert result.region.bottom <= body.region.bottom  # the minio line is in view
            lines = [strip.text.rstrip() for strip in result.render_lines(result.region.reset_offset)]
            assert any(ln.rstrip().endswith("END-minio") for ln in lines), lines
            # wrapped at words under the detail's indent, not cut
            wrapped = [ln for ln in lines if ln and not ln.startswith(("✓", "· postgres", "· redis", "· minio"))]
            assert wrapped and all(ln.startswith("  ") for ln in wrapped), lines
            await pilot.press("up")  # the body scrolls by keyboard
            await pilot.pause(0.1)
            assert body.scroll_y < body.max_scroll_y
            await pilot.press("enter")
            assert isinstance(app.screen, BackupsScreen)

    run_sync(run())


def test_a_backup_rows_size_uses_the_same_units_as_elsewhere(messages: list[Any]) -> None:
    """QA: a 25.4 KiB redis backup's row said `redis: 0.0 MiB in 0.4s`: the backup's own note gives
    MiB whatever the size. The row names the service and shows the size as format_bytes does."""

    class SmallRedis(FakeManager):
        def backup(self, services: Any, progress: Any = None, cancel: Any = None) -> BackupSet:
            progress(BackupProgress("redis", "copy", 13_000, 26_010, ""))
            progress(BackupProgress("redis", "done", 26_010, 26_010, "redis: 25.4KiB in 0.4s"))
            bset = make_set("20240601T120000Z", ("redis",))
            self.sets.append(bset)
            return bset

    fake = SmallRedis()

    async def run() -> None:
        app = backups_app(fake)
        async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
            await pilot.press("2", "B")
            await wait_until(pilot, lambda: any(isinstance(m, BackupJobFinished) for m in messages), 5, what="the backup")
            await pilot.pause(0.1)
            text, _total = job_rows(app.screen)["redis"]
            assert text == "redis     done  25.4KiB in 0.4s", text

    run_sync(run())


def test_a_full_backup_dir_names_what_the_console_takes(messages: list[Any]) -> None:
    """QA: the console suggested `--backup-dir (or LIAR_TUI_BACKUP_DIR)`, a flag it does not
    take: in the console the fix names only the variable."""
    from liar_tui.stack.backupset import BackupDirFull, BackupDirNotWritable, full_message, not_writable_message

    activity = MemoryActivity()

    class Full(FakeManager):
        error: Exception = BackupDirFull(full_message(Path("/tmp/qa2/full"), 26_010))

        def backup(self, services: Any, progress: Any = None, cancel: Any = None) -> BackupSet:
            raise self.error

    fake = Full()

    async def run() -> None:
        app = backups_app(fake, activity=activity)
        async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
            for error in (fake.error, BackupDirNotWritable(not_writable_message(Path("/ro"), PermissionError(13, "Permission denied")))):
                fake.error = error
                messages.clear()
                await pilot.press("ctrl+b")
                await wait_until(pilot, lambda: any(isinstance(m, BackupJobFinished) for m in messages), 5, what="the backup")
                await pilot.pause(0.1)
                shown = job_result(app) + app.main.activity.text.plain + activity.entries()[-1].text
                assert "--backup-dir" not in shown, shown
                assert "LIAR_TUI_BACKUP_DIR=DIR" in job_result(app), job_result(app)
                await pilot.press("escape")

    run_sync(run())


def test_a_console_restore_records_its_start(messages: list[Any]) -> None:
    """QA: console restores logged only '... done' (headless logs the start too): a console killed
    mid-restore left no trace in the activity log."""
    activity = MemoryActivity()
    fake = FakeManager([make_set("20240601T110000Z")], block=True)

    async def run() -> None:
        app = backups_app(fake, activity=activity)
        async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
            await open_restore_dialog(pilot, app)
            app.screen.query_one("#restore-services", Input).value = "redis minio"
            app.screen.query_one("#restore-name", Input).value = "liar-game"
            await pilot.press("enter")
            await wait_until(pilot, lambda: any(c[0] == "restore" for c in fake.calls), 5, what="restore")
            texts = [e.text for e in activity.entries() if e.kind == "action"]
            assert texts == ["restore 20240601T110000Z of redis, minio started"], texts
            fake.release.set()
            await wait_until(pilot, lambda: app.backup_job is None, 5, what="restore done")
            texts = [e.text for e in activity.entries() if e.kind == "action"]
            assert len(texts) == 2 and texts[1].startswith("restore 20240601T110000Z (redis, minio) done"), texts

    run_sync(run())


def is_quit_question(screen: Any) -> bool:
    return type(screen).__name__ == "QuitDuringJobScreen"


def test_quitting_during_a_restore_asks_and_quits_only_when_it_ends(messages: list[Any]) -> None:
    """QA: ctrl+q during a console restore blanked the screen ~11 s without a word (the process
    waited for the restore's thread), then exited. Quitting now asks; yes waits for the restore
    (never left half done) and the dialog says so; esc takes the quit back; ctrl+q again in the
    question is yes. The result is printed on the terminal the console leaves."""
    fake = FakeManager([make_set("20240601T110000Z")], block=True)

    async def run() -> None:
        app = backups_app(fake)
        async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
            await open_restore_dialog(pilot, app)
            app.screen.query_one("#restore-name", Input).value = "liar-game"
            await pilot.press("enter")
            await wait_until(pilot, lambda: any(c[0] == "restore" for c in fake.calls), 5, what="restore")
            await pilot.press("ctrl+q")
            await pilot.pause(0.1)
            assert not app._exit and is_quit_question(app.screen)
            said = " ".join(str(label.render()) for label in app.screen.query(Label))
            assert "cannot be stopped half-way" in said and "quits as soon as it ends" in said, said
            await pilot.press("escape")  # stay
            await pilot.pause(0.1)
            assert isinstance(app.screen, JobScreen) and not app._exit and app.backup_job is not None
            await pilot.press("ctrl+q", "y")
            await pilot.pause(0.1)
            assert isinstance(app.screen, JobScreen) and not app._exit
            assert "quitting when the restore ends" in str(app.screen.query_one("#job-hint").render())
            assert "quitting when it ends" in app.main.activity.text.plain
            assert not app.backup_job.cancel.is_set()  # a restore is not stopped half-way
            await pilot.press("escape")  # takes the quit back
            await pilot.pause(0.1)
            assert "quitting" not in str(app.screen.query_one("#job-hint").render())
            await pilot.press("ctrl+q", "ctrl+q")  # ctrl+q again answers yes
            await pilot.pause(0.3)
            assert not app._exit and "quitting when the restore ends" in str(app.screen.query_one("#job-hint").render())
            fake.release.set()
            await wait_until(pilot, lambda: app._exit, 5, what="the quit once the restore ended")
            assert any("restore 20240601T110000Z (postgres, redis, minio) done" in str(r) for r in app._exit_renderables)

    run_sync(run())


def test_quitting_during_a_backup_asks_then_cancels_it(messages: list[Any]) -> None:
    """A backup may be cancelled: quitting asks, and yes cancels it (nothing kept) and quits."""
    fake = FakeManager(block=True)

    async def run() -> None:
        app = backups_app(fake)
        async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
            await pilot.press("ctrl+b")
            await wait_until(pilot, lambda: any(isinstance(m, BackupProgressed) for m in messages), 5, what="progress")
            await pilot.press("ctrl+q")
            await pilot.pause(0.1)
            assert is_quit_question(app.screen) and not app._exit
            said = " ".join(str(label.render()) for label in app.screen.query(Label))
            assert "cancels it: nothing partial is kept" in said, said
            await pilot.press("n")
            await pilot.pause(0.1)
            assert isinstance(app.screen, JobScreen) and not app.backup_job.cancel.is_set()
            await pilot.press("q")  # the footer's q asks too (QA: in the job dialog it did nothing)
            await pilot.pause(0.1)
            assert is_quit_question(app.screen) and not app._exit
            await pilot.press("n", "ctrl+q", "y")
            await wait_until(pilot, lambda: app._exit, 5, what="the quit once the backup was cancelled")
            assert fake.sets == []

    run_sync(run())


def test_quitting_without_a_job_quits_at_once() -> None:
    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("q")
            await wait_until(pilot, lambda: app._exit, 5, what="the quit")

    run_sync(run())


def qa_sets() -> list[BackupSet]:
    """What QA listed: a redis-only set, a verified one, one whose verify failed, an incomplete one."""
    from dataclasses import replace

    return [make_set("20240531T100000Z", ("redis",)), replace(make_set("20240601T090000Z"), verified=True),
            replace(make_set("20240601T100000Z"), verified=False), make_set("20240601T110000Z", complete=False)]


def test_backups_view_at_80x24_shows_whole_services_and_statuses_and_moves_like_the_log() -> None:
    """QA at 80x24: SERVICES was clipped (`postgres,redis,mini`), an incomplete set widened STATUS
    until only `r`/`p` of SERVICES showed, home/end scrolled sideways and g/G did nothing, and v
    or r on an incomplete set did nothing without a word."""
    fake = FakeManager(qa_sets())

    async def run() -> None:
        app = backups_app(fake)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_backups_view(pilot, app)
            rows = drawn(screen.table).splitlines()[1:5]
            for row, words in zip(rows, (("complete", "redis"), ("verified", "postgres,redis,minio"),
                                         ("verify failed", "postgres,redis,minio"), ("incomplete", "postgres,redis,minio"))):
                assert all(w in row for w in words), rows
            assert screen.table.max_scroll_x == 0, screen.table.virtual_size
            # newest selected; g/home the oldest, G/end the newest, never sideways
            assert screen.selected.id == "20240601T110000Z"
            for key, expected in (("g", "20240531T100000Z"), ("G", "20240601T110000Z"), ("home", "20240531T100000Z"),
                                  ("end", "20240601T110000Z")):
                await pilot.press(key)
                await pilot.pause(0.05)
                assert screen.selected.id == expected and screen.table.scroll_x == 0, key
            # v and r on the incomplete set say why, on the status line (a toast covered it)
            for key in ("v", "r"):
                screen._set_status(Text("-"))
                await pilot.press(key)
                await pilot.pause(0.1)
                assert app.screen is screen and app.backup_job is None, key
                said = " ".join(drawn(screen.status).split())
                assert said.startswith(f"{key}: 20240601T110000Z is incomplete") and "nothing to verify or restore" in said, said
                assert not app._notifications
            assert not any(c[0] in ("verify", "restore") for c in fake.calls)

    run_sync(run())


def test_backups_rows_are_whole_when_drawn_before_the_table_is_idle() -> None:
    """QA, about one opening in seven: `202  384.  comple  postgres`, until the list was read again.
    DataTable measures new rows when it is next idle, and a frame drawn before that caches each
    cell at its header's width. Drawn straight after the rows are given, they are whole."""
    fake = FakeManager(qa_sets())

    async def run() -> None:
        app = backups_app(fake)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_backups_view(pilot, app)
            screen.show_sets(fake.list(), "/backups")  # as the list is read again; no await: not idle yet
            first = drawn(screen.table).splitlines()[1]
            assert "20240531T100000Z" in first and "complete" in first and "redis" in first, first
            await pilot.pause(0.1)
            assert drawn(screen.table).splitlines()[1] == first  # and the same once it is idle

    run_sync(run())


def test_backups_view_wide_shows_when_each_set_was_made() -> None:
    fake = FakeManager(qa_sets())

    async def run() -> None:
        app = backups_app(fake)
        async with app.run_test(size=(160, 48)) as pilot:
            screen = await open_backups_view(pilot, app)
            assert "CREATED (UTC)" in drawn(screen.table) and "2024-06-01 11:00:00" in drawn(screen.table)

    run_sync(run())


def test_backups_view_under_no_color_marks_the_selection_and_stays_readable(monkeypatch: Any) -> None:
    """QA under NO_COLOR: 'verify failed' was bold grey 59 on grey 18 (Textual's Monochrome turns
    red into a dark grey) and the selected row was told by a background shade only; the README
    promises a `▶`, as the main view has."""
    from textual.color import Color

    monkeypatch.setenv("NO_COLOR", "1")
    fake = FakeManager(qa_sets())

    async def run() -> None:
        app = backups_app(fake)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("V")
            await wait_until(pilot, lambda: isinstance(app.screen, BackupsScreen) and app.screen.sets, 5, what="sets")
            await pilot.press("up", "up")  # the verified set; the failed one below it is not selected
            await pilot.pause(0.2)
            lines = app.screen._compositor.render_strips()
            marked = [strip.text for strip in lines if "▶" in strip.text]
            assert len(marked) == 1 and "20240601T090000Z" in marked[0], marked
            failed = [seg for strip in lines for seg in strip if "verify failed" in seg.text]
            assert failed
            for seg in failed:
                fg = Color.from_rich_color(seg.style.color)
                bg = Color.from_rich_color(seg.style.bgcolor)
                assert abs(fg.brightness - bg.brightness) >= 0.4, (seg.text, str(seg.style))

    run_sync(run())


def test_a_restore_row_does_not_name_its_service_twice() -> None:
    """Seen on the real stack at 80x24: `postgres  done  postgres: database liardb recreated…`."""

    class Restore(FakeManager):
        def restore(self, name: str, services: Any, progress: Any = None, **_: Any) -> RestoreReport:
            self.calls.append(("restore", name, tuple(services)))
            for svc in services:
                progress(BackupProgress(svc, "done", 0, None, f"{svc}: restored from the set"))
            return RestoreReport(name, tuple(ServiceRestore(s, f"{s}: restored from the set", 0.1) for s in services), 0.5)

    fake = Restore([make_set("20240601T110000Z")])

    async def run() -> None:
        app = backups_app(fake)
        async with app.run_test(size=(80, 24)) as pilot:
            await restore_first_set(pilot, app)
            await pilot.pause(0.1)
            rows = job_rows(app.screen)
            assert rows["postgres"][0] == "postgres  done  restored from the set", rows

    run_sync(run())


def test_backups_view_details_the_selected_set_and_why_its_verify_failed() -> None:
    """The Backups view left most of 80x24 empty and said nothing of what a set holds or why its
    verify failed (only `backup verify` on the command line told). Under the list: the selected
    set's folder, what it holds of each service, and its last verify, check by check; moving the
    cursor changes it; an incomplete set says what is missing."""
    from dataclasses import replace

    base = make_set("20240601T100000Z")
    failed = replace(
        base, meta={"postgres": {"database": "liardb", "user": "liaruser", "pg_dump": "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"},
                    "redis": {"keys_after_snapshot": 20000, "redis_version": "7.0.15", "appendonly": "yes"},
                    "minio": {"objects": 200, "buckets": 3, "bytes": 3 * 1024 * 1024}},
        tools={"s3-server": "SeaweedFS 8000GB 4.48", "liar-tui": "0.1.0"},
        finished_at=datetime(2024, 6, 1, 11, 0, 4, tzinfo=timezone.utc), verified=False,
        verified_at=datetime(2024, 6, 2, 8, 0, tzinfo=timezone.utc),
        verify_checks=(("postgres", True, "pg_restore reads 12 TOC entries, 3 tables"),
                       ("redis", False, "redis-check-rdb rejects redis/dump.rdb: Unexpected EOF reading RDB file"),
                       ("minio", True, "200 objects in 3 buckets")),
        verify_problems=("redis/data: sha256 differs from the manifest",
                         "redis: redis-check-rdb rejects redis/dump.rdb: Unexpected EOF reading RDB file"))
    fake = FakeManager([make_set("20240531T100000Z", ("redis",)), failed, make_set("20240601T110000Z", complete=False)])

    def detail(screen: Any) -> str:
        return "\n".join(" ".join(line.split()) for line in drawn(screen.detail).splitlines())

    async def run() -> None:
        app = backups_app(fake)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_backups_view(pilot, app)
            said = detail(screen)
            assert "20240601T110000Z /backups/20240601T110000Z" in said and "no manifest" in said, said
            await pilot.press("k")
            await pilot.pause(0.1)
            said = detail(screen)
            assert said.splitlines() == [
                "20240601T100000Z /backups/20240601T100000Z",
                "made 2024-06-01 11:00:00 UTC in 4.0s · liar-tui 0.1.0",
                "postgres dump 1000B · database liardb as liaruser · pg_dump 15.18",
                "redis RDB 2.0KiB · 20,000 keys · Redis 7.0.15 (AOF on)",
                "minio 200 objects in 3 buckets, 3.0MiB · from SeaweedFS 8000GB 4.48",
                "last verify 2024-06-02 08:00:00 UTC: ✗ failed",
                "✓ postgres pg_restore reads 12 TOC entries, 3 tables",
                "✗ redis redis-check-rdb rejects redis/dump.rdb: Unexpected EOF reading",
                "RDB file",
                "✓ minio 200 objects in 3 buckets",
                "✗ redis/data: sha256 differs from the manifest",
            ], said
            # the whole of it shows at 80x24, with the list and the status line
            assert screen.detail.size.height == 11 and screen.table.size.height >= 4
            # a wrapped line goes on under its words, not under the service's name
            rows = drawn(screen.detail).splitlines()
            assert rows[rows.index(next(r for r in rows if "Unexpected EOF" in r)) + 1].index("RDB file") == \
                rows[rows.index(next(r for r in rows if "Unexpected EOF" in r))].index("redis-check-rdb")
            assert screen.status.region.bottom <= 23
            await pilot.press("k")
            await pilot.pause(0.1)
            said = detail(screen)
            assert said.startswith("20240531T100000Z") and "never verified: v checks every checksum" in said, said
            assert "postgres" not in said  # a redis-only set

    run_sync(run())
