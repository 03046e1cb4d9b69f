"""Small modal screens: help, confirm down, health details, save log, how far back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from ...stack.logs import LogRange, parse_range
from ...stack.model import SERVICE_KIND, ServiceState, format_duration
from ..keys import KeyRow
from ..render import ports_text, status_text

def modal_css(name: str) -> str:
    """The shared modal look; DEFAULT_CSS is scoped to its class, so each modal gets its own copy."""
    return f"""
{name} {{ align: center middle; background: $background 60%; }}
{name} > Vertical {{
    width: 90%; max-width: 100; height: auto; max-height: 90%;
    border: round $accent; background: $surface; padding: 0 1;
}}
{name} Label.title {{ text-style: bold; width: 100%; content-align: center middle; }}
{name} Label.hint {{ color: $text-muted; }}
{name} Label.error {{ color: $error; }}
{name} Input {{ margin: 1 0 0 0; }}
"""


class HelpScreen(ModalScreen[None]):
    """Every key, built from the bindings (so a remapped key shows as remapped)."""

    DEFAULT_CSS = modal_css("HelpScreen") + """
    HelpScreen > Vertical { width: 100%; max-width: 110; }
    HelpScreen VerticalScroll { height: auto; max-height: 100%; }
    """
    BINDINGS = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close", id="help.close"),
        Binding("j,down", "scroll('down')", "Down", show=False),
        Binding("k,up", "scroll('up')", "Up", show=False),
    ]

    def __init__(self, rows: list[KeyRow]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("liar-tui keys", classes="title")
            with VerticalScroll(id="help-scroll"):
                yield Static(self._table(), id="help-table")
            yield Label("esc closes · ctrl+p lists every action · keys can be remapped by id in config.toml", classes="hint")

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
        scroll = self.query_one("#help-scroll", VerticalScroll)
        scroll.scroll_down() if direction == "down" else scroll.scroll_up()


class ConfirmDownScreen(ModalScreen[str | None]):
    """`D`: down keeps data; deleting data needs the project name typed in full."""

    DEFAULT_CSS = modal_css("ConfirmDownScreen") + """
    ConfirmDownScreen #volumes-box { display: none; height: auto; }
    ConfirmDownScreen.-volumes #volumes-box { display: block; }
    """
    AUTO_FOCUS = ""  # the name box is hidden until `v`: keys go to the bindings first
    BINDINGS = [
        Binding("y", "down", "Down (keep data)", id="down.confirm"),
        Binding("v", "volumes", "Down and delete data…", id="down.volumes"),
        Binding("escape,n", "cancel", "Cancel", id="down.cancel"),
    ]

    def __init__(self, project_name: str, data_dir: Path) -> None:
        super().__init__()
        self.project_name = project_name
        self.data_dir = data_dir

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Down {self.project_name}?", classes="title")
            yield Label("Stops and removes the containers and the network. Data stays in " f"{self.data_dir}.")
            yield Label("y: down (keep data)   v: down and DELETE ALL DATA…   esc/n: cancel", classes="hint")
            with Vertical(id="volumes-box"):
                yield Label(f"Type the project name ({self.project_name}) and press enter to delete all data:", classes="error")
                yield Input(placeholder=self.project_name, id="confirm-name")
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


class HealthScreen(ModalScreen[None]):
    """Health on demand: failing streak and the last check outputs (redacted), freshly inspected."""

    DEFAULT_CSS = modal_css("HealthScreen") + """
    HealthScreen VerticalScroll { height: auto; max-height: 100%; }
    """
    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close", id="health.close")]

    def __init__(self, state: ServiceState, redact: Callable[[str], str]) -> None:
        super().__init__()
        self.state = state
        self.redact = redact

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"{self.state.service} · {SERVICE_KIND.get(self.state.service, '')}", classes="title")
            with VerticalScroll():
                yield Static(self._body(), id="health-body")
            yield Label("inspecting…", id="health-hint", classes="hint")

    def show(self, state: ServiceState) -> None:
        self.state = state
        self.query_one("#health-body", Static).update(self._body())
        now_wall, _ = self._now()
        self.query_one("#health-hint", Label).update(f"inspected {now_wall.strftime('%H:%M:%S')} UTC · esc closes")

    def _now(self) -> tuple[datetime, float]:
        clock = getattr(self.app, "clock", None)
        if clock is not None:
            return clock()
        now = datetime.now(timezone.utc)
        return now, now.timestamp()

    def _body(self) -> Text:
        st = self.state
        out = Text()
        out.append_text(status_text(st))
        out.append(f"\ncontainer {st.container_name or '-'} ({st.container_id[:12] or '-'})")
        out.append(f"\nimage {st.image or '-'}")
        out.append(f"\nports {ports_text(st)}")
        up = st.uptime_seconds(self._now()[0])
        out.append(f"\nuptime {format_duration(up)} · restarts {st.restart_count}")
        if st.state == "exited":
            out.append(f"\nexit code {st.exit_code}" + (" (OOM killed)" if st.oom_killed else ""))
        if st.error:
            out.append(f"\nerror: {self.redact(st.error)}", style="red")
        h = st.health
        out.append(f"\n\nhealth {h.status} · failing streak {h.failing_streak}\n", style="bold")
        if not h.log:
            out.append("no health checks recorded" if h.status != "none" else "this service has no healthcheck", style="dim")
        for check in reversed(h.log):
            when = check.end or check.start
            stamp = when.astimezone(timezone.utc).strftime("%H:%M:%S") if when else "--:--:--"
            took = f"{(check.end - check.start).total_seconds():.2f}s" if check.end and check.start else ""
            ok = check.exit_code == 0
            out.append(f"\n{stamp} exit {check.exit_code} {took}", style="green" if ok else "bold red")
            output = self.redact(check.output.strip())
            if output:
                for line in output.splitlines()[-6:]:
                    out.append(f"\n    {line[:300]}", style="dim" if ok else "")
        return out


class SaveLogScreen(ModalScreen[Path | None]):
    """`w`: where to write the visible log."""

    DEFAULT_CSS = modal_css("SaveLogScreen")
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="save.cancel")]

    def __init__(self, default: Path, lines: int) -> None:
        super().__init__()
        self.default = default
        self.lines = lines

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Save the visible log", classes="title")
            yield Label(f"{self.lines:,} lines (after the filter, secrets redacted). enter saves, esc cancels.", classes="hint")
            yield Input(value=str(self.default), id="save-path")

    @on(Input.Submitted, "#save-path")
    def _submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        self.dismiss(Path(value).expanduser() if value else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class LogRangeScreen(ModalScreen[LogRange | None]):
    """`b`: how far back the log starts: a line count, 'all', or a duration."""

    DEFAULT_CSS = modal_css("LogRangeScreen")
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="range.cancel")]

    def __init__(self, current: LogRange) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("How far back?", classes="title")
            yield Label("a line count (200, 5000), all, or a duration (30s, 10m, 2h, 1d)", classes="hint")
            value = "all" if self.current.tail is None and self.current.since_seconds is None else (
                str(self.current.tail) if self.current.since_seconds is None else self.current.describe().split()[-1]
            )
            yield Input(value=value, id="range-input")
            yield Label("", id="range-error", classes="error")

    @on(Input.Submitted, "#range-input")
    def _submitted(self, event: Input.Submitted) -> None:
        try:
            self.dismiss(parse_range(event.value))
        except ValueError as exc:
            self.query_one("#range-error", Label).update(str(exc))

    def action_cancel(self) -> None:
        self.dismiss(None)
