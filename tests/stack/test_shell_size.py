"""A shell's terminal has the console's size from its first moment (stack/shell.py `sized`).

compose sizes an exec's terminal with a request that the engine drops when it comes too early,
and then psql pages a one-row result. The real check: a terminal compose does not resize (a fresh
pty is 0x0, and the docker CLI sends no resize for 0x0), so only liar-tui's own sizing applies."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from pathlib import Path

from liar_tui.stack.project import Project
from liar_tui.stack.shell import shell_command, sized


def _run_on_a_fresh_pty(argv: list[str], typed: bytes, until: bytes, timeout: float = 30.0) -> bytes:
    leader, follower = pty.openpty()  # 0 rows x 0 columns
    proc = subprocess.Popen(argv, stdin=follower, stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    out = b""
    deadline = time.monotonic() + timeout
    sent = False
    try:
        while time.monotonic() < deadline and until not in out:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    out += os.read(leader, 65536)
                except OSError:
                    break
            if not sent and (b"#" in out or b"$" in out or time.monotonic() > deadline - timeout + 3):
                os.write(leader, typed)
                sent = True
    finally:
        proc.kill()
        proc.wait(10)
        os.close(leader)
    return out


def test_a_shell_starts_at_the_size_it_is_given(running_stack: Project) -> None:
    argv = shell_command(running_stack, "nginx", size=(31, 97))
    out = _run_on_a_fresh_pty(argv, b"echo size=$(stty size)=; exit\r", b"size=31 97=")
    assert b"size=31 97=" in out, out[-500:]


def test_the_size_wraps_only_terminal_shells() -> None:
    assert sized(["sh"], 24, 80) == ["sh", "-c", 'stty rows 24 cols 80 2>/dev/null; exec "$@"', "sh", "sh"]
    assert sized(["sh"], 0, 0) == ["sh"]  # no terminal size known: compose's own
    project = Project(root=Path("/nonexistent"))
    assert "stty" not in " ".join(shell_command(project, "postgres", tty=False, size=(24, 80)))  # a script's pipe
    assert "stty" not in " ".join(shell_command(project, "postgres"))
    redis = shell_command(project, "redis", size=(24, 80))
    assert redis[redis.index("redis") + 1:][:5] == ["sh", "-c", 'stty rows 24 cols 80 2>/dev/null; exec "$@"', "sh", "sh"]
