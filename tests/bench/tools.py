"""The three consoles the benchmark runs, and how to read each one's screen.

Each Tool knows its command line, what text in its pane means "this service exited", "this
service is up" and "all four services are shown with live state and health", which key it is timed
with during a log burst and how that key visibly changes its screen, and how to put the burst
service's log on screen. Everything is read from plain `tmux capture-pane -p` text.

Per-tool choices (they are printed with the results):

* liar-tui: `3` selects nginx, whose log the view then follows. Key: `t` (timestamps on/off in
  the log view; the log bar shows `ts`). Exited: the pane's status reads `● exited (137)`.
* lazydocker: `2` focuses the Services panel, `Down` selects nginx (sorted: minio, nginx, ...),
  whose log fills the main panel. Key: `x` opens the Menu popup, `Escape` closes it. Exited: the
  service's row reads `exited (137)`.
* dtop: it lists every container of the engine and shows no health, so its "first frame" is all
  four containers shown `running`. For the burst, `\\` filters to the nginx container and `l`
  opens its log view. Key: `w` (wrap on/off; the status line shows `W:Y`/`W:N`). Exited: the
  container's row reads `exited`.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))

import liarscreen  # noqa: E402
from tmuxkit import TmuxServer  # noqa: E402

SERVICES = liarscreen.SERVICES
BURST_SERVICE = "nginx"


@dataclass
class Target:
    """The stack under test, as the tools need it."""

    project: str
    root: Path  # the project copy (compose/, nginx/)
    compose_files: list[Path]

    def container(self, service: str) -> str:
        return f"{self.project}-{service}"


@dataclass
class Tool:
    name: str
    command: Callable[[Target], list[str]]
    cwd: Callable[[Target], Path]
    status: Callable[[str, Target, str], str | None]  # (screen, target, service) -> status text
    is_exited: Callable[[str], bool]
    is_up: Callable[[str], bool]  # shown running and (where the tool shows health) healthy
    health_shown: bool
    key: str  # pressed during the burst
    key_back: str  # pressed to undo it (the same key for a toggle)
    key_state: Callable[[str], bool | None]  # which way the toggle is now; None: the screen cannot tell
    key_text: str  # for the report
    show_burst_log: Callable[[TmuxServer, str, Target], None]  # before idle: burst service's log on screen
    open_burst_view: Callable[[TmuxServer, str, Target], None]  # right before the bursts
    quit_keys: list[str] = field(default_factory=lambda: ["q"])
    env: dict[str, str] = field(default_factory=dict)
    notes: str = ""
    #: The console itself is up (keys work), when that comes after the first live frame: liar-tui
    #: draws the engine's answer before Textual has loaded (its pre-paint). None: the first frame.
    console_ready: Callable[[str], bool] | None = None
    #: False for the floor: it shows no log, so a burst's end is when its writer has finished.
    follows_logs: bool = True

    def first_frame(self, screen: str, target: Target) -> bool:
        for service in SERVICES:
            status = self.status(screen, target, service)
            if status is None or not self.is_up(status):
                return False
        return True


# -- liar-tui --------------------------------------------------------------------------------------
def _liar_command(executable: str) -> Callable[[Target], list[str]]:
    def command(t: Target) -> list[str]:
        return [executable, "--project-dir", str(t.root), "--project-name", t.project, "--no-up"]

    return command


def _liar_show_burst_log(tmux: TmuxServer, session: str, t: Target) -> None:
    tmux.send_keys(session, "3")
    tmux.wait_for(session, lambda s: liarscreen.log_target(s) == BURST_SERVICE, timeout=10, what="the nginx log")


def _liar_key_state(screen: str) -> bool | None:
    return liarscreen.timestamps_on(screen) if liarscreen.log_bar(screen) else None


def liar_tui(executable: str) -> Tool:
    return Tool(
        name="liar-tui",
        command=_liar_command(executable),
        cwd=lambda t: t.root,
        status=lambda screen, t, svc: liarscreen.service_status(screen, svc),
        is_exited=lambda s: s.startswith("exited"),
        is_up=lambda s: s == "healthy",
        health_shown=True,
        key="t",
        key_back="t",
        key_state=_liar_key_state,
        key_text="t (log timestamps on/off; the log bar shows 'ts')",
        show_burst_log=_liar_show_burst_log,
        open_burst_view=lambda tmux, session, t: None,
        # No user config file may change what is measured.
        env={"LIAR_TUI_CONFIG": "/nonexistent/liar-tui.toml"},
        notes="--no-up; 3 selects nginx (its log followed); stats 1 Hz",
        console_ready=liarscreen.console_ready,
    )


# -- the floor: a bare Textual app ------------------------------------------------------------------
class FloorTool(Tool):
    """Launch only: its first frame is its one line of text."""

    def first_frame(self, screen: str, target: Target) -> bool:
        return FLOOR_READY in screen


FLOOR_READY = "textual floor: first frame"


def textual_floor(python: str) -> Tool:
    app = str(HERE / "floor_app.py")
    return FloorTool(
        name="textual-floor",
        command=lambda t: [python, app],
        cwd=lambda t: t.root,
        status=lambda screen, t, svc: None,
        is_exited=lambda s: False,
        is_up=lambda s: False,
        health_shown=False,
        key="t",
        key_back="t",
        key_state=lambda s: True if "floor key: on" in s else False if "floor key: off" in s else None,
        key_text="t (flips 'floor key: on/off')",
        show_burst_log=lambda tmux, session, t: None,
        open_burst_view=lambda tmux, session, t: None,
        notes="a bare Textual app (one Static and a toggle), launched the same way: what Textual alone costs here",
        follows_logs=False,
    )


# -- lazydocker ------------------------------------------------------------------------------------
_LAZY_ROW = re.compile(r"^([a-z]+(?:\s+\([^)]*\))?)\s+(\S+)")


def lazydocker_status(screen: str, t: Target, service: str) -> str | None:
    """The row of `service` in the Services panel: 'running (healthy)', 'exited (137)'."""
    inside = False
    for line in screen.splitlines():
        if line.startswith("╭") and "Services" in line.split("╮")[0]:
            inside = True
            continue
        if inside:
            if line.startswith("╰"):
                break
            cells = line.split("│")
            if len(cells) < 3:
                continue
            m = _LAZY_ROW.match(cells[1])
            if m and m.group(2) == service:
                return " ".join(m.group(1).split())  # 'exited  (137)' -> 'exited (137)'

    return None


def _lazy_selected_row(screen_with_escapes: str) -> str | None:
    """The service whose Services row is highlighted (lazydocker marks it with a blue background)."""
    for line in screen_with_escapes.splitlines():
        if "\x1b[44m" in line:
            plain = re.sub(r"\x1b\[[0-9;]*m", "", line)
            cells = plain.split("│")
            m = _LAZY_ROW.match(cells[1]) if len(cells) > 2 else None
            if m and m.group(2) in SERVICES:
                return m.group(2)
    return None


def _lazy_show_burst_log(tmux: TmuxServer, session: str, t: Target) -> None:
    tmux.send_keys(session, "2")  # focus the Services panel (minio selected: rows are sorted by name)
    tmux.wait_for(session, lambda s: _lazy_selected_row(s) is not None, escapes=True, timeout=10,
                  what="lazydocker's Services panel focused")
    for _ in range(len(SERVICES)):
        current = _lazy_selected_row(tmux.capture(session, escapes=True))
        if current == BURST_SERVICE:
            return
        tmux.send_keys(session, "Down")
        tmux.wait_for(session, lambda s: _lazy_selected_row(s) not in (None, current), escapes=True, timeout=20,
                      interval=0.05, what="lazydocker moving its selection")
    raise RuntimeError("could not select nginx in lazydocker's Services panel")


def _lazy_key_state(screen: str) -> bool | None:
    if "─Menu─" in screen:
        return True
    # closed only when the Services panel shows (not a frame caught half-drawn)
    return False if "Services" in screen and "Logs" in screen else None


def lazydocker(executable: str) -> Tool:
    return Tool(
        name="lazydocker",
        command=lambda t: [executable, *sum((["-f", str(f)] for f in t.compose_files), []), "-p", t.project],
        cwd=lambda t: t.root / "compose",
        status=lazydocker_status,
        is_exited=lambda s: s.startswith("exited"),
        is_up=lambda s: s == "running (healthy)",
        health_shown=True,
        key="x",
        key_back="Escape",
        key_state=_lazy_key_state,
        key_text="x opens the Menu popup, Escape closes it",
        show_burst_log=_lazy_show_burst_log,
        open_burst_view=lambda tmux, session, t: None,
        quit_keys=["Escape", "q"],  # close a popup first
        notes="-f compose files -p project; Services panel focused, nginx selected (its log in the main panel)",
    )


# -- dtop ------------------------------------------------------------------------------------------
def dtop_status(screen: str, t: Target, service: str) -> str | None:
    name = t.container(service)
    for line in screen.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == name:
            return parts[2]
    return None


def _dtop_open_burst_view(tmux: TmuxServer, session: str, t: Target) -> None:
    name = t.container(BURST_SERVICE)
    tmux.send_keys(session, "\\")
    time.sleep(0.3)
    tmux.send_keys(session, name, literal=True)
    time.sleep(0.3)
    tmux.send_keys(session, "Enter")
    tmux.wait_for(
        session,
        lambda s: sum(1 for line in s.splitlines() if line.split()[:1] and line.split()[0].startswith(t.project + "-")) == 1,
        timeout=15,
        what="dtop filtered to the nginx container",
    )
    time.sleep(0.5)
    tmux.send_keys(session, "l")
    tmux.wait_for(session, lambda s: f"Logs: {name}" in s, timeout=15, what="dtop's log view of nginx")


def dtop(executable: str) -> Tool:
    return Tool(
        name="dtop",
        command=lambda t: [executable],
        cwd=lambda t: t.root,
        status=dtop_status,
        is_exited=lambda s: s.startswith("exited"),
        is_up=lambda s: s == "running",
        health_shown=False,
        key="w",
        key_back="w",
        key_state=lambda screen: True if "W:Y" in screen else False if "W:N" in screen else None,
        key_text="w in its log view (wrap on/off; the status line shows W:Y / W:N)",
        show_burst_log=lambda tmux, session, t: None,
        open_burst_view=_dtop_open_burst_view,
        notes="lists every container of the engine and shows no health; its log view (filter to nginx, l) for the bursts",
    )
