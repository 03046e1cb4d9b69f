"""UI behaviour that needs no engine: FakeMonitor supplies fixed state, FakeStack records actions."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.command import CommandPalette
from textual.widgets import Input, OptionList, Static
from uikit import CONNECTED, FakeProbeRunner, FakeStack, SlowStack, body_text, drawn, offline_app, palette_texts, run_sync, sample_log_lines, sample_states, send_keys_at_once, wait_until

from liar_tui.config import Settings
from liar_tui.ui.keys import binding_classes
from liar_tui.stack.logs import LogLine, LogRange
from liar_tui.stack.model import HealthCheckResult, HealthInfo
from liar_tui.stack.monitor import EngineStatus
from liar_tui.stack.project import Project
from liar_tui.ui.app import LiarApp
from liar_tui.ui.messages import ActionFinished, ActionProgressed, EngineStatusChanged, ServiceStateChanged
from liar_tui.ui.screens.activity import ActivityScreen
from liar_tui.ui.screens.backups import BackupsScreen
from liar_tui.ui.screens.main import MainScreen
from liar_tui.ui.screens.modals import ConfirmDownScreen, HealthScreen, HelpScreen, SaveLogScreen
from liar_tui.ui.widgets.logview import LogView, SearchBar


#: Textual's generic keys every screen inherits (focus cycling, copy, its ctrl+c hint): not ours to list.
TEXTUAL_GENERIC = {("tab", "app.focus_next"), ("shift+tab", "app.focus_previous"), ("ctrl+c", "screen.copy_text"),
                   ("super+c", "screen.copy_text"), ("ctrl+c", "help_quit")}


def all_bindings() -> list[tuple[str, str, str, str | None]]:
    """(class, key, action, id) of every binding in effect in the console's screens, widgets and
    dialogs, inherited ones (Textual's scrolling keys) included."""
    found = []
    classes = binding_classes()
    assert {MainScreen, LogView, HealthScreen, ActivityScreen, BackupsScreen, ConfirmDownScreen} <= set(classes)
    for cls in classes:
        for key, bindings in cls._merge_bindings().key_to_bindings.items():
            for b in bindings:
                if (key, b.action) not in TEXTUAL_GENERIC:
                    found.append((cls.__name__, key, b.action, b.id))
    return found


def all_binding_ids() -> set[str]:
    return {i for _, _, _, i in all_bindings() if i}


def plain(renderable: Any, width: int = 200) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_help_lists_every_binding(messages: list[Any]) -> None:
    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(120, 60), message_hook=messages.append) as pilot:
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            text = plain(app.screen.query_one("#help-table", Static).content)
            without_id = [b for b in all_bindings() if not b[3]]
            assert not without_id, f"bindings the help cannot list (no id): {without_id}"
            missing = [i for i in sorted(all_binding_ids()) if i not in text]
            assert not missing, f"help misses {missing}"
            # every key of every binding is on its row
            rows = {r.binding_id: r.keys.split(" ") for r in app.main.key_rows()}
            shown = {"question_mark": "?", "slash": "/", "escape": "esc", "plus": "+", "colon": ":"}
            unlisted = [(c, k, i) for c, k, _, i in all_bindings() if shown.get(k, k) not in rows.get(i or "", [])]
            assert not unlisted, f"keys missing from their help rows: {unlisted}"
            for key, action in (("r", "Restart"), ("R", "Recreate"), ("E", "shell"), ("/", "Search"), ("q", "Quit")):
                assert any(line.split()[:1] == [key] and action.lower() in line.lower() for line in text.splitlines()), key
            await pilot.press("escape")
            assert isinstance(app.screen, MainScreen)

    run_sync(run())


def test_help_pages_without_skipping_a_line_at_80x24() -> None:
    """Each pgdn skipped one line: the key list was taller than the room the dialog gave it (its
    last row hidden under the border, the hint off screen). Now it all shows, and a page is
    exactly the rows in view."""
    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("question_mark")
            await pilot.pause(0.3)
            screen = app.screen
            dialog, scroll, hint = screen.query_one("Vertical"), screen.query_one("#help-scroll"), screen.query_one(".hint")
            inner_bottom = dialog.region.bottom - 1  # the border's row
            assert scroll.region.bottom <= hint.region.y and hint.region.bottom <= inner_bottom, (dialog.region, scroll.region, hint.region)
            rows = scroll.scrollable_content_region.height
            table = screen.query_one("#help-table", Static)
            lines = [strip.text for strip in table.render_lines(table.region.reset_offset)]
            page1 = lines[:rows]
            await pilot.press("pagedown")
            await pilot.pause(0.2)
            assert scroll.scroll_y == rows
            page2 = lines[int(scroll.scroll_y):int(scroll.scroll_y) + rows]
            assert page2[0] == lines[len(page1)]  # the line after page 1's last, none skipped

    run_sync(run())


def test_a_closed_view_is_collected_and_its_heap_given_back(monkeypatch: Any) -> None:
    """Each view left 1-4 MB of RSS behind until something collected it (bench: six rounds of the
    views 77.9 -> 74.1 MB with this). Not at start-up: no view was closed then."""
    import liar_tui.ui.app as app_module

    tidied: list[float] = []
    monkeypatch.setattr(app_module, "tidy", lambda: tidied.append(1.0))

    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(app_module.VIEW_TIDY_AFTER + 0.5)
            assert tidied == []
            await pilot.press("question_mark")
            await pilot.pause(0.2)
            await pilot.press("escape")
            await wait_until(pilot, lambda: tidied, app_module.VIEW_TIDY_AFTER + 3, what="the collection")
            assert isinstance(app.screen, MainScreen) and len(tidied) == 1

    run_sync(run())


def test_keymap_remaps_a_binding_and_help_shows_it() -> None:
    async def run() -> None:
        app, _, stack = offline_app(settings=Settings(up=False, keys={"service.restart": "ctrl+r"}))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("r")
            await pilot.pause(0.3)
            assert stack.calls == []  # r no longer restarts
            await pilot.press("ctrl+r")
            await wait_until(pilot, lambda: stack.calls, 5, what="restart via ctrl+r")
            assert stack.calls == [("restart", ("postgres",))]
            rows = {r.binding_id: r.keys for r in app.main.key_rows()}
            assert rows["service.restart"] == "ctrl+r"

    run_sync(run())


def test_a_remapped_key_keeps_its_place_in_the_footer_at_80x24() -> None:
    """QA with `service.restart = "ctrl+r"` in config.toml: Textual's keymap put the remapped
    binding last, and restart left the 80-column footer (it came after `a All logs`)."""
    from textual.widgets._footer import FooterKey

    def shown(app: Any) -> list[str]:
        return [k.description for k in app.main.query(FooterKey) if k.display and not k.has_class("-command-palette")]

    async def run() -> None:
        plain, _, _ = offline_app()
        async with plain.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.2)
            expected = shown(plain)
        app, _, _ = offline_app(settings=Settings(up=False, keys={"service.restart": "ctrl+r", "stack.up": "U"}))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.2)
            assert "Restart" in expected and shown(app) == expected, (shown(app), expected)
            restart = next(k for k in app.main.query(FooterKey) if k.description == "Restart")
            assert restart.key_display == "^r"

    run_sync(run())


def test_actions_run_in_workers_report_progress_and_result(messages: list[Any]) -> None:
    async def run() -> None:
        app, _, stack = offline_app()
        async with app.run_test(size=(160, 48), message_hook=messages.append) as pilot:
            await pilot.press("2", "r")  # restart redis
            done = await wait_until(pilot, lambda: [m for m in messages if isinstance(m, ActionFinished)], 5, what="ActionFinished")
            assert done[0].result.action == "restart" and done[0].result.services == ("redis",)
            assert any(isinstance(m, ActionProgressed) and m.action == "restart" and m.event.status == "Restarting"
                       for m in messages)  # compose's progress of a service action reaches the app
            assert "✓ restart redis: done" in app.main.activity.text.plain
            await pilot.press("u")
            await wait_until(pilot, lambda: ("up", ()) in stack.calls and "stack" not in app.busy, 5, what="up")
            assert any(isinstance(m, ActionProgressed) and m.event.status == "Started" for m in messages)
            # s on a running service stops it; on an exited one (nginx) starts it
            await pilot.press("1", "s")
            await pilot.press("3", "s")
            await wait_until(pilot, lambda: len(stack.calls) >= 4 and not app.busy, 5, what="stop/start")
            assert ("stop", ("postgres",)) in stack.calls and ("start", ("nginx",)) in stack.calls
            assert app.main.check_action("restart", ()) is None  # nginx is exited: r does not apply

    run_sync(run())


def test_a_failed_action_shows_composes_own_message(messages: list[Any]) -> None:
    error = "Error response from daemon: driver failed programming external connectivity: port is already allocated"

    async def run() -> None:
        app, _, _ = offline_app(stack=FakeStack(fail=error))
        async with app.run_test(size=(160, 48), message_hook=messages.append) as pilot:
            await pilot.press("R")
            await wait_until(pilot, lambda: [m for m in messages if isinstance(m, ActionFinished)], 5, what="ActionFinished")
            await pilot.pause(0.1)
            assert error in app.main.activity.text.plain
            assert any(error in str(n.message) and n.severity == "error" for n in app._notifications)

    run_sync(run())


def test_engine_gone_is_shown_and_actions_grey_out_until_it_is_back() -> None:
    async def run() -> None:
        app, _, stack = offline_app()
        async with app.run_test(size=(80, 24)) as pilot:
            app.post_message(EngineStatusChanged(EngineStatus(connected=False, error="lost the Docker engine (its connection closed): reconnecting")))
            await pilot.pause(0.2)
            assert app.main.has_class("-disconnected")
            assert app.main.engine_banner.display
            assert "lost the Docker engine" in app.main.engine_banner.plain
            assert "engine unreachable" in app.main.host_bar.text.plain
            assert app.main.services.has_class("-stale")
            assert "unknown" in drawn(app.main.services.pane("postgres"))
            assert app.main.check_action("restart", ()) is None
            await pilot.press("r")
            await pilot.pause(0.2)
            assert stack.calls == []
            app.post_message(EngineStatusChanged(CONNECTED))
            await pilot.pause(0.2)
            assert not app.main.has_class("-disconnected")
            assert "● healthy" in drawn(app.main.services.pane("postgres"))
            assert app.main.check_action("restart", ()) is True

    run_sync(run())


def test_state_change_renders_at_once_without_waiting_for_the_tick() -> None:
    async def run() -> None:
        app, monitor, _ = offline_app(settings=Settings(up=False, refresh=30))
        async with app.run_test(size=(160, 48)) as pilot:
            states = sample_states()
            dead = states["postgres"].__class__(**{**states["postgres"].__dict__, "state": "exited", "exit_code": 137})
            monitor.set_state(dead)
            app.post_message(ServiceStateChanged(dead))
            await pilot.pause(0.05)
            assert "exited (137)" in drawn(app.main.services.pane("postgres"))

    run_sync(run())


def test_footer_follows_the_selected_services_state() -> None:
    """Restart is offered for a running service only: the footer changes when the state does
    (and only a change that matters rebuilds it)."""
    from textual.widgets._footer import FooterKey

    def restart_disabled(app: LiarApp) -> bool | None:
        keys = [k for k in app.main.query(FooterKey) if k.action == "restart"]
        return keys[0].has_class("-disabled") if keys else None

    async def run() -> None:
        app, monitor, _ = offline_app()
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_until(pilot, lambda: restart_disabled(app) is False, 5, what="restart offered")
            running = sample_states()["postgres"]
            dead = running.__class__(**{**running.__dict__, "state": "exited", "exit_code": 137})
            monitor.set_state(dead)
            app.post_message(ServiceStateChanged(dead))
            await wait_until(pilot, lambda: restart_disabled(app) is True, 5, what="restart greyed out")
            monitor.set_state(running)
            app.post_message(ServiceStateChanged(running))
            await wait_until(pilot, lambda: restart_disabled(app) is False, 5, what="restart offered again")

    run_sync(run())


def test_a_key_that_does_not_apply_says_why() -> None:
    """E or r on a stopped service and B on nginx did nothing and said nothing: now a one-line
    reason with what to do; the action still does not run and the footer still dims the key."""
    async def run() -> None:
        app, _, stack = offline_app()
        async with app.run_test(size=(80, 24)) as pilot:
            def said() -> list[str]:
                return [str(n.message) for n in app._notifications]

            await pilot.press("3")  # nginx: exited
            await pilot.pause(0.3)
            await pilot.press("r")
            await wait_until(pilot, lambda: "nginx is not running: start it with s" in said(), 5, what="the reason for r")
            await pilot.press("E")
            await pilot.pause(0.1)
            assert said().count("nginx is not running: start it with s") == 2
            await pilot.press("B")
            await wait_until(pilot, lambda: "nginx has no backup: backups cover postgres, redis and minio" in said(), 5,
                             what="the reason for B")
            assert stack.calls == [] and app.backup_job is None and not app._suspended
            assert app.main.check_action("restart", ()) is None and app.main.check_action("shell", ()) is None
            # a key that applies says nothing of the kind
            before = len(said())
            await pilot.press("1", "r")
            await wait_until(pilot, lambda: stack.calls, 5, what="the restart")
            assert not any("not running" in m for m in said()[before:])

    run_sync(run())


def test_a_shell_starts_on_a_clear_screen(monkeypatch: Any) -> None:
    """The previous shell's output showed above a new one (the terminal's normal screen keeps
    it): the screen is cleared before the shell gets the terminal."""
    import contextlib

    from liar_tui.ui import app as app_module

    events: list[str] = []

    def fake_run(*a: Any, **kw: Any) -> int:
        events.append("shell")
        return 0

    monkeypatch.setattr(app_module, "run_shell", fake_run)
    monkeypatch.setattr(app_module, "terminal_write", lambda text: events.append(text))

    async def run() -> None:
        app, _, _ = offline_app()
        monkeypatch.setattr(app, "suspend", contextlib.nullcontext)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("2", "E")
            await wait_until(pilot, lambda: "shell" in events, 5, what="the shell")
            first = events.index("shell")
            assert any("\x1b[2J" in e and "\x1b[3J" in e for e in events[:first]), events
            events.clear()
            await pilot.press("E")
            await wait_until(pilot, lambda: "shell" in events, 5, what="the second shell")
            assert "\x1b[2J" in events[0], events

    run_sync(run())


def test_save_writes_the_visible_lines(tmp_path: Path) -> None:
    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(160, 48)) as pilot:
            view = app.main.log_view
            view.add_lines(sample_log_lines())
            view.set_search("error")
            view.set_only_matching(True)
            await pilot.press("w")
            await pilot.pause(0.1)
            target = tmp_path / "saved.log"
            app.screen.query_one(Input).value = str(target)
            await pilot.press("enter")
            await wait_until(pilot, lambda: target.exists() and target.stat().st_size > 0, 5, what="saved file")
            lines = target.read_text().splitlines()
            assert len(lines) == view.match_count == 9
            assert all("error" in ln.lower() for ln in lines)
            assert oct(target.stat().st_mode & 0o777) == "0o600"
            # and the activity log says what was saved where
            await wait_until(pilot, lambda: any(e.text == f"saved 9 log lines to {target}" for e in app.wiring.activity.entries()),
                             5, what="the save in the activity log")

    run_sync(run())


def test_save_never_overwrites_silently_and_a_failed_save_keeps_the_dialog(tmp_path: Path) -> None:
    """QA wrote a log over compose/.env: an existing file is overwritten only after a second enter
    on the same path, the write goes through a temporary file renamed into place, and a failed
    save keeps the dialog open with the path and what to do (not a toast behind a closed dialog)."""
    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(120, 40)) as pilot:
            app.main.log_view.add_lines(sample_log_lines())
            existing = tmp_path / ".env"
            existing.write_text("POSTGRES_PASSWORD=keep-me\n")

            def error_text() -> str:
                return str(app.screen.query_one("#save-error").render())

            await pilot.press("w")
            await pilot.pause(0.1)
            assert isinstance(app.screen, SaveLogScreen)
            app.screen.query_one(Input).value = str(existing)
            await pilot.press("enter")
            await wait_until(pilot, lambda: "exists" in error_text(), 5, what="the exists warning")
            assert error_text() == f"{existing} exists: enter again to overwrite, or change the name"
            assert isinstance(app.screen, SaveLogScreen) and existing.read_text() == "POSTGRES_PASSWORD=keep-me\n"
            # another name: saved there, the existing file untouched, the dialog closes
            fresh = tmp_path / "fresh.log"
            app.screen.query_one(Input).value = str(fresh)
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), 5, what="the dialog closed")
            assert len(fresh.read_text().splitlines()) == 40 and existing.read_text() == "POSTGRES_PASSWORD=keep-me\n"
            assert any(str(fresh) in str(n.message) for n in app._notifications)
            # enter twice on the same existing path: overwritten
            await pilot.press("w")
            await pilot.pause(0.1)
            app.screen.query_one(Input).value = str(existing)
            await pilot.press("enter")
            await wait_until(pilot, lambda: "exists" in error_text(), 5, what="the exists warning")
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), 5, what="the dialog closed")
            assert len(existing.read_text().splitlines()) == 40
            # an error: the dialog stays, says which path and what to do; no temporary file is left
            blocked = tmp_path / "a-dir"
            blocked.mkdir()
            await pilot.press("w")
            await pilot.pause(0.1)
            app.screen.query_one(Input).value = str(blocked)
            await pilot.press("enter")  # a folder: said at once, not offered for overwriting
            await wait_until(pilot, lambda: "is a folder" in error_text(), 5, what="the is-a-folder line")
            assert isinstance(app.screen, SaveLogScreen)
            assert error_text().startswith(f"{blocked} is a folder: enter saves in it as liar-tui-")
            not_a_dir = tmp_path / "fresh.log" / "x.log"
            app.screen.query_one(Input).value = str(not_a_dir)
            await pilot.press("enter")
            await wait_until(pilot, lambda: "could not save" in error_text(), 5, what="the error in the dialog")
            assert error_text() == f"could not save: {not_a_dir.parent} is a file, not a folder: pick a folder"
            assert isinstance(app.screen, SaveLogScreen)
            assert sorted(p.name for p in tmp_path.iterdir()) == [".env", "a-dir", "fresh.log"]
            assert list(blocked.iterdir()) == []
            await pilot.press("escape")
            assert isinstance(app.screen, MainScreen)

    run_sync(run())


def test_how_far_back_takes_a_count_or_a_duration() -> None:
    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("b")
            await pilot.pause(0.1)
            box = app.screen.query_one(Input)
            box.value = "10m"
            await pilot.press("enter")
            await pilot.pause(0.1)
            assert app.log_range == LogRange(tail=None, since_seconds=600)
            assert "since 10m" in app.main.logs.bar.text.plain
            await pilot.press("b")
            await pilot.pause(0.1)
            app.screen.query_one(Input).value = "nonsense"
            await pilot.press("enter")
            await pilot.pause(0.1)
            assert "give a line count" in str(app.screen.query_one("#range-error").render())
            await pilot.press("escape")

    run_sync(run())


def test_down_keeps_data_unless_the_project_name_is_typed() -> None:
    async def run() -> None:
        app, _, stack = offline_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("D")
            await pilot.pause(0.1)
            assert isinstance(app.screen, ConfirmDownScreen)
            await pilot.press("v")
            await pilot.pause(0.1)
            await pilot.press(*"wrong", "enter")
            await pilot.pause(0.1)
            assert isinstance(app.screen, ConfirmDownScreen) and stack.calls == []
            app.screen.query_one(Input).value = "liar-game"
            await pilot.press("enter")
            await wait_until(pilot, lambda: stack.calls, 5, what="down")
            assert stack.calls == [("down-volumes", ())]
            await pilot.press("D")
            await pilot.pause(0.1)
            await pilot.press("y")
            await wait_until(pilot, lambda: len(stack.calls) == 2, 5, what="down")
            assert stack.calls[-1] == ("down", ())

    run_sync(run())


def test_command_palette_lists_the_actions() -> None:
    async def run() -> None:
        app, _, stack = offline_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("ctrl+p")
            await pilot.pause(0.2)
            assert isinstance(app.screen, CommandPalette)
            await pilot.press(*"recreate")
            texts = await palette_texts(pilot, app, lambda t: t and "Recreate the selected service" in t[0])
            assert any("Recreate the selected service" in t for t in texts), texts
            await pilot.press("enter")
            await wait_until(pilot, lambda: stack.calls, 5, what="recreate from the palette")
            assert stack.calls == [("recreate", ("postgres",))]

    run_sync(run())


def test_colon_opens_the_palette_as_k9s_command_mode_but_a_search_still_takes_it() -> None:
    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("colon")
            await pilot.pause(0.2)
            assert isinstance(app.screen, CommandPalette)
            await pilot.press("escape")
            await pilot.pause(0.2)
            assert not isinstance(app.screen, CommandPalette)
            await pilot.press("slash", "a", "colon", "b")
            await pilot.pause(0.2)
            assert not isinstance(app.screen, CommandPalette)
            assert app.main.query_one(SearchBar).query_one(Input).value == "a:b"

    run_sync(run())


def test_command_palette_offers_every_main_screen_action() -> None:
    """Opened with nothing typed, the palette lists every action of the main screen's key list
    (all but the keys of a widget, a view or the app itself), each with its key."""
    sections = {"Service", "Stack", "Backups", "Views", "Logs", "Navigation"}

    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(120, 40)) as pilot:
            wanted = {r.description for r in app.main.key_rows() if r.section in sections}
            assert len(wanted) >= 20, wanted
            await pilot.press("ctrl+p")
            texts = await palette_texts(pilot, app, lambda t: wanted <= {x.split(" · ")[0] for x in t})
            listed = {t.split(" · ")[0] for t in texts}
            assert wanted <= listed, sorted(wanted - listed)
            for required in ("Restart the selected", "Recreate the selected", "Stop the selected", "Open a shell", "Backups view",
                             "Bring every service up", "Down the stack", "Quit liar-tui", "Save the visible log"):
                assert any(t.startswith(required) for t in listed), (required, sorted(listed))

    run_sync(run())


@pytest.mark.parametrize("theme", ["nord", "gruvbox"])
def test_the_theme_setting_is_applied(theme: str) -> None:
    async def run() -> None:
        app, _, _ = offline_app(settings=Settings(up=False, theme=theme))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.1)
            assert app.theme == theme

    run_sync(run())


def test_an_unknown_theme_is_named_and_the_default_kept() -> None:
    async def run() -> None:
        app, _, _ = offline_app(settings=Settings(up=False, theme="no-such-theme"))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.1)
            assert app.theme == "textual-dark"
            told = [str(n.message) for n in app._notifications if "unknown theme 'no-such-theme'" in str(n.message)]
            assert told and "using textual-dark" in told[0], told

    run_sync(run())


def test_health_details_redact_secrets(tmp_path: Path) -> None:
    (tmp_path / "compose").mkdir()
    (tmp_path / "compose" / ".env").write_text("REDIS_PASSWORD=SuperSecretRedisPw1\n")
    project = Project(root=tmp_path, name="liar-game")
    states = sample_states()
    leaky = HealthInfo("unhealthy", 1, (HealthCheckResult(None, None, 1, "AUTH SuperSecretRedisPw1 failed"),))
    states["redis"] = states["redis"].__class__(**{**states["redis"].__dict__, "health": leaky})

    async def run() -> None:
        app, _, _ = offline_app(states, project=project)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2", "H")
            await pilot.pause(0.3)
            assert isinstance(app.screen, HealthScreen)
            text = body_text(app.screen)
            assert "failing streak 1" in text
            assert "SuperSecretRedisPw1" not in text and "AUTH ****** failed" in text

    run_sync(run())


def test_health_view_after_the_last_autoheal_restart_promises_no_next_one(monkeypatch: Any) -> None:
    """After its last allowed restart autoheal will only give up: no "next allowed in" countdown."""
    from liar_tui.stack.autoheal import AutohealStatus

    async def run() -> None:
        app, _, _ = offline_app(sample_states())
        async with app.run_test(size=(120, 40)) as pilot:
            cap = app.autoheal_policy.max_attempts
            monkeypatch.setattr(app.wiring, "autoheal_status", lambda s: AutohealStatus(s, cap, False, 40.0, True))
            await pilot.press("2", "H")
            await pilot.pause(0.3)
            text = body_text(app.screen)
            assert f"{cap} of {cap} restarts · no restarts left" in text, text
            assert "next allowed" not in text
            monkeypatch.setattr(app.wiring, "autoheal_status", lambda s: AutohealStatus(s, 1, False, 40.0, True))
            await pilot.press("escape", "H")
            await pilot.pause(0.3)
            assert f"1 of {cap} restarts · next allowed in 40s" in body_text(app.screen)
            # given up on redis (still unhealthy); on postgres, fixed and restarted by hand since
            # (healthy): it says when autoheal acts again
            monkeypatch.setattr(app.wiring, "autoheal_status", lambda s: AutohealStatus(s, cap, True, 0.0, False))
            await pilot.press("escape", "H")
            await pilot.pause(0.3)
            text = body_text(app.screen)
            assert f"{cap} of {cap} restarts · gave up" in text and "healthy again" not in text, text
            await pilot.press("escape", "1", "H")
            await pilot.pause(0.3)
            stable = app.autoheal_policy.stable
            assert f"gave up; healthy again: the count resets after {stable:g}s healthy" in body_text(app.screen)

    run_sync(run())


def test_containers_of_another_copy_are_said_at_once(tmp_path: Path) -> None:
    """Opened in a second copy of the project under the same name: the banner says whose
    containers these are before any action is refused (QA: nothing said it until one failed)."""
    project = Project(root=tmp_path / "copy", name="liar-game")
    states = {name: st.__class__(**{**st.__dict__, "working_dir": "/srv/liar-game/compose"})
              for name, st in sample_states().items()}

    async def run() -> None:
        app, _, _ = offline_app(states, project=project)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.2)
            banner = drawn(app.main.engine_banner)
            assert app.main.engine_banner.display, banner
            assert "made from /srv/liar-game" in banner and "--project-dir /srv/liar-game" in banner, banner
            # down would only be refused after its dialog named this copy's data: it says why at once
            await pilot.press("D")
            await pilot.pause(0.1)
            assert not isinstance(app.screen, ConfirmDownScreen)

    run_sync(run())


def test_no_color_is_honoured(monkeypatch: Any) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app, _, _ = offline_app()
    assert app.no_color
    monkeypatch.delenv("NO_COLOR")
    assert not offline_app()[0].no_color
    assert os.environ.get("NO_COLOR") is None


def test_no_color_still_shows_the_selection_and_the_search_matches(monkeypatch: Any) -> None:
    """Under NO_COLOR Textual greys every colour: the selected card has a heavy border (not only
    another colour), matches are underlined and the current one reversed; and a search over the
    log draws (it once crashed Textual's Monochrome filter with unstyled segments)."""
    monkeypatch.setenv("NO_COLOR", "1")

    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(120, 40)) as pilot:
            view = app.main.log_view
            await pilot.press("2")  # redis selected
            await pilot.pause(0.3)  # its log view is set up
            view.add_lines(sample_log_lines())
            view.set_search("ready")
            await pilot.press("n")
            await pilot.pause(0.2)
            svg = app.export_screenshot()
            pane = app.main.query_one("#pane-redis")
            others = [p for p in app.main.query(".pane") if p is not pane]
            assert pane.styles.border_top[0] == "heavy" and all(p.styles.border_top[0] == "round" for p in others)
            assert svg.count("┏") == 1 and "╭" in svg
            assert "text-decoration: underline;" in svg
            match_style = view.get_component_rich_style("logview--match", partial=True)
            current_style = view.get_component_rich_style("logview--current-match", partial=True)
            assert match_style.underline and current_style.reverse

    run_sync(run())


def test_keyboard_focus_moves_between_services_logs_and_search() -> None:
    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(80, 24)) as pilot:
            main = app.main
            assert app.focused is main.services
            await pilot.press("down", "j")
            assert main.selected == "nginx"
            await pilot.press("tab")
            assert app.focused is main.log_view
            await pilot.press("escape")
            assert app.focused is main.services
            await pilot.press("l")
            assert app.focused is main.log_view
            await pilot.press("slash")
            await pilot.pause(0.1)
            assert isinstance(app.focused, Input) and main.logs.search.has_class("-active")
            await pilot.press("x", "escape")
            assert app.focused is main.log_view
            assert main.log_view.search_text == "x"
            await pilot.press("l")
            assert app.focused is main.services
            # a hidden action is not offered: n/N without a search that matches
            main.log_view.set_search("")
            assert main.check_action("next_match", ()) is None

    run_sync(run())


def test_zoom_gives_the_log_the_whole_screen_at_80x24() -> None:
    async def run() -> None:
        app, _, stack = offline_app()
        async with app.run_test(size=(80, 24)) as pilot:
            main = app.main
            main.log_view.add_lines(sample_log_lines() * 2)
            await pilot.pause()
            normal = main.log_view.size.height
            await pilot.press("2", "z")
            await pilot.pause()
            assert not main.services.display and main.log_view.size.height > normal + 4
            assert app.focused is main.log_view
            # the bar says what the hidden table would: the selected service's status
            assert main.logs.bar.text.plain.startswith("LOGS redis ● unhealthy ×3")
            await pilot.press("a")  # all services: the bar names the selected one
            await pilot.pause(0.3)
            assert main.logs.bar.text.plain.startswith("LOGS all services  ▸ redis ● unhealthy ×3")
            await pilot.press("a")
            # still at the newest line, and the service keys still act on the selected service
            assert main.log_view.scroll_y == main.log_view.max_scroll_y
            await pilot.press("r")
            await wait_until(pilot, lambda: ("restart", ("redis",)) in stack.calls, 5, what="restart redis")
            await pilot.press("plus")
            await pilot.pause()
            assert main.services.display and main.log_view.size.height == normal
            assert "●" not in main.logs.bar.text.plain.split("tail")[0]
            await pilot.press("plus", "escape")  # back: the table again, focused
            await pilot.pause()
            assert main.services.display and app.focused is main.services
            await pilot.press("z", "tab")  # switch focus from a zoomed log: to the services
            await pilot.pause()
            assert main.services.display and app.focused is main.services

    run_sync(run())


def test_long_lines_scroll_sideways_by_keys_and_the_bar_shows_the_column() -> None:
    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(80, 24)) as pilot:
            main = app.main
            view = main.log_view
            view.add_lines([LogLine("nginx", "2024-06-01T12:00:00.000000000Z", "head " + "x" * 200 + " TAIL-MARK")])
            await pilot.pause(0.1)
            rows_before = view.size.height
            await pilot.press("l")  # focus the log
            assert app.focused is view
            assert "TAIL-MARK" not in drawn(view) and "← col" not in main.logs.bar.text.plain
            await pilot.press("right")
            await pilot.pause(0.1)
            assert view.scroll_x > 0 and f"← col {round(view.scroll_x) + 1}" in main.logs.bar.text.plain
            await pilot.press("ctrl+pagedown", "ctrl+pagedown", "ctrl+pagedown")
            await pilot.pause(0.1)
            assert "TAIL-MARK" in drawn(view)
            assert f"← col {round(view.scroll_x) + 1}" in main.logs.bar.text.plain
            # no horizontal scrollbar: the log keeps every row of its height for lines
            assert view.size.height == rows_before and view.scrollable_content_region.height == rows_before
            await pilot.press("home")
            await pilot.press("ctrl+pageup", "ctrl+pageup", "ctrl+pageup", "ctrl+pageup")
            await pilot.pause(0.1)
            assert view.scroll_x == 0 and "← col" not in main.logs.bar.text.plain

    run_sync(run())


def test_command_palette_over_a_view_lists_and_runs_that_views_actions() -> None:
    """Over the health view the palette offers the view's own actions (next service, close; fix
    drift when drifted), not the main screen's behind it, and runs them on the view."""
    async def run() -> None:
        app, _, stack = offline_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("1", "H")
            await wait_until(pilot, lambda: isinstance(app.screen, HealthScreen), 5, what="the health view")
            await pilot.press("ctrl+p")
            await pilot.pause(0.2)
            assert isinstance(app.screen, CommandPalette)
            options = app.screen.query_one(OptionList)
            await wait_until(pilot, lambda: options.option_count > 0, 5, what="the palette's list")
            texts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
            assert any("Health of the next service" in t for t in texts), texts
            assert any("Close the health view" in t for t in texts), texts
            assert not any("Restart the selected service" in t for t in texts), texts
            await pilot.press(*"next service")
            await palette_texts(pilot, app, lambda t: t and "Health of the next service" in t[0])
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, HealthScreen) and app.screen.service == "redis", 5,
                             what="the health view moved to redis from the palette")
            assert stack.calls == []

    run_sync(run())


def test_follow_regex_and_previous_match_keys() -> None:
    """f pauses and resumes following (resuming jumps to the newest line), x switches between a
    regex and a plain-text search, N goes back to the previous match."""
    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(120, 30)) as pilot:
            view = app.main.log_view
            view.add_lines(sample_log_lines())
            await pilot.pause(0.1)
            assert view.follow and view.is_vertical_scroll_end
            await pilot.press("f")
            assert not view.follow
            view.scroll_home(animate=False)
            view.add_lines(sample_log_lines())
            await pilot.pause(0.1)
            assert view.scroll_offset.y == 0  # not following: new lines do not move the view
            await pilot.press("f")
            await pilot.pause(0.1)
            assert view.follow and view.is_vertical_scroll_end

            # x: the same text as a regex, then as plain text
            view.set_search("ERROR|Error")
            regex_hits = view.match_count
            assert view.search_regex and regex_hits > 0
            await pilot.press("x")
            assert not view.search_regex and view.match_count == 0  # nothing contains the literal 'ERROR|Error'
            await pilot.press("x")
            assert view.search_regex and view.match_count == regex_hits

            # n n N: forward twice, back once
            await pilot.press("n")
            first = view.current_match
            await pilot.press("n")
            second = view.current_match
            assert first is not None and second is not None and second != first
            await pilot.press("N")
            assert view.current_match == first

    run_sync(run())


def test_log_scroll_keys_work_with_the_services_list_focused() -> None:
    """QA at 80x24: after esc from a search the list has the focus, and G, End, PgUp did nothing:
    the log stayed paused. From the list PgUp/PgDn page the log, g/Home go to its oldest line and
    G/End back to the newest, following again; the selected service stays where it was."""
    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(80, 24)) as pilot:
            view = app.main.log_view
            view.add_lines(sample_log_lines())
            await pilot.pause(0.1)
            assert app.focused is app.main.services and view.follow and view.is_vertical_scroll_end
            bottom = view.scroll_offset.y
            await pilot.press("pageup")
            await pilot.pause(0.1)
            assert not view.follow and view.scroll_offset.y < bottom
            await pilot.press("pagedown")
            await pilot.pause(0.1)
            assert view.scroll_offset.y > 0
            await pilot.press("g")
            await pilot.pause(0.1)
            assert not view.follow and view.scroll_offset.y == 0
            await pilot.press("G")
            await pilot.pause(0.1)
            assert view.follow and view.is_vertical_scroll_end
            await pilot.press("home")
            await pilot.pause(0.1)
            assert view.scroll_offset.y == 0
            await pilot.press("end")
            await pilot.pause(0.1)
            assert view.follow and view.is_vertical_scroll_end
            assert app.focused is app.main.services and app.main.services.service == "postgres"

    run_sync(run())


def test_scroll_keys_that_come_together_each_scroll() -> None:
    """QA at 80x24: ten down-arrows sent at once (a held key over SSH, a burst into tmux)
    scrolled the help one line, and the logs the same: Textual's scroll actions wait for the
    next refresh and start each press from where the view is now. Each press counts."""
    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(80, 24)) as pilot:
            view = app.main.log_view
            view.focus()
            # g in the same frame as new lines: their scroll to the end sent the view back there
            view.add_lines([LogLine("redis", "", f"line {i}") for i in range(200)])
            await pilot.press("g")
            await pilot.pause(0.1)
            page = view.scrollable_content_region.height
            send_keys_at_once(app, *["down"] * 10)
            await pilot.pause(0.3)
            assert view.scroll_offset.y == 10
            send_keys_at_once(app, "pagedown", "pagedown", "up", "up", "up")
            await pilot.pause(0.3)
            assert view.scroll_offset.y == 10 + 2 * page - 3 and not view.follow

            await pilot.press("question_mark")
            await pilot.pause(0.3)
            scroll = app.screen.query_one("#help-scroll")
            send_keys_at_once(app, *["down"] * 10)
            await pilot.pause(0.3)
            assert scroll.scroll_y == 10
            send_keys_at_once(app, *["up"] * 20)  # more than there is: it stops at the top
            await pilot.pause(0.3)
            send_keys_at_once(app, "down")
            await pilot.pause(0.3)
            assert scroll.scroll_y == 1

    run_sync(run())


def test_a_paused_log_holds_still_when_the_full_ring_drops_old_lines() -> None:
    """With following off, the line under the reader's eye stays on the same row while new lines
    push the oldest out of a full ring (plain view and 'only matching lines' alike)."""
    async def run() -> None:
        app, _, _ = offline_app(settings=Settings(up=False, log_lines=200))
        async with app.run_test(size=(120, 30)) as pilot:
            view = app.main.log_view
            view.clear()

            def batch(start: int, n: int) -> list[LogLine]:
                return [LogLine("nginx", f"2024-01-01T00:00:{i % 60:02d}.000000000Z", f"line {i:05d}" + (" odd" if i % 2 else ""))
                        for i in range(start, start + n)]

            def top_text() -> str:
                return view.line(view.seq_at(round(view.scroll_y))).text

            view.add_lines(batch(0, 200))
            await pilot.press("f")
            assert not view.follow
            view.scroll_to(y=100, animate=False, immediate=True)
            await pilot.pause(0.05)
            assert top_text() == "line 00100"
            view.add_lines(batch(200, 30))  # the ring drops lines 0-29
            await pilot.pause(0.05)
            assert view.first_seq == 30 and top_text() == "line 00100"

            view.set_search("odd")
            view.only_matching = True
            view._changed()
            view.scroll_to(y=40, animate=False, immediate=True)
            await pilot.pause(0.05)
            held = top_text()
            view.add_lines(batch(230, 20))  # drops 20 more lines, 10 of them matches
            await pilot.pause(0.05)
            assert top_text() == held

    run_sync(run())


def test_launch_brings_the_stack_up_with_progress_and_the_ui_stays_live() -> None:
    """Without --no-up the console runs compose up itself, shows its progress lines, and keys
    work while it runs (it is in a worker)."""
    import threading

    release = threading.Event()

    class SlowUp(FakeStack):
        def up_events(self, services: Any = None, **_: Any) -> Any:
            from liar_tui.stack.model import ActionResult, ProgressEvent

            self.calls.append(("up", ()))
            yield ProgressEvent("Container liar-game-redis", "Starting")
            release.wait(10)
            yield ActionResult("up", (), True, "", 1.5)

    async def run() -> None:
        app, _, stack = offline_app(stack=SlowUp(), settings=Settings(up=True), probe_factory=FakeProbeRunner)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: stack.calls == [("up", ())], 5, what="compose up at launch")
            runner = await wait_until(pilot, lambda: app._probe_runner, 5, what="the probe runner")
            assert app.probes_paused  # no probe of services that are still coming up
            await wait_until(pilot, lambda: "Container liar-game-redis" in app.main.activity.text.plain, 5,
                             what="compose's progress in the app")
            await pilot.press("3")  # the UI answers while up runs
            assert app.main.selected == "nginx"
            # the result line; the bucket check right after it may already have replaced it (here
            # with no MinIO credentials), so the line is caught as it is drawn
            shown: list[str] = []
            show = app.main.show_activity
            app.main.show_activity = lambda text: (shown.append(str(text)), show(text))[1]  # type: ignore[method-assign]
            release.set()
            await wait_until(pilot, lambda: any("✓ up all services" in line for line in shown), 5, what="the result")
            await wait_until(pilot, lambda: not app.probes_paused and "resume" in runner.calls and not runner.paused, 5,
                             what="probes resumed after up")

    try:
        run_sync(run())
    finally:
        release.set()


def test_no_up_only_watches() -> None:
    async def run() -> None:
        app, _, stack = offline_app(settings=Settings(up=False))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.5)
            assert stack.calls == []
            assert "--no-up" in app.main.activity.text.plain

    run_sync(run())


def test_a_service_without_a_container_is_brought_up_by_s() -> None:
    """QA: r on a removed container said to bring the whole stack up, and s did nothing but say
    so. r now names s, and s runs up for that one service."""
    from liar_tui.stack.model import ServiceState

    states = sample_states()
    states["redis"] = ServiceState("redis", "missing")

    async def run() -> None:
        app, _, stack = offline_app(states)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("2")
            await pilot.pause(0.1)
            assert app.main.disabled_reason("restart") == "redis has no container: s brings it up"
            await pilot.press("s")
            await wait_until(pilot, lambda: stack.calls, 5, what="the up of redis")
            assert stack.calls == [("up", ("redis",))]
            await wait_until(pilot, lambda: "redis" not in app.busy, 5, what="redis no longer busy")

    run_sync(run())


def test_footer_keys_of_earlier_views_are_let_go() -> None:
    """QA: RSS climbed 69 -> 117 MB opening and closing the views: every footer recompose (each
    bindings change) left its ~14 old keys alive, watched by the footer's `compact` (Textual
    drops such a watcher only when that value changes, and here it never does)."""
    import gc

    from textual.widgets._footer import FooterKey

    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.2)
            for _ in range(6):
                await pilot.press("A")
                await pilot.pause(0.2)
                await pilot.press("escape")
                await pilot.pause(0.2)
            gc.collect()
            footer = app.main.query_one("CalmFooter")
            watched = getattr(footer, "__watchers", {}).get("compact", [])
            removed = [node for node, _ in watched if node._closed or node._closing]
            assert not removed, f"{len(removed)} removed footer keys still watched (kept alive)"
            alive = [k for k in gc.get_objects() if isinstance(k, FooterKey) and not k.is_attached]
            assert len(alive) <= 2, f"{len(alive)} removed footer keys still alive"

    run_sync(run())


def test_the_health_view_says_why_a_paused_or_stopped_service_is_unhealthy() -> None:
    """QA: Docker marks a paused or stopped container unhealthy with a failing streak of 0 over
    passing checks; the view said just that, which read as a contradiction."""
    from dataclasses import replace

    states = sample_states()
    states["redis"] = replace(states["redis"], state="paused", health=HealthInfo("unhealthy", 0, ()))
    states["nginx"] = replace(states["nginx"], state="exited", health=HealthInfo("unhealthy", 0, ()))

    async def run() -> None:
        app, _, _ = offline_app(states)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2", "H")
            await wait_until(pilot, lambda: isinstance(app.screen, HealthScreen), 5, what="the health view")
            text = " ".join(body_text(app.screen).split())
            assert "health unhealthy · failing streak 0 (Docker marks a paused container unhealthy; s resumes it)" in text, text
            await pilot.press("3")  # nginx, stopped: Docker marks it unhealthy too
            await pilot.pause(0.2)
            text = " ".join(body_text(app.screen).split())
            assert "(Docker marks a stopped container unhealthy; s starts it)" in text, text

    run_sync(run())


def test_a_crash_looping_or_paused_service_restarts_by_r_and_says_why_there_is_no_shell() -> None:
    """QA: nginx in a crash loop (Docker restarting it, ever more slowly): r refused with "start
    it with s", and s stops it; after fixing the config, r is what restarts it now. A paused
    service restarts too, and s resumes it (the stack's start unpauses)."""
    from dataclasses import replace

    states = sample_states()
    states["nginx"] = replace(states["nginx"], state="restarting")
    states["redis"] = replace(states["redis"], state="paused")

    async def run() -> None:
        app, _, stack = offline_app(states)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("3")
            await pilot.pause(0.1)
            assert app.main.disabled_reason("shell") == (
                "nginx keeps exiting and Docker starts it again (its log says why): no shell until it runs; "
                "r restarts it now, s stops it")
            await pilot.press("r")
            await wait_until(pilot, lambda: stack.calls, 5, what="the restart of nginx")
            assert stack.calls == [("restart", ("nginx",))]
            await wait_until(pilot, lambda: "nginx" not in app.busy, 5, what="nginx no longer busy")
            await pilot.press("2")
            await pilot.pause(0.1)
            assert app.main.disabled_reason("shell") == "redis is paused: s resumes it"
            await pilot.press("s")
            await wait_until(pilot, lambda: len(stack.calls) == 2, 5, what="the start of redis")
            assert stack.calls[1] == ("start", ("redis",))

    run_sync(run())


def test_an_action_whose_compose_the_ending_console_stopped_is_recorded_cut_short() -> None:
    """QA: SIGTERM during the launch's `up` wrote 'up all services: done in 1.9s' in the activity
    log (compose, stopped by the ending console, exited 0) while nginx was never started. An action
    whose compose comes back after the console stopped it is recorded as cut short."""
    import time

    from uikit import MemoryActivity

    async def run() -> None:
        activity = MemoryActivity()
        stack = SlowStack("restart")
        app, _, _ = offline_app(stack=stack, activity=activity)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("2", "r")
            await wait_until(pilot, stack.started["restart"].is_set, 5, what="the restart running")
            app._children_stopped_at = time.monotonic()  # what cleanup does as it stops compose
            stack.release.set()
            await wait_until(pilot, lambda: any("restart redis" in e.text for e in activity.entries()), 5,
                             what="the restart recorded")
            said = [e.text for e in activity.entries() if "restart redis" in e.text]
            assert said == ["restart redis cut short after 0.1s: the console ended while it ran (compose stopped); run it again"], said
            # an action that ends before the console stops anything is done, as before
            app._children_stopped_at = None
            stack.started["restart"].clear()
            await pilot.press("r")
            await wait_until(pilot, stack.started["restart"].is_set, 5, what="the second restart")
            await wait_until(pilot, lambda: any(e.text.startswith("restart redis: done") for e in activity.entries()), 5,
                             what="the second restart recorded done")

    run_sync(run())


def test_q_during_a_compose_action_quits_when_it_ends_and_q_again_quits_now(capsys: pytest.CaptureFixture[str]) -> None:
    """QA: q 0.4 s into a recreate of postgres stopped compose half-way: the old container exited
    beside a renamed new one, the database down until the next up. q waits for the action (and
    says so, progress included); q again quits at once, as before."""
    from uikit import MemoryActivity

    async def waits() -> None:
        activity = MemoryActivity()
        stack = SlowStack("recreate")
        app, _, _ = offline_app(stack=stack, activity=activity)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("1", "R")
            await wait_until(pilot, stack.started["recreate"].is_set, 5, what="the recreate running")
            await pilot.press("q")
            await pilot.pause(0.3)
            assert app.is_running
            assert "⟳ quitting when recreate postgres ends; q again quits now" in app.main.activity.text.plain[:60], app.main.activity.text.plain
            from liar_tui.stack.model import ProgressEvent

            app.post_message(ActionProgressed("recreate", ProgressEvent("Container liar-game-postgres", "Starting")))
            await pilot.pause(0.1)
            assert app.main.activity.text.plain.endswith("Starting (then quitting)"), app.main.activity.text.plain
            stack.release.set()
            await wait_until(pilot, lambda: not app.is_running, 5, what="the console quitting after the recreate")
        assert app.return_code == 0
        left = capsys.readouterr().err  # what the console leaves on the terminal
        assert "liar-tui: ✓ recreate postgres: done" in left, left
        said = [e.text for e in activity.entries() if "recreate postgres" in e.text]
        assert said and said[0].startswith("recreate postgres: done"), said

    async def again() -> None:
        stack = SlowStack("recreate")
        app, _, _ = offline_app(stack=stack)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("1", "R")
            await wait_until(pilot, stack.started["recreate"].is_set, 5, what="the recreate running")
            await pilot.press("q")
            await pilot.pause(0.2)
            assert app.is_running
            await pilot.press("q")
            await wait_until(pilot, lambda: not app.is_running, 5, what="the console quitting at once")
            stack.release.set()

    async def unasked() -> None:
        # SIGTERM (or the terminal gone) ends the console as q does: the recreate finishes first
        import signal

        activity = MemoryActivity()
        stack = SlowStack("recreate")
        app, _, _ = offline_app(stack=stack, activity=activity)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("1", "R")
            await wait_until(pilot, stack.started["recreate"].is_set, 5, what="the recreate running")
            app.end_unasked("SIGTERM", signal.SIGTERM)
            await pilot.pause(0.2)
            assert app.is_running
            said = [e.text for e in activity.entries()]
            assert "console ended: SIGTERM; the running recreate postgres is finished first" in said, said
            stack.release.set()
            await wait_until(pilot, lambda: not app.is_running, 5, what="the console ending after the recreate")
        assert app.return_code == 128 + signal.SIGTERM

    run_sync(waits())
    run_sync(again())
    run_sync(unasked())


def test_up_and_down_wait_for_a_service_action_and_service_actions_wait_for_up() -> None:
    """QA: u pressed while R recreated postgres ran two composes on it: both failed ("No such
    container: <id>_liar-game-postgres") and postgres was left with no container. Up and down
    now wait for any action (and say which), actions wait for up or down, actions on different
    services still run side by side, and a shell (no compose) is not held up by an up."""
    def notes(app: LiarApp) -> list[str]:
        return [str(n.message) for n in app._notifications]

    async def run() -> None:
        stack = SlowStack("recreate", "up")
        app, _, _ = offline_app(stack=stack)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("1", "R")
            await wait_until(pilot, stack.started["recreate"].is_set, 5, what="the recreate running")
            assert app.main.check_action("up", ()) is None and app.main.check_action("down", ()) is None
            await pilot.press("u")
            await pilot.pause(0.2)
            assert ("up", ()) not in stack.calls
            assert "recreate postgres running: wait for it to finish" in notes(app), notes(app)
            # a backup of it would fail half-way, and a restore stops and starts it itself
            assert app.main.check_action("backup_service", ()) is None
            assert app.main.disabled_reason("backup_service") == "postgres is busy (recreate): wait for it to finish"
            await pilot.press("B")
            await pilot.pause(0.1)
            assert app.backup_job is None
            await pilot.press("V")
            await wait_until(pilot, lambda: isinstance(app.screen, BackupsScreen), 5, what="the Backups view")
            assert app.screen.disabled_reason("new") == "postgres is busy (recreate): wait for it to finish"
            await pilot.press("n")
            await pilot.pause(0.1)
            assert app.backup_job is None
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is app.main, 5, what="back to the main view")
            await pilot.press("2", "r")  # another service: side by side
            await wait_until(pilot, lambda: ("restart", ("redis",)) in stack.calls, 5, what="redis restarted meanwhile")
            stack.release.set()
            await wait_until(pilot, lambda: not app.busy, 5, what="the recreate done")
            stack.release.clear()
            await pilot.press("u")
            await wait_until(pilot, stack.started["up"].is_set, 5, what="the up running")
            assert app.main.check_action("restart", ()) is None
            assert app.main.check_action("shell", ()) is True  # docker exec: no compose to clash with
            await pilot.press("r")
            await pilot.pause(0.2)
            assert [c for c in stack.calls if c[0] == "restart"] == [("restart", ("redis",))]
            assert "the stack is busy (up): wait for it to finish" in notes(app), notes(app)
            stack.release.set()
            await wait_until(pilot, lambda: not app.busy, 5, what="the up done")
            assert app.main.check_action("restart", ()) is True

    run_sync(run())


def test_the_tick_after_the_last_screen_has_gone_does_not_raise() -> None:
    """CI: the 1 Hz tick came while the app was closing, after its last screen had gone; asking
    for the health view raised ScreenStackError out of the test's run."""
    async def run() -> None:
        app, _, _ = offline_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.2)
        assert not app._screen_stack
        assert app.health_view is None
        app._tick()

    run_sync(run())
