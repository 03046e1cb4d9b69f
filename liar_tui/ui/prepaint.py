"""The first frame, drawn before Textual has loaded.

Importing Textual and building the console's first frame takes ~350-550 ms here (a bare Textual
app alone ~360 ms). The engine's answer is there after ~100 ms: the monitor starts before Textual
is imported. So a small thread waits for the monitor's first inspect of every service and draws
it at once on the alternate screen, in plain ANSI (no Rich, no Textual): the project, the engine,
and one row per service with its status word and uptime, as the compact table shows them. Textual's
first frame then paints over every cell.

Two rules keep the terminal right:
* nothing is written once the console takes over: `handover()` (called just before the app runs)
  closes the pre-paint under the same lock the painter writes under;
* the terminal enters the alternate screen once: Textual's driver would enter it again, and xterm
  would then save the alternate screen's cursor as the one to restore at exit, so the driver used
  after a pre-paint drops its first "enter alternate screen". If the console never starts,
  `restore()` leaves the alternate screen.

Only on a POSIX terminal (stdout a TTY, TERM not dumb) with Textual's own driver; NO_COLOR gives
plain text.
"""

from __future__ import annotations

import os
import sys
import threading
from datetime import datetime, timezone
from typing import Any

from ..stack.model import SERVICES, ServiceState, format_duration
from .statusword import SERVICE_COLOURS, status_word

ALT_SCREEN_ON = "\x1b[?1049h"
ALT_SCREEN_OFF = "\x1b[?1049l"
HIDE_CURSOR = "\x1b[?25l"
SHOW_CURSOR = "\x1b[?25h"
#: How long the painter waits for the engine's first answer before giving up quietly.
WAIT_FOR_STATE = 1.0

_SGR = {"bold green": "1;32", "green": "32", "bold yellow": "1;33", "bold red": "1;31", "dim": "2"}
_BRIGHT_SGR = {"bright_blue": "1;94", "bright_red": "1;91", "bright_green": "1;92", "bright_magenta": "1;95"}
_SERVICE_SGR = {service: _BRIGHT_SGR.get(colour, "") for service, colour in SERVICE_COLOURS.items()}


def _paint(text: str, sgr: str, colour: bool) -> str:
    return f"\x1b[{sgr}m{text}\x1b[0m" if colour and sgr else text


def render_frame(
    project: str,
    engine: str,
    states: dict[str, ServiceState],
    width: int,
    *,
    colour: bool = True,
    now: datetime | None = None,
) -> list[str]:
    """The pre-paint's lines: a title line, a blank line, one row per service (at most `width`
    cells each; every character used is one cell wide)."""
    now = now or datetime.now(timezone.utc)

    def cut(plain: str, painted: str) -> str:
        return painted if len(plain) <= width else plain[:width]

    title = f" liar-tui │ {project} │ {engine} │ starting the console…"
    lines = [cut(title, _paint(title, "1", colour)), ""]
    for service in SERVICES:
        st = states.get(service, ServiceState(service=service))
        word, style = status_word(st)
        up = st.uptime_seconds(now)
        uptime = f"up {format_duration(up)}" if up is not None else ""
        plain = f"  {service:<9} {word:<16} {uptime}".rstrip()
        painted = (
            f"  {_paint(service, _SERVICE_SGR.get(service, ''), colour)}{' ' * (9 - len(service))} "
            f"{_paint(word, _SGR.get(style, ''), colour)}{' ' * (16 - len(word))} {uptime}"
        ).rstrip()
        lines.append(cut(plain, painted))
    return lines


class PrePaint:
    """Draws render_frame() once the monitor has inspected every service, unless the console has
    taken over first. One per launch."""

    def __init__(self, monitor: Any, project: str, fd: int, *, colour: bool = True) -> None:
        self._monitor = monitor
        self._project = project
        self._fd = fd
        self._colour = colour
        self._lock = threading.Lock()
        self._closed = False
        self.painted = False
        self.taken_over = False  # the console's driver has the alternate screen
        self._thread = threading.Thread(target=self._run, name="prepaint", daemon=True)

    @classmethod
    def for_terminal(cls, monitor: Any, project: str) -> "PrePaint | None":
        """A PrePaint for this process's terminal, or None where it does not apply."""
        if os.name != "posix" or os.environ.get("TEXTUAL_DRIVER") or os.environ.get("TERM", "") in ("", "dumb"):
            return None
        try:
            fd = sys.__stdout__.fileno() if sys.__stdout__ is not None else -1
        except (OSError, ValueError):
            return None
        if fd < 0 or not os.isatty(fd):
            return None
        return cls(monitor, project, fd, colour="NO_COLOR" not in os.environ)

    def start(self) -> "PrePaint":
        self._thread.start()
        return self

    def _run(self) -> None:
        initial = getattr(self._monitor, "initial", None)
        if initial is None or not initial.wait(WAIT_FOR_STATE):
            return
        status = getattr(self._monitor, "engine_status", None)
        info = getattr(status, "info", None)
        engine = f"docker {info.version.split('+')[0]}" if info is not None else "docker"
        try:
            width, height = os.get_terminal_size(self._fd)
        except OSError:
            return
        lines = render_frame(self._project, engine, self._monitor.states(), width, colour=self._colour)[:height]
        data = (ALT_SCREEN_ON + HIDE_CURSOR + "\x1b[H\x1b[2J" + "\r\n".join(lines)).encode()
        with self._lock:
            if self._closed:
                return
            try:
                os.write(self._fd, data)
            except OSError:
                return
            self.painted = True

    def handover(self) -> bool:
        """The console is about to start: no painting after this. True when a frame was drawn."""
        with self._lock:
            self._closed = True
            return self.painted

    def driver_class(self) -> type:
        """The console's driver (ui/driver.py), minus its first 'enter alternate screen'."""
        from .driver import QuietInputDriver

        prepaint = self

        class PrePaintedDriver(QuietInputDriver):
            def write(self, data: str) -> None:
                if not prepaint.taken_over and ALT_SCREEN_ON in data:
                    prepaint.taken_over = True
                    data = data.replace(ALT_SCREEN_ON, "", 1)
                super().write(data)

        return PrePaintedDriver

    def restore(self) -> None:
        """After the console: if it never took the alternate screen over, leave it here."""
        if self.painted and not self.taken_over:
            try:
                os.write(self._fd, (SHOW_CURSOR + ALT_SCREEN_OFF).encode())
            except OSError:
                pass
