"""Project-wide flocks shared by every liar-tui of a project (consoles, headless commands, cron).

An flock belongs to its open file and goes when the process ends, however it ends, so a lock is
never left stale; the holder writes its pid into the file for messages ("pid 1234"). Two opens of
the same file conflict even within one process.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ComposeBusy

if TYPE_CHECKING:
    from .project import Project


def take(path: Path, *, wait: float = 0.0, parents: bool = True, shared: bool = False, mark: bool = True) -> int | None:
    """The fd holding an exclusive lock on `path` (created 0600, with this pid written in it), or
    None when another holder keeps it for `wait` seconds. OSError when the file cannot be made
    (or, with parents=False, its folder does not exist). `shared`: a shared lock (any number of
    shared holders, no exclusive one), which writes no pid; `mark=False` writes none either (a
    lock also held shared: a pid left by an earlier exclusive holder would name the wrong one)."""
    if parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait
    pause = 0.01
    while True:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            break
        except OSError:
            left = deadline - time.monotonic()
            if left <= 0:
                os.close(fd)
                return None
            time.sleep(min(pause, left))
            pause = min(pause * 1.5, 0.25)  # a cron job waiting minutes looks 4 times a second
    if mark and not shared:
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


#: Seconds a compose action waits for its turn before it says who has it (a look at a lock that
#: is being taken sees it busy for a moment; an action holds its turn for seconds to minutes).
TURN_WAIT = 1.0


@contextlib.contextmanager
def compose_turn(project: "Project", services: Sequence[str] = (), *, wait: float = TURN_WAIT,
                 on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """This action's turn to run compose on `services` of the project (none: the whole stack, as
    up and down), across every liar-tui of the project: consoles, headless commands, cron and
    autoheal. Two composes at once on one service broke it (QA: an up during a recreate of
    postgres: both failed, "No such container: <id>_liar-game-postgres", and postgres was left
    with no container). An action on services holds the project's compose lock shared and each
    service's exclusively; up and down hold the project's exclusively. Barred too while a restore
    of the project runs (it stops and starts the services itself; it looks at these locks in
    turn). Where docker/ cannot be written (made by root), there is no lock to take and compose
    runs as before.

    A busy turn is waited for `wait` seconds, then refused with one line (ComposeBusy) naming who
    has it: the console and headless commands wait a moment only (a lock waited for would hang a
    console's quit behind a long `up --wait`); a cron job asks for longer (`--wait-turn`).
    `on_wait` hears that line once when the first second has not been enough."""
    deadline = time.monotonic() + wait
    told = False

    def busy(why: Callable[[], str]) -> None:
        """Tell `on_wait` why (built only then: holder() reads the lock file) the first time."""
        nonlocal told
        if on_wait is not None and not told and deadline - time.monotonic() > 0:
            on_wait(why())
            told = True

    again = ": wait for it to finish, then run this again"
    fds: list[int] = []
    try:
        try:
            path = project.lock_path("compose")
            what = "an up or a down" if services else "an up, a down or a service action"
            compose_why = f"another liar-tui is running compose on {project.name} ({what})"
            fd = _take_waiting(path, deadline, shared=bool(services), mark=False, busy=lambda: busy(lambda: compose_why))
            if fd is None:
                raise ComposeBusy(compose_why + again)
            fds.append(fd)
            for service in sorted(set(services)):
                path = project.lock_path(f"compose-{service}")

                def acting(service: str = service, path: Path = path) -> str:
                    return f"another liar-tui is acting on {service}{holder(path)}"

                fd = _take_waiting(path, deadline, busy=lambda: busy(acting))
                if fd is None:
                    raise ComposeBusy(acting() + again)
                fds.append(fd)
        except OSError:
            pass
        restore = project.lock_path("restore")

        def restoring() -> str:
            return f"a restore of {project.name} is running{holder(restore)}"

        while held(restore):
            if time.monotonic() >= deadline:
                raise ComposeBusy(restoring() + ": wait for it to finish")
            busy(restoring)
            time.sleep(0.1)
        yield
    finally:
        for fd in fds:
            os.close(fd)  # also lets the flock go


def _take_waiting(path: Path, deadline: float, *, busy: Callable[[], None], **kw: bool) -> int | None:
    """take() until `deadline`, calling `busy` once the first TURN_WAIT has not been enough."""
    fd = take(path, wait=min(TURN_WAIT, max(0.0, deadline - time.monotonic())), **kw)
    if fd is None and deadline > time.monotonic():
        busy()
        fd = take(path, wait=max(0.0, deadline - time.monotonic()), **kw)
    return fd


def compose_busy(project: "Project", services: Sequence[str]) -> str:
    """Whether compose runs on any of `services` now (an action on one of them, an up or a down),
    in one line for a restore about to stop and start them ('' when not)."""
    if held(project.lock_path("compose")):  # a look with a shared lock: only up or down bars it
        return f"another liar-tui is running compose on {project.name} (an up or a down): wait for it to finish"
    for service in services:
        path = project.lock_path(f"compose-{service}")
        if held(path):
            return f"another liar-tui is acting on {service}{holder(path)}: wait for it to finish"
    return ""
