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
