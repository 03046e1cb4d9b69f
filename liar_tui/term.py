"""The terminal the headless commands (and the console) print to."""

from __future__ import annotations

import os
import shutil
import sys


def terminal_width() -> int | None:
    """The terminal's width when stdout is one; None for a pipe or a file (it gets every column,
    unwrapped, for scripts)."""
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size().columns


def table_lines(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows as left-aligned columns two spaces apart."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def silence_terminal() -> None:
    """Point stdin, stdout and stderr at /dev/null: the terminal is gone (SIGHUP: an SSH
    connection dropped), and a write to it fails (EIO), which would end a job half-way."""
    try:
        null = os.open(os.devnull, os.O_RDWR)
    except OSError:
        return
    for fd in (0, 1, 2):
        try:
            os.dup2(null, fd)
        except OSError:
            pass
    os.close(null)


def job_control_shell() -> bool:
    """True when a job-control shell started this process, so a stopped console can be brought
    back with `fg`: its parent is in the same session but another process group (POSIX: the
    group is not orphaned). Run by `ssh -t host liar-tui`, a tmux pane, or `bash -c`, nobody
    would resume it, and a stop (Textual's ctrl+z sends SIGSTOP, which cannot be ignored) would
    freeze it for good."""
    try:
        parent = os.getppid()
        return os.getpgid(parent) != os.getpgrp() and os.getsid(parent) == os.getsid(0)
    except OSError:
        return False


__all__ = ["job_control_shell", "silence_terminal", "table_lines", "terminal_width"]
