"""liar-tui run by a user of the docker group, not root: how developers usually run it.

QA (as such a user): compose created the missing bind-mount folders, and with them `docker/`,
as root, so liar-tui could not write its activity log there, `restore` failed on its lock
("cannot create the restore lock .../docker/liar-tui-restore-qa.lock: Permission denied"), and
`down --volumes` stopped half-way through data owned by the containers' users.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import stackkit
from liar_tui.stack.project import Project

pytestmark = pytest.mark.engine

USER = "liartui-dev"
HARNESS = Path(__file__).with_name("asuser.py")


@pytest.fixture
def developer(engine_ready: None) -> Iterator[str]:
    """A throwaway user in the docker group (made here, removed after)."""
    if os.geteuid() != 0:
        pytest.skip("making a user needs root")
    try:
        group = grp.getgrnam("docker")
    except KeyError:
        pytest.skip("no docker group on this host")
    sock = os.stat("/var/run/docker.sock")
    if sock.st_gid != group.gr_gid or not sock.st_mode & stat.S_IWGRP:
        pytest.skip("the engine's socket is not open to the docker group")
    made = False
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "-G", "docker", USER],
                       check=True, capture_output=True)
        made = True
    try:
        yield USER
    finally:
        if made:
            subprocess.run(["userdel", USER], capture_output=True)


def as_user(user: str, project: Project, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HARNESS), user, "--project-dir", str(project.root), "--project-name", project.name, *args],
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, cwd="/",
    )


def test_a_docker_group_user_brings_up_backs_up_restores_and_removes_the_data(developer: str) -> None:
    pw = pwd.getpwnam(developer)
    root = Path(tempfile.mkdtemp(prefix="liar-tui-dev-"))
    root.chmod(0o755)
    project = stackkit.make_project(root)
    for path in [root, *root.rglob("*")]:
        os.chown(path, pw.pw_uid, pw.pw_gid, follow_symlinks=False)
    try:
        up = as_user(developer, project, "up", "--wait")
        assert up.returncode == 0, up.stdout + up.stderr
        for folder in (root / "docker", project.data_dir):
            assert folder.stat().st_uid == pw.pw_uid, f"{folder} belongs to uid {folder.stat().st_uid}"
        log = root / "docker" / "liar-tui-activity.log"
        assert log.exists() and log.stat().st_uid == pw.pw_uid

        redis = stackkit.redis_client(project)
        redis.set("dev:marker", "in-the-set")
        made = as_user(developer, project, "backup")
        assert made.returncode == 0, made.stdout + made.stderr
        redis.set("dev:marker", "after")
        restored = as_user(developer, project, "restore", "latest", "--yes")
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert redis.get("dev:marker") == b"in-the-set"

        down = as_user(developer, project, "down", "--volumes", "--yes")
        assert down.returncode == 0, down.stdout + down.stderr
        assert not project.data_dir.exists()
        said = log.read_text()
        assert "restore" in said and "down (data deleted)" in said, said
    finally:
        stackkit.destroy(project)
        shutil.rmtree(root, ignore_errors=True)
