"""Drive terminal programs in a private tmux server: start them at a fixed size, type, read the screen.

Used by the tmux end-to-end tests, the console benchmark (tests/bench/bench_console.py) and the
screenshot script. Every TmuxServer has its own socket (`tmux -L NAME`), so it never touches a tmux
the user or another test runs, and `close()` (kill-server) ends every pane it started.

Reading the screen is the hot path of the benchmark: `capture()` and `send_keys()` go through one
tmux control-mode client (`tmux -C`) attached to an idle helper session, so a poll is one line
written to a pipe instead of a fork+exec of the tmux client. The helper session keeps the control
client away from the measured windows, whose size therefore stays exactly what `new_session` set.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")

_SAFE = re.compile(r"^[A-Za-z0-9_./:=+,@%-]+$")


def tmux_quote(arg: str) -> str:
    """Quote one argument for tmux's command parser (which follows sh's quoting rules)."""
    if arg and _SAFE.match(arg):
        return arg
    return "'" + arg.replace("'", "'\\''") + "'"


def terminal_env() -> dict[str, str]:
    """TERM/COLORTERM every program gets inside the panes: 256 colours plus 24-bit colour."""
    term = "tmux-256color"
    if subprocess.run(["infocmp", term], capture_output=True).returncode != 0:
        term = "screen-256color"
    return {"TERM": term, "COLORTERM": "truecolor", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


@dataclass
class Waited:
    """What `wait_for` saw: the matching screen and how long after `since` it was first seen."""

    screen: str
    seconds: float
    polls: int


class TmuxError(RuntimeError):
    pass


class TmuxServer:
    """A private tmux server. Use as a context manager; `close()` kills it (and every pane)."""

    def __init__(self, name: str | None = None) -> None:
        if shutil.which("tmux") is None:
            raise TmuxError("tmux is not installed (apt-get install tmux)")
        self.name = name or f"liar-tui-{os.getpid()}-{secrets.token_hex(3)}"
        self.base = ["tmux", "-L", self.name, "-f", "/dev/null"]
        self._ctl: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.poll_seconds: list[float] = []  # round trips of capture(), to state the poll overhead
        self.unsolicited: list[str] = []

    # -- lifecycle ---------------------------------------------------------------------------------
    def __enter__(self) -> "TmuxServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        self.run("new-session", "-d", "-s", "_ctl", "-x", "80", "-y", "24", "sleep 2147483647")
        # Options for the panes made after this: keep a dead pane (its last screen tells why).
        self.run("set-option", "-g", "remain-on-exit", "on")
        self.run("set-option", "-g", "history-limit", "0")
        self.run("set-option", "-g", "status", "off")
        self.run("set-option", "-g", "escape-time", "0")
        self._ctl = subprocess.Popen(
            [*self.base, "-C", "attach-session", "-t", "_ctl"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        # Skip the attach's own reply: a marker command tells where our replies start.
        marker = f"sync-{secrets.token_hex(4)}"
        self._write(f"display-message -p {marker}")
        while True:
            block = self._read_block()
            if marker in block:
                break

    def close(self) -> None:
        """Kill the server: every pane's program gets SIGHUP. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._ctl is not None:
            try:
                self._ctl.stdin.close()  # type: ignore[union-attr]
            except OSError:
                pass
        subprocess.run([*self.base, "kill-server"], capture_output=True)
        if self._ctl is not None:
            try:
                self._ctl.wait(2)
            except subprocess.TimeoutExpired:
                self._ctl.kill()

    # -- commands ----------------------------------------------------------------------------------
    def run(self, *args: str, check: bool = True) -> str:
        """One tmux command through the tmux client (a subprocess): for setup, not for polling."""
        proc = subprocess.run([*self.base, *args], capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise TmuxError(f"tmux {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout

    def _write(self, line: str) -> None:
        assert self._ctl is not None and self._ctl.stdin is not None
        self._ctl.stdin.write(line.encode() + b"\n")
        self._ctl.stdin.flush()

    def _read_block(self) -> str:
        assert self._ctl is not None and self._ctl.stdout is not None
        out: list[bytes] = []
        inside = False
        error = False
        while True:
            line = self._ctl.stdout.readline()
            if not line:
                raise TmuxError("the tmux control client went away")
            if not inside:
                # '%begin TIME NUMBER FLAGS': FLAGS 1 marks the reply to a command of this client;
                # 0 is output of a command tmux ran itself (the attach, a hook): not ours.
                if line.startswith(b"%begin") and line.split()[-1:] == [b"1"]:
                    inside = True
                    out = []
                elif line.startswith(b"%begin"):
                    self.unsolicited.append(line.decode("ascii", "replace").strip())
                continue  # notifications (%output, %sessions-changed, ...) between replies
            if line.startswith(b"%end") or line.startswith(b"%error"):
                error = line.startswith(b"%error")
                break
            out.append(line)
        text = b"".join(out).decode("utf-8", "replace")
        if error:
            raise TmuxError(text.strip())
        return text

    def ctl(self, command: str) -> str:
        """One command through the control client: no fork, ~1 pipe round trip."""
        with self._lock:
            self._write(command)
            return self._read_block()

    # -- panes -------------------------------------------------------------------------------------
    def new_session(
        self,
        name: str,
        command: str | Sequence[str],
        width: int,
        height: int,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        status_file: str | Path | None = None,
    ) -> int:
        """Start `command` in a new detached session of exactly width x height; returns the pane's PID.

        A string command runs under /bin/sh -c; a list is quoted and exec'd so the pane's PID is the
        program's own. With `status_file`, the shell stays the pane's process instead and writes the
        program's exit status there when it ends (tmux's #{pane_dead_status} is not reliable)."""
        if not isinstance(command, str):
            quoted = " ".join(shlex.quote(a) for a in command)
            command = f"{quoted}; echo $? > {shlex.quote(str(status_file))}" if status_file else f"exec {quoted}"
        # COLUMNS/LINES inherited from whoever started the tmux server (pytest has them: 80x24) would
        # win over the pane's real size in shutil.get_terminal_size(), which Textual uses.
        command = "unset COLUMNS LINES; " + command
        args = ["new-session", "-d", "-s", name, "-x", str(width), "-y", str(height)]
        if cwd is not None:
            args += ["-c", str(cwd)]
        for key, value in {**terminal_env(), **(env or {})}.items():
            args += ["-e", f"{key}={value}"]
        args.append(command)
        self.run(*args)
        return self.pane_pid(name)

    def pane_pid(self, name: str) -> int:
        return int(self.run("display-message", "-p", "-t", name, "#{pane_pid}").strip())

    def pane_dead(self, name: str) -> bool:
        out = self.run("display-message", "-p", "-t", name, "#{pane_dead}", check=False).strip()
        return out in ("1", "")

    def has_session(self, name: str) -> bool:
        return subprocess.run([*self.base, "has-session", "-t", name], capture_output=True).returncode == 0

    def size(self, name: str) -> tuple[int, int]:
        w, h = self.run("display-message", "-p", "-t", name, "#{pane_width} #{pane_height}").split()
        return int(w), int(h)

    def kill_session(self, name: str) -> None:
        self.run("kill-session", "-t", name, check=False)

    def capture(self, name: str, *, escapes: bool = False) -> str:
        """The visible screen as text (with -e: SGR colour sequences kept)."""
        started = time.perf_counter()
        text = self.ctl(f"capture-pane -p {'-e ' if escapes else ''}-t {tmux_quote(name)}")
        self.poll_seconds.append(time.perf_counter() - started)
        del self.poll_seconds[:-10000]
        return text

    def send_keys(self, name: str, *keys: str, literal: bool = False) -> None:
        """Key names (`Enter`, `Escape`, `Down`, `q`) or, with literal=True, text typed as is."""
        flag = "-l " if literal else ""
        self.ctl(f"send-keys {flag}-t {tmux_quote(name)} " + " ".join(tmux_quote(k) for k in keys))

    def wait_for(
        self,
        name: str,
        predicate: Callable[[str], object],
        *,
        timeout: float = 10.0,
        interval: float = 0.002,
        since: float | None = None,
        what: str = "the screen",
        escapes: bool = False,
    ) -> Waited:
        """Poll the screen until predicate(screen) is truthy; seconds are counted from `since`
        (time.monotonic(); default: now) to the return of the first capture that matched."""
        start = time.monotonic() if since is None else since
        deadline = time.monotonic() + timeout
        polls = 0
        screen = ""
        while True:
            screen = self.capture(name, escapes=escapes)
            now = time.monotonic()
            polls += 1
            if predicate(screen):
                return Waited(screen, now - start, polls)
            if now > deadline:
                raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}; the screen:\n{screen}")
            if interval:
                time.sleep(interval)


def wait_until(predicate: Callable[[], T], timeout: float = 60, interval: float = 0.2, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


# -- for the tests that drive the installed console (tests/e2e, and tests/ui's tmux test) -------
def liar_tui_executable() -> str:
    """The installed console script next to this Python (the venv's), else the one on PATH."""
    exe = Path(sys.executable).parent / "liar-tui"
    if exe.exists():
        return str(exe)
    found = shutil.which("liar-tui")
    if not found:
        pytest.fail("liar-tui is not installed: run `pip install -e .` in the venv")
    return found


@pytest.fixture
def tmux() -> Iterator[TmuxServer]:
    """A private tmux server for the test, killed after it (import this into a test module)."""
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed (apt-get install tmux)")
    with TmuxServer() as server:
        yield server
