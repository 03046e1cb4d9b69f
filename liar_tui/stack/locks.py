"""Project-wide flocks shared by every liar-tui of a project (consoles, headless commands, cron).

An flock belongs to its open file and goes when the process ends, however it ends, so a lock is
never left stale; the holder writes its pid into the file for messages ("pid 1234"). Two opens of
the same file conflict even within one process.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path


def take(path: Path, *, wait: float = 0.0, parents: bool = True) -> int | None:
    """The fd holding an exclusive lock on `path` (created 0600, with this pid written in it), or
    None when another holder keeps it for `wait` seconds. OSError when the file cannot be made
    (or, with parents=False, its folder does not exist)."""
    if parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(0.01)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return fd


def holder(path: Path) -> str:
    """' (pid 1234)' as the file names it, or '' (for messages). A holder writes its pid just
    after taking the lock: a look in between finds the file empty, so it looks again briefly."""
    for _ in range(20):
        try:
            text = path.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            return ""
        if text.isdigit():
            return f" (pid {text})"
        time.sleep(0.005)
    return ""


def held(path: Path) -> bool:
    """Whether someone (another process, or another open file of this one) holds `path` now.
    Looks with a shared lock let go at once: a holder taking it meanwhile sees a busy lock for
    microseconds, so takers that must not fail on a look give `take` a short `wait`."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False  # no file: never taken
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)  # also lets the look's lock go
