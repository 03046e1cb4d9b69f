"""The save-log (`w`) and how-far-back (`b`) dialogs at 80x24: a mistyped answer is told in the
dialog, in full, with what to change, and never takes the console down (QA's dialog pass)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from textual.widgets import Input
from uikit import offline_app, run_sync, send_keys_at_once, sample_log_lines, wait_until

from liar_tui.ui.screens.main import MainScreen
from liar_tui.ui.screens.modals import LogRangeScreen, SaveLogScreen


def _error(app) -> str:  # type: ignore[no-untyped-def]
    return str(app.screen.query_one("#save-error").render())


def test_save_dialog_answers_a_bad_path_in_the_dialog(tmp_path: Path) -> None:
    """QA: `~nosuchuser/x.log` crashed the console (RuntimeError in expanduser, exit 1); a folder
    was first offered for overwriting and only the second enter said `Is a directory`; `/proc`
    said `No such file or directory` of a folder that is there. Each is now one line in the
    dialog saying what to change, and nothing is written."""
    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(80, 24)) as pilot:
            app.main.log_view.add_lines(sample_log_lines())
            await pilot.press("w")
            await pilot.pause(0.1)
            assert isinstance(app.screen, SaveLogScreen)
            box = app.screen.query_one(Input)
            default_name = Path(box.value).name

            box.value = "~nosuchuser-liar-qa/x.log"
            await pilot.press("enter")
            await wait_until(pilot, lambda: "no such user" in _error(app), 5, what="the no-such-user line")
            assert _error(app) == "~nosuchuser-liar-qa: no such user: write the folder out in full"
            assert isinstance(app.screen, SaveLogScreen) and app.is_running

            box.value = str(tmp_path)
            await pilot.press("enter")
            await wait_until(pilot, lambda: "folder" in _error(app), 5, what="the is-a-folder line")
            assert _error(app) == f"{tmp_path} is a folder: enter saves in it as {default_name}"
            # the default name is put after the folder, nothing written yet
            assert box.value == str(tmp_path / default_name) and list(tmp_path.iterdir()) == []

            # QA: a folder that is not there yet, typed with its slash, was saved as a file
            box.value = f"{tmp_path}/new-logs/"
            await pilot.press("enter")
            await wait_until(pilot, lambda: "new-logs" in _error(app), 5, what="the is-a-folder line")
            assert _error(app) == f"{tmp_path / 'new-logs'} is a folder: enter saves in it as {default_name}"
            assert box.value == str(tmp_path / "new-logs" / default_name) and list(tmp_path.iterdir()) == []

            box.value = "/proc/liar-qa1.log"
            await pilot.press("enter")
            await wait_until(pilot, lambda: "could not save" in _error(app), 5, what="the /proc error")
            assert _error(app) == "could not save: /proc takes no files (No such file or directory): pick another folder"
            # the whole line is shown (it wraps inside the dialog, nothing cut)
            label = app.screen.query_one("#save-error")
            assert label.size.height * label.size.width >= len(_error(app)) and label.size.height <= 2

            box.value = str(tmp_path / "x.log")
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), 5, what="the dialog closed")
            assert [p.name for p in tmp_path.iterdir()] == ["x.log"]

    run_sync(run())


def _dialog_text(app: Any) -> str:
    """The text drawn inside the dialog's border, its lines joined by single spaces."""
    inside = [m.group(1).strip() for strip in app.screen._compositor.render_strips()
              if (m := re.search(r"│(.*)│", strip.text))]
    return re.sub(r"\s+", " ", " ".join(inside))


def test_how_far_back_shows_its_whole_error_at_80x24() -> None:
    """QA: the how-far-back error was cut at the dialog's edge at 80x24 (`…or a duration (30s,
    10m,`): the line naming what to type is shown whole, wrapped inside the dialog."""
    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(80, 24)) as pilot:
            for typed in ("nonsense", "9999999999999999999999999999999d"):
                await pilot.press("b")
                await wait_until(pilot, lambda: isinstance(app.screen, LogRangeScreen), 5, what="the dialog")
                app.screen.query_one(Input).value = typed
                await pilot.press("enter")
                error = app.screen.query_one("#range-error")
                await wait_until(pilot, lambda: str(error.render()), 5, what="the error")
                await pilot.pause(0.1)
                said = re.sub(r"\s+", " ", str(error.render()))
                assert typed in said
                assert said in _dialog_text(app), (said, _dialog_text(app))
                await pilot.press("escape")
                await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), 5, what="the dialog closed")

    run_sync(run())


def test_editing_keys_keep_their_place_among_keys_read_at_once() -> None:
    """QA: `ctrl+u` then `10m` in one terminal read left the How-far-back field empty: Textual's
    Input ran its bound keys only after the event had gone up to the app and back, after the
    characters behind them (Textual issue #6605). The keys are posted here without a pause, as
    one read delivers them."""

    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("b")
            await wait_until(pilot, lambda: isinstance(app.screen, LogRangeScreen) and app.screen.query(Input), 5, what="the dialog")
            box = app.screen.query_one(Input)
            await wait_until(pilot, lambda: app.focused is box, 5, what="the field focused")
            send_keys_at_once(app, "ctrl+u", "1", "0", "m", "backspace", "h", "left", "2")
            await pilot.pause(0.3)
            # ctrl+u clears "200"; 10m, backspace, h: "10h"; left, 2: "102h"
            assert box.value == "102h", box.value

    run_sync(run())
