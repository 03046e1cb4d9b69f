"""`?` and `f1` list every key from every view, as the README says (QA: they did nothing in the
health and activity views), and Textual's own key panel does not get in the way."""

from __future__ import annotations

import pytest
from uikit import offline_app, run_sync, wait_until

from liar_tui.ui.screens.activity import ActivityScreen
from liar_tui.ui.screens.health import HealthScreen
from liar_tui.ui.screens.modals import HelpScreen


@pytest.mark.parametrize("view_key,view", [("H", HealthScreen), ("A", ActivityScreen)])
@pytest.mark.parametrize("help_key", ["question_mark", "f1"])
def test_help_opens_from_the_health_and_activity_views(view_key: str, view: type, help_key: str) -> None:
    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press(view_key)
            await wait_until(pilot, lambda: isinstance(app.screen, view), 5, what=view.__name__)
            await pilot.press(help_key)
            await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), 5, what="the help")
            await pilot.press(help_key)  # the same key closes it: back in the view
            await wait_until(pilot, lambda: isinstance(app.screen, view), 5, what=f"back in {view.__name__}")

    run_sync(run())


def test_the_palettes_keys_entry_opens_our_help() -> None:
    """QA: `ctrl+p` → Keys opened Textual's own key panel, which squeezed the services table and
    esc did not close. The palette's Keys opens the console's help (every key of every view),
    which esc closes."""
    from textual.command import CommandPalette
    from textual.widgets import OptionList

    from liar_tui.ui.screens.main import MainScreen

    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(80, 24)) as pilot:
            width = app.main.services.size.width
            await pilot.press("ctrl+p")
            await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), 5, what="the palette")
            await pilot.press(*"keys")
            options = app.screen.query_one(OptionList)
            await wait_until(pilot, lambda: options.option_count > 0 and "Keys" in str(options.get_option_at_index(0).prompt),
                             5, what="Keys in the palette")
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), 5, what="the console's help")
            await pilot.press("escape")
            await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), 5, what="the main view")
            await pilot.pause(0.1)
            assert not app.screen.query("HelpPanel") and app.main.services.size.width == width

    run_sync(run())
