"""compose_turn: one compose at a time per service across every liar-tui of a project, and up or
down alone (QA: an up during a recreate of postgres left postgres with no container). Real
flocks between real processes; the engine is not involved."""

from __future__ import annotations

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
        import os

        os.close(fd)
    with turn(project, "redis"):
        pass


def test_no_lock_to_take_where_docker_cannot_be_written(project: Project) -> None:
    (project.root / "docker").write_text("not a folder")  # as a root-owned docker/ is to a user
    ran = False
    with turn(project, "redis"):
        ran = True
    assert ran
