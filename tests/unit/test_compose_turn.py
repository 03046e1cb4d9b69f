"""compose_turn: one compose at a time per service across every liar-tui of a project, and up or
down alone (QA: an up during a recreate of postgres left postgres with no container). Real
flocks between real processes; the engine is not involved."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from stackkit import other_liar_tui

from liar_tui.stack import locks
from liar_tui.stack.errors import ComposeBusy
from liar_tui.stack.project import Project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path, "t")


def turn(project: Project, *services: str) -> Any:
    return locks.compose_turn(project, services, wait=0.05)


def test_the_same_service_is_refused_naming_who_has_it(project: Project) -> None:
    with other_liar_tui(project, ("postgres",)) as pid:
        with pytest.raises(ComposeBusy) as refused:
            with turn(project, "postgres"):
                pass
        assert str(refused.value) == f"another liar-tui is acting on postgres (pid {pid}): wait for it to finish, then run this again"
        assert locks.compose_busy(project, ["redis", "postgres"]) == f"another liar-tui is acting on postgres (pid {pid}): wait for it to finish"
        with turn(project, "redis"):  # another service: side by side
            assert locks.compose_busy(project, ["redis"])  # now held by this process
        assert locks.compose_busy(project, ["redis", "minio"]) == ""
    with turn(project, "postgres"):  # its turn ended with it
        pass


def test_up_and_down_run_alone(project: Project) -> None:
    with other_liar_tui(project, ("redis",)):
        with pytest.raises(ComposeBusy, match="another liar-tui is running compose on t "):
            with turn(project):
                pass
    with other_liar_tui(project, ()):
        with pytest.raises(ComposeBusy, match="another liar-tui is running compose on t "):
            with turn(project, "nginx"):
                pass
        assert locks.compose_busy(project, ["nginx"]).startswith("another liar-tui is running compose on t (an up or a down)")
    with turn(project):
        pass


def test_refused_while_a_restore_runs(project: Project) -> None:
    fd = locks.take(project.lock_path("restore"))
    try:
        with pytest.raises(ComposeBusy, match=r"a restore of t is running \(pid \d+\): wait for it to finish"):
            with turn(project, "redis"):
                pass
    finally:
        os.close(fd)
    with turn(project, "redis"):
        pass


def test_no_lock_to_take_where_docker_cannot_be_written(project: Project) -> None:
    (project.root / "docker").write_text("not a folder")  # as a root-owned docker/ is to a user
    ran = False
    with turn(project, "redis"):
        ran = True
    assert ran


@contextlib.contextmanager
def held_for(project: Project, services: tuple[str, ...], seconds: float) -> Iterator[None]:
    """Another liar-tui holding its turn on `services` now, letting it go after `seconds`."""
    holding = threading.Event()

    def hold() -> None:
        with other_liar_tui(project, services):
            holding.set()
            time.sleep(seconds)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(10)
        yield
    finally:
        thread.join()


@pytest.mark.parametrize("services, mine", [(("redis",), ("redis",)), ((), ("nginx",)), (("postgres",), ())])
def test_a_longer_wait_gets_the_turn_when_the_other_lets_go_and_says_why_it_waits_once(
        project: Project, services: tuple[str, ...], mine: tuple[str, ...]) -> None:
    heard: list[str] = []
    with held_for(project, services, 2.0):
        started = time.monotonic()
        with locks.compose_turn(project, mine, wait=30, on_wait=heard.append):
            waited = time.monotonic() - started
    assert 1.5 < waited < 5, waited
    assert len(heard) == 1, heard
    assert heard[0].startswith("another liar-tui is "), heard


def test_a_longer_wait_ends_in_the_same_refusal(project: Project) -> None:
    heard: list[str] = []
    with other_liar_tui(project, ("redis",)) as pid:
        started = time.monotonic()
        with pytest.raises(ComposeBusy, match=rf"acting on redis \(pid {pid}\): wait for it to finish"):
            with locks.compose_turn(project, ("redis",), wait=2.5, on_wait=heard.append):
                pass
        assert 2.4 < time.monotonic() - started < 4
    assert heard == [f"another liar-tui is acting on redis (pid {pid})"]


def test_a_longer_wait_outlasts_a_restore(project: Project) -> None:
    fd = locks.take(project.lock_path("restore"))
    heard: list[str] = []
    threading.Timer(1.5, os.close, (fd,)).start()
    started = time.monotonic()
    with locks.compose_turn(project, ("redis",), wait=30, on_wait=heard.append):
        assert 1.4 < time.monotonic() - started < 4
    assert heard == [f"a restore of t is running (pid {os.getpid()})"]
