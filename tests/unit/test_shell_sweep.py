"""The sweep that ends a shell's processes when its terminal goes away (stack/shell.py), run by
the host's own sh over the host's /proc (the containers run it the same way over theirs)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from liar_tui.stack.project import Project
from liar_tui.stack.shell import SHELL_MARK, SWEEP_SCRIPT, ShellHungUp, hung_up_note, shell_command


def _sleeper(mark: str) -> subprocess.Popen[bytes]:
    # SIGHUP's default action, as a shell in a container has it (under `nohup`, as CI may run the
    # tests, it would be inherited ignored)
    return subprocess.Popen(["sleep", "60"], env={**os.environ, SHELL_MARK: mark},
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))


def test_the_sweep_hangs_up_exactly_the_marked_processes() -> None:
    mine, other, prefix = _sleeper("a1b2c3d4e5f60718"), _sleeper("ffffffffffffffff"), _sleeper("a1b2c3d4")
    try:
        out = subprocess.run(["sh", "-c", SWEEP_SCRIPT, "sh", "a1b2c3d4e5f60718"], capture_output=True, text=True, timeout=30)
        assert out.stdout.strip() == "1", out
        assert mine.wait(5) == -signal.SIGHUP
        time.sleep(0.2)
        assert other.poll() is None and prefix.poll() is None  # another token, a shorter one: untouched
    finally:
        for p in (mine, other, prefix):
            p.kill()
            p.wait()


def test_the_shell_carries_its_mark_only_when_given(tmp_path: object) -> None:
    project = Project(root=tmp_path, name="p")  # type: ignore[arg-type]
    marked = shell_command(project, "postgres", mark="0123456789abcdef")
    assert marked[marked.index("exec") + 1: marked.index("postgres")] == ["-e", f"{SHELL_MARK}=0123456789abcdef"]
    assert "-e" not in shell_command(project, "postgres")


def test_the_activity_line_says_why_and_what_was_ended() -> None:
    assert hung_up_note("psql", ShellHungUp(signal.SIGHUP, 1)) == (
        "psql shell ended by SIGHUP (its terminal went away); 1 of its processes in the container ended")
    assert hung_up_note("sh", ShellHungUp(signal.SIGTERM, None)) == (
        "sh shell ended by SIGTERM; its processes in the container could not be reached to end them")
