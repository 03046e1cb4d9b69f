"""The console's action helper (stack/actionhost.py) with a real helper process.

The calls here fail before compose runs (an unknown service), so they need no engine; the real
actions through the helper are tested by the console's live and tmux tests."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from liar_tui.stack.actionhost import ActionHostFailed, HostedStack, decode_error, encode_error
from liar_tui.stack.errors import PortInUse, UnknownService
from liar_tui.stack.project import Project

ROOT = Path(__file__).resolve().parents[2]


def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def hosted() -> Iterator[HostedStack]:
    h = HostedStack(Project(root=ROOT, name=f"liartest-host-{os.getpid()}"), idle=0.5)
    yield h
    h.close()


def test_a_stack_error_comes_back_as_itself(hosted: HostedStack) -> None:
    with pytest.raises(UnknownService, match=r"^no service named 'nope': choose one of postgres, redis, nginx, minio$"):
        hosted.restart("nope")
    pid = hosted.pid
    assert pid is not None and pid != os.getpid()
    # in a session of its own: a Ctrl-C for the console's terminal (a shell it opened) cannot reach it
    assert os.getsid(pid) == pid
    # the console (this process) did not load python-on-whales for it; the helper did
    helper_maps = Path(f"/proc/{pid}/maps").read_text()
    assert "pydantic_core" in helper_maps


def test_requests_run_side_by_side_on_one_helper(hosted: HostedStack) -> None:
    errors: list[str] = []

    def call(service: str) -> None:
        try:
            hosted.stop(service)
        except UnknownService as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=call, args=(f"nope{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(errors) == [f"no service named 'nope{i}': choose one of postgres, redis, nginx, minio" for i in range(4)]


def test_the_helper_ends_when_idle_and_the_next_action_starts_another(hosted: HostedStack) -> None:
    with pytest.raises(UnknownService):
        hosted.start("nope")
    first = hosted.pid
    assert first is not None
    assert _gone(first), "the helper outlived its idle time"
    assert hosted.pid is None
    with pytest.raises(UnknownService):
        hosted.recreate("nope")
    assert hosted.pid not in (None, first)


def test_close_ends_the_helper_and_refuses_new_actions(hosted: HostedStack) -> None:
    with pytest.raises(UnknownService):
        hosted.up_service("nope")
    pid = hosted.pid
    assert pid is not None
    hosted.close()
    assert _gone(pid)
    with pytest.raises(ActionHostFailed, match="the console is ending"):
        hosted.restart("redis")


def test_a_helper_that_dies_says_why_in_one_line(tmp_path: Path) -> None:
    fake_python = tmp_path / "python"
    fake_python.write_text("#!/bin/sh\necho 'Traceback (most recent call last):' >&2\n"
                           "echo \"ModuleNotFoundError: No module named 'python_on_whales'\" >&2\nexit 1\n")
    fake_python.chmod(0o755)
    h = HostedStack(Project(root=ROOT, name="liartest-host-dead"), python=str(fake_python))
    try:
        with pytest.raises(ActionHostFailed) as err:
            h.restart("redis")
        assert str(err.value) == ("the action helper ended before restart finished: "
                                  "ModuleNotFoundError: No module named 'python_on_whales'")
    finally:
        h.close()


def test_errors_keep_their_class_and_others_read_as_the_console_shows_them() -> None:
    back = decode_error(encode_error(PortInUse("port 5432 on 127.0.0.1 is already in use: set POSTGRES_PORT")))
    assert type(back) is PortInUse and str(back) == "port 5432 on 127.0.0.1 is already in use: set POSTGRES_PORT"
    other = decode_error(encode_error(KeyError("Networks")))
    assert type(other) is ActionHostFailed and str(other) == "KeyError: 'Networks'"
