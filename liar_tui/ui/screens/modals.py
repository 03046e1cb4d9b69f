"""Small modal screens: help, confirm down, save log, how far back (the health view: health.py)."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from ...stack.logs import LogRange, parse_range
from ..keys import KeyRow
from ..widgets.inputs import OrderedInput
from ..widgets.scrolling import KeyVerticalScroll
from .style import Dialog, ToastsClearOfDialog, fit_body, modal_css


class HelpScreen(ToastsClearOfDialog, ModalScreen[None]):
    """Every key, built from the bindings (so a remapped key shows as remapped)."""

    DEFAULT_CSS = modal_css("HelpScreen", dialog=True) + """
    HelpScreen > Vertical { width: 100%; max-width: 110; }
    HelpScreen VerticalScroll { height: auto; }
    HelpScreen Label.hint { width: 100%; }
    """
    BINDINGS = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close", id="help.close", tooltip="Help: close"),
        Binding("j,down", "scroll('down')", "Down", show=False, id="help.down", tooltip="Help: scroll down"),
        Binding("k,up", "scroll('up')", "Up", show=False, id="help.up", tooltip="Help: scroll up"),
    ]

    def __init__(self, rows: list[KeyRow]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Dialog():
            yield Label("liar-tui keys", classes="title")
            with KeyVerticalScroll(id="help-scroll"):
                yield Static(self._table(), id="help-table")
            yield Label("esc closes · ctrl+p lists every action · keys can be remapped by id in config.toml", classes="hint")

    def on_mount(self) -> None:
        self.call_after_refresh(self._fit_body)

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_body)

    def _fit_body(self) -> None:
        # the table scrolls inside what the title and the hint leave: all of it in view, so a
        # page down moves by exactly the rows shown
        if self.query("#help-scroll"):
            fit_body(self, self.query_one("#help-scroll", KeyVerticalScroll), self.query_one(".title", Label),
                     self.query_one(".hint", Label))

    def _table(self) -> Table:
        table = Table(box=None, show_header=True, expand=True, padding=(0, 1))
        table.add_column("key", style="bold cyan", no_wrap=True)
        table.add_column("action", ratio=1)
        table.add_column("id", style="dim", no_wrap=True, overflow="ellipsis", max_width=24)
        section = ""
        for row in self.rows:
            if row.section != section:
                section = row.section
                table.add_row(Text(section, style="bold underline"), "", "")
            table.add_row(row.keys, row.description, row.binding_id)
        return table

    def action_scroll(self, direction: str) -> None:
        scroll = self.query_one("#help-scroll", KeyVerticalScroll)
        scroll.action_scroll_down() if direction == "down" else scroll.action_scroll_up()


class ConfirmDownScreen(ToastsClearOfDialog, ModalScreen[str | None]):
    """`D`: down keeps data; deleting data needs the project name typed in full."""

    DEFAULT_CSS = modal_css("ConfirmDownScreen", dialog=True) + """
    ConfirmDownScreen #volumes-box { display: none; height: auto; }
    ConfirmDownScreen.-volumes #volumes-box { display: block; }
    """
    AUTO_FOCUS = ""  # the name box is hidden until `v`: keys go to the bindings first
    BINDINGS = [
        Binding("y", "down", "Down (keep data)", id="down.confirm", tooltip="Down dialog: down, data kept"),
        Binding("v", "volumes", "Down and delete data…", id="down.volumes",
                tooltip="Down dialog: down and delete the data (type the project name, then enter)"),
        Binding("escape,n", "cancel", "Cancel", id="down.cancel", tooltip="Down dialog: cancel"),
    ]

    def __init__(self, project_name: str, data_dir: Path) -> None:
        super().__init__()
        self.project_name = project_name
        self.data_dir = data_dir

    def compose(self) -> ComposeResult:
        with Dialog():
            yield Label(f"Down {self.project_name}?", classes="title")
            yield Label("Stops and removes the containers and the network. Data stays in " f"{self.data_dir}.")
            yield Label("y: down (keep data)   v: down and DELETE ALL DATA…   esc/n: cancel", classes="hint")
            with Vertical(id="volumes-box"):
                yield Label(f"type {self.project_name} to confirm, then enter deletes all data:", classes="error")
                # no placeholder: a greyed name in the box reads as already typed
                yield OrderedInput(id="confirm-name")
                yield Label("", id="confirm-error", classes="error")

    def action_down(self) -> None:
        if not self.has_class("-volumes"):
            self.dismiss("down")

    def action_volumes(self) -> None:
        self.add_class("-volumes")
        self.call_after_refresh(self.query_one("#confirm-name", Input).focus)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted, "#confirm-name")
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.project_name:
            self.dismiss("volumes")
        else:
            self.query_one("#confirm-error", Label).update("that is not the project name: nothing will be deleted")


def save_failure(path: Path, error: str) -> str:
    """One line: why `path` could not be written (the OS's words) and what to change. The OS
    says 'No such file or directory' for a folder that is there but takes no files (/proc)."""
    parent = path.parent
    try:
        if not parent.exists():
            return f"could not save: no folder {parent}, nor could it be made ({error}): pick another folder"
        if not parent.is_dir():
            return f"could not save: {parent} is a file, not a folder: pick a folder"
    except OSError:
        pass
    else:
        if error == os.strerror(errno.ENOENT):
            return f"could not save: {parent} takes no files ({error}): pick another folder"
    return f"could not save to {path}: {error}: change the name or folder"


class SaveLogScreen(ToastsClearOfDialog, ModalScreen[Path | None]):
    """`w`: where to write the visible log. The dialog stays open until the file is written: an
    existing file is overwritten only after a second enter on the same path, and a failed save
    says why here, so the name can be changed."""

    DEFAULT_CSS = modal_css("SaveLogScreen", dialog=True) + """
    SaveLogScreen #save-error { width: 100%; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="save.cancel", tooltip="Save dialog: cancel (enter saves)")]

    def __init__(self, default: Path, lines: int, save: Callable[[Path, bool, "SaveLogScreen"], None] | None = None) -> None:
        super().__init__()
        self.default = default
        self.lines = lines
        self._save = save
        self._confirm: Path | None = None  # an existing file enter was pressed on once

    def compose(self) -> ComposeResult:
        with Dialog():
            yield Label("Save the visible log", classes="title")
            yield Label(f"{self.lines:,} lines (after the filter, secrets redacted). enter saves, esc cancels.", classes="hint")
            yield OrderedInput(value=str(self.default), id="save-path")
            yield Label("", id="save-error", classes="error")

    @on(Input.Submitted, "#save-path")
    def _submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        label = self.query_one("#save-error", Label)
        if not value:
            label.update("give a file name (esc cancels)")
            return
        try:
            path = Path(value).expanduser()
        except RuntimeError:  # `~name` with no such user (it took the console down)
            user = value.split("/", 1)[0]
            label.update(f"{user}: no such user: write the folder out in full")
            return
        if not path.is_absolute():
            path = Path.cwd() / path
        try:
            # QA: `/tmp/logs/` (not there yet) was saved as a file named `logs`
            is_folder = value.endswith(("/", os.sep)) or path.is_dir()
        except OSError:
            is_folder = False
        if is_folder:
            # said at once (it used to ask to overwrite first, and only then fail), with the
            # default name put after the folder: one more enter saves there
            self._confirm = None
            event.input.value = str(path / self.default.name)
            event.input.cursor_position = len(event.input.value)
            label.update(f"{path} is a folder: enter saves in it as {self.default.name}")
            return
        if self._save is None:
            self.dismiss(path)
            return
        overwrite = path == self._confirm
        self.query_one("#save-error", Label).update("")
        self._save(path, overwrite, self)

    def save_refused(self, path: Path, error: str = "", exists: bool = False) -> None:
        """The save did not happen: `path` exists (a second enter on it overwrites), or `error`."""
        label = self.query_one("#save-error", Label)
        if exists:
            self._confirm = path
            label.update(f"{path} exists: enter again to overwrite, or change the name")
        else:
            self._confirm = None
            label.update(save_failure(path, error))

    def action_cancel(self) -> None:
        self.dismiss(None)


class LogRangeScreen(ToastsClearOfDialog, ModalScreen[LogRange | None]):
    """`b`: how far back the log starts: a line count, 'all', or a duration."""

    DEFAULT_CSS = modal_css("LogRangeScreen", dialog=True)
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="range.cancel", tooltip="How-far-back dialog: cancel (enter applies)")]

    def __init__(self, current: LogRange) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Dialog():
            yield Label("How far back?", classes="title")
            yield Label("a line count (200, 5000), all, a duration (30s, 10m, 2h, 1d) or a date (2026-11-27T10:00)", classes="hint")
            yield OrderedInput(value=self.current.as_input(), id="range-input")
            yield Label("", id="range-error", classes="error")

    @on(Input.Submitted, "#range-input")
    def _submitted(self, event: Input.Submitted) -> None:
        try:
            self.dismiss(parse_range(event.value))
        except ValueError as exc:
            self.query_one("#range-error", Label).update(str(exc))

    def action_cancel(self) -> None:
        self.dismiss(None)


def __getattr__(name: str) -> object:
    # HealthScreen lived here; it moved to health.py, which loads only when the view first opens.
    if name == "HealthScreen":
        from .health import HealthScreen

        return HealthScreen
    raise AttributeError(name)
