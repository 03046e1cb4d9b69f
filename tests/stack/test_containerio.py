"""Commands run in a container by backups and restores (stack/containerio.py), on a real engine."""

from __future__ import annotations

import threading
import time

import pytest
import stackkit

from liar_tui.stack.containerio import ExecCancelled, run_exec
from liar_tui.stack.engine import Engine
from liar_tui.stack.project import Project

pytestmark = pytest.mark.engine


def test_a_cancelled_command_that_ignores_sigterm_is_killed(running_stack: Project) -> None:
    """A cancel ends the command in the container (the engine alone lets it run to the end), even
    one that ignores SIGTERM: SIGKILL follows a second later. Before, such a command ran on after
    the cancel had returned."""
    cid = stackkit.state_of(running_stack, "redis").container_id
    api = Engine().api
    cancel = threading.Event()
    command = "trap '' TERM; while :; do echo liar-stubborn; sleep 0.1; done"

    def still_runs() -> bool:
        return any(command in " ".join(row) for row in api.top(cid, ps_args="-eo pid,args")["Processes"])

    started = time.monotonic()
    with pytest.raises(ExecCancelled):
        run_exec(api, cid, ["sh", "-c", command], on_stdout=lambda data: cancel.set(), cancel=cancel)
    assert not still_runs(), "the command runs on after the cancel returned"
    assert time.monotonic() - started < 8
