"""Textual's Linux driver with an input thread that sleeps while nothing is typed.

Textual's input thread waits for the terminal with a 0.1 s timeout, so that a lone Esc (which
could be the start of an escape sequence) is delivered once no more bytes follow. It wakes ten
times a second for that even when no key was pressed: 0.2% of a core on this machine, a tenth of
the idle console's budget (2%). Here it waits with that timeout only while the parser holds such
a partial sequence, and otherwise until a key comes or input is disabled (quitting, or
suspending for a shell), which wakes it through a pipe.

The loop is Textual's own (textual is pinned exactly in pyproject.toml); when the parser has no
`_timeout_time` (another Textual), it falls back to Textual's 0.1 s.

When the terminal goes away (read says end of file or EIO: an SSH connection dropped while
SIGHUP was ignored, `nohup`), Textual's loop went on selecting a descriptor that is always
ready: 64% of a core for ever, with nobody to see it. Here the thread stops reading and tells
the app (TerminalGone), which ends the console as a hangup does. A write to the gone terminal
(EIO) killed Textual's writer thread, and the console then hung for ever on its full queue
when it ended: writes go through `_TerminalFile`, which drops them and tells the app instead.
"""

from __future__ import annotations

import os
import selectors
from codecs import getincrementaldecoder
from collections.abc import Callable
from typing import Any

from textual._loop import loop_last
from textual._parser import ParseError
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

#: Textual's own timeout, used while a partial escape sequence waits for its next byte.
TICK = 0.1
_MISSING = object()


class _InputEnded(Exception):
    """The terminal's input is at its end: nobody can type into this console any more."""


class _TerminalFile:
    """The terminal as Textual's writer thread sees it: a write or flush that fails (EIO, the
    terminal hung up) calls `gone` once and drops what is written from then on."""

    def __init__(self, file: Any, gone: Callable[[], None]) -> None:
        self._file = file
        self._gone = gone
        self._dead = False

    def write(self, text: str) -> int:
        if not self._dead:
            try:
                return self._file.write(text)
            except (OSError, ValueError):
                self._lost()
        return len(text)

    def flush(self) -> None:
        if not self._dead:
            try:
                self._file.flush()
            except (OSError, ValueError):
                self._lost()

    def _lost(self) -> None:
        self._dead = True
        self._gone()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


class QuietInputDriver(LinuxDriver):
    _wake_fd: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # a wrapper with the file's calls, typed as Textual's file
        self._file = _TerminalFile(self._file, lambda: self._terminal_gone("a write to it failed"))  # type: ignore[assignment]

    def _terminal_gone(self, how: str) -> None:
        from .messages import TerminalGone

        self._app.post_message(TerminalGone(f"its terminal went away ({how})"))

    def disable_input(self) -> None:
        wake = self._wake_fd
        if wake is not None:
            try:
                os.write(wake, b"x")  # the input thread is in select(): wake it to see exit_event
            except OSError:
                pass
        super().disable_input()

    def run_input_thread(self) -> None:
        selector = selectors.SelectSelector()
        fileno = self.fileno
        EVENT_READ = selectors.EVENT_READ
        selector.register(fileno, EVENT_READ)
        wake_r, wake_w = os.pipe()
        selector.register(wake_r, EVENT_READ)
        self._wake_fd = wake_w

        parser = XTermParser(self._debug)
        feed = parser.feed
        tick = parser.tick
        decode = getincrementaldecoder("utf-8")().decode
        read = os.read

        def process(ready: list[tuple[Any, int]], final: bool = False) -> bool:
            """Handle what select() returned; True when the wake pipe was written."""
            woken = False
            for last, (key, mask) in loop_last(ready):
                if key.fd == wake_r:
                    os.read(wake_r, 64)
                    woken = True
                    continue
                if mask & EVENT_READ:
                    try:
                        data = read(fileno, 1024 * 4)
                    except OSError:
                        data = b""  # EIO: the terminal hung up
                    if not data:
                        raise _InputEnded
                    unicode_data = decode(data, final=final and last)
                    for event in feed(unicode_data):
                        self.process_message(event)
            for event in tick():
                self.process_message(event)
            return woken

        def timeout() -> float | None:
            pending = getattr(parser, "_timeout_time", _MISSING)
            return None if pending is None else TICK

        try:
            while not self.exit_event.is_set():
                if process(selector.select(timeout())):
                    # disable_input writes the pipe just before it sets exit_event
                    self.exit_event.wait(1.0)
            process(selector.select(TICK), final=True)
        except _InputEnded:
            self._terminal_gone("input ended")
        finally:
            self._wake_fd = None
            selector.close()
            os.close(wake_r)
            os.close(wake_w)
            try:
                for _event in feed(""):
                    pass
            except (EOFError, ParseError):
                pass
