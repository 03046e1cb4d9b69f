"""Dialogs as people meet them at 80x24 (QA's fourth pass): their text wraps instead of being cut,
no toast covers them, and the bars keep their most important part in view."""

from __future__ import annotations

import re
from typing import Any

from uikit import offline_app, run_sync, wait_until

from liar_tui.ui.screens.modals import ConfirmDownScreen, SaveLogScreen


def screen_lines(app: Any) -> list[str]:
    """The screen as drawn, line by line (toasts and dialogs included)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def dialog_text(app: Any) -> str:
    """The text inside the dialog's border (`│ ... │`), its lines joined with single spaces."""
    inside = []
    for line in screen_lines(app):
        m = re.search(r"│(.*)│", line)
        if m:
            inside.append(m.group(1).strip())
    return re.sub(r"\s+", " ", " ".join(inside))


def test_dialog_text_wraps_at_80x24() -> None:
    """QA: 'Data stays in /tmp' and 'enter saves, esc can' were cut at the dialog's edge."""
    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("D")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDownScreen), 5, what="the down dialog")
            await pilot.pause(0.1)
            text = dialog_text(app)
            assert f"Data stays in {app.project.data_dir}." in text, text
            assert "esc/n: cancel" in text, text
            await pilot.press("escape", "w")
            await wait_until(pilot, lambda: isinstance(app.screen, SaveLogScreen), 5, what="the save dialog")
            await pilot.pause(0.1)
            assert "enter saves, esc cancels." in dialog_text(app), dialog_text(app)

    run_sync(run())


def test_toasts_do_not_cover_a_dialog_at_80x24() -> None:
    """QA: toasts covered the down dialog's text for several seconds. Under a dialog they only use
    the rows below it; once it closes every toast not yet expired shows again."""
    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            for n in range(4):
                app.notify(f"restart redis: done in 1.{n}s (a toast that takes two lines at 80 columns, n={n})", timeout=30)
            await pilot.pause(0.2)
            await pilot.press("D")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDownScreen), 5, what="the down dialog")
            await pilot.pause(0.3)
            text = dialog_text(app)
            for said in ("Down liar-game?", f"Data stays in {app.project.data_dir}.",
                         "y: down (keep data) v: down and DELETE ALL DATA… esc/n: cancel"):
                assert said in text, text
            box = app.screen.query_one("Dialog").region
            lines = screen_lines(app)
            assert "n=3" in "".join(lines[box.bottom:]), lines  # the newest toast, under the dialog
            assert not any("n=" in line[box.x:box.right] for line in lines[box.y:box.bottom]), lines
            await pilot.press("escape")
            await pilot.pause(0.3)
            assert sum("n=" in line for line in screen_lines(app)) >= 3  # all back on the main screen

    run_sync(run())


def test_a_job_dialogs_result_is_not_covered_by_a_toast_repeating_it() -> None:
    """QA: a backup dialog's result line was cut by a toast saying the same (`✗ backup dir
    /tmp/qa2/full is ful▌`)."""
    from pathlib import Path

    from liar_tui.stack.backupset import BackupDirFull, full_message
    from liar_tui.ui.screens.backups import JobScreen

    class Full:
        backup_dir = Path("/tmp/qa2/full")

        def backup(self, services: Any, progress: Any = None, cancel: Any = None) -> Any:
            raise BackupDirFull(full_message(self.backup_dir, 26_010))

    async def run() -> None:
        app, _, _ = offline_app()
        app._backup_manager = lambda: Full()  # type: ignore[method-assign]
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await pilot.press("ctrl+b")
            await wait_until(pilot, lambda: isinstance(app.screen, JobScreen) and app.screen.job.done, 5, what="the backup")
            await pilot.pause(0.3)
            text = dialog_text(app)
            assert "✗ backup all failed" in text or "✗ backup dir /tmp/qa2/full is full (no space left on device)" in text, text
            assert "nothing was kept" in text, text
            assert not any("/tmp/qa2/full" in n.message for n in app._notifications)
            await pilot.press("escape")
            await pilot.pause(0.1)
            assert "✗ backup dir /tmp/qa2/full is full" in app.main.activity.text.plain

    run_sync(run())


def test_bars_keep_their_most_important_part_at_80x24() -> None:
    """QA at 80x24: the footer's last key was cut in half (`u U▏^p Commands`) and the log bar lost
    its news at the edge (`/LOG/ 6 matching l`)."""
    from textual.widgets._footer import FooterKey
    from uikit import drawn, sample_log_lines

    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(80, 24)) as pilot:
            app.main.log_view.add_lines(sample_log_lines())
            await pilot.pause(0.2)
            keys = [k for k in app.main.query(FooterKey) if k.display]
            palette = [k for k in keys if k.has_class("-command-palette")][0]
            cut = [k.key_display for k in keys if k is not palette and k.region.right > palette.region.x]
            assert not cut, (cut, screen_lines(app)[-1])
            await pilot.press("l", "slash", *"LOG", "enter")
            await pilot.pause(0.3)
            await pilot.press("o")
            await pilot.pause(0.3)
            bar = drawn(app.main.logs.bar)
            assert "/LOG/ 6/7" in bar and "only" in bar and bar.startswith("LOGS postgres"), bar
            assert app.main.logs.bar.text.cell_len <= app.main.logs.bar.content_size.width, app.main.logs.bar.text.plain
            await pilot.press("l")
            await pilot.pause(0.1)

    run_sync(run())
