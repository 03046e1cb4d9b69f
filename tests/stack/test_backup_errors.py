"""Bad input and bad places: one line naming the fix, a non-zero exit, nothing that looks complete.
Also the shells. Nothing here changes the shared stack's data (no restore runs)."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import stackkit

from liar_tui.stack.envfile import set_env_values
from liar_tui.stack.project import Project
from liar_tui.stack.shell import shell_command

pytestmark = pytest.mark.engine

REPO = Path(__file__).resolve().parents[2]


cli = functools.partial(stackkit.cli, timeout=180)


def one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("liar-tui: ") and "Traceback" not in result.stderr
    for needle in needles:
        assert needle in line, line
    return line


def no_secrets(project: Project, *texts: str) -> None:
    env = project.env()
    for key in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "MINIO_ROOT_PASSWORD"):
        for text in texts:
            assert env[key] not in text


def mount_tmpfs(point: Path, options: str) -> None:
    """A tiny tmpfs (needs root): the way to get a full or read-only disk on purpose."""
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")


@pytest.fixture()
def mountpoint(tmp_path: Path) -> Iterator[Path]:
    """A folder to mount a tmpfs on; unmounted afterwards."""
    point = tmp_path / "mnt"
    point.mkdir()
    yield point
    subprocess.run(["umount", "-l", str(point)], capture_output=True)


def test_unwritable_backup_dir(running_stack: Project, mountpoint: Path) -> None:
    mount_tmpfs(mountpoint, "ro,size=1m")
    target = mountpoint / "sets"
    result = cli(running_stack, "backup", "--backup-dir", str(target))
    one_line_error(result, f"backup dir {target} is not writable", "choose another with --backup-dir")
    assert not target.exists()


def test_full_backup_dir_leaves_nothing_that_looks_complete(running_stack: Project, mountpoint: Path) -> None:
    mount_tmpfs(mountpoint, "size=1m")
    r = stackkit.redis_client(running_stack)
    r.set("backup-test:fill", os.urandom(3 * 1024 * 1024))  # the RDB cannot fit in 1 MiB
    try:
        result = cli(running_stack, "backup", "--backup-dir", str(mountpoint))
    finally:
        r.delete("backup-test:fill")
    line = one_line_error(result, f"backup dir {mountpoint} is full", "--backup-dir")
    no_secrets(running_stack, line, result.stdout)
    assert [p.name for p in mountpoint.iterdir()] == []  # the partial set is gone
    listed = cli(running_stack, "backup", "list", "--backup-dir", str(mountpoint))
    assert listed.returncode == 0 and "no backup sets" in listed.stdout


def test_unknown_set_and_unknown_service(running_stack: Project, tmp_path: Path) -> None:
    one_line_error(cli(running_stack, "verify", "20000101T000000Z", "--backup-dir", str(tmp_path)),
                   "no backup set '20000101T000000Z'", "backup list")
    one_line_error(cli(running_stack, "restore", "nope", "--yes", "--backup-dir", str(tmp_path)), "no backup set 'nope'")
    one_line_error(cli(running_stack, "backup", "nginx", "--backup-dir", str(tmp_path)), "cannot back up nginx")
    one_line_error(cli(running_stack, "backup", "prune", "--backup-dir", str(tmp_path)), "--keep N")


def test_restore_refuses_without_yes_when_not_a_terminal(running_stack: Project, tmp_path: Path) -> None:
    result = cli(running_stack, "restore", "latest", "--backup-dir", str(tmp_path), stdin="liar\n")
    one_line_error(result, "stdin is not a terminal", "--yes")


@contextmanager
def _env_changed(running: Project, changes: dict[str, str] | None = None, *, remove: bool = False) -> Iterator[Project]:
    """The running stack with its .env changed (or gone) for a moment, then put back byte for
    byte. (A second checkout under the same project name would be refused for that alone.)"""
    saved = running.env_file.read_bytes()
    try:
        if remove:
            running.env_file.unlink()
        else:
            running.env_file.write_text(set_env_values(saved.decode(), changes or {}))
        yield running
    finally:
        running.env_file.write_bytes(saved)
        running.env_file.chmod(0o600)


def test_missing_env_file(running_stack: Project, tmp_path: Path) -> None:
    with _env_changed(running_stack, remove=True) as project:
        one_line_error(cli(project, "backup", "--backup-dir", str(tmp_path / "sets")), "compose/.env is missing", "liar-tui setup")
    assert not any((tmp_path / "sets").glob("*/manifest.json"))


@pytest.mark.parametrize("key,needle", [("REDIS_PASSWORD", "redis refused REDIS_PASSWORD"),
                                        ("MINIO_ROOT_PASSWORD", "MinIO refused MINIO_ROOT_USER/MINIO_ROOT_PASSWORD")])
def test_wrong_password_in_env(running_stack: Project, tmp_path: Path, key: str, needle: str) -> None:
    wrong = stackkit.password()
    service = "redis" if key == "REDIS_PASSWORD" else "minio"
    with _env_changed(running_stack, {key: wrong}) as project:
        result = cli(project, "backup", service, "--backup-dir", str(tmp_path / "sets"))
    line = one_line_error(result, needle, "recreate")
    assert wrong not in line
    no_secrets(running_stack, line, result.stdout)
    assert list((tmp_path / "sets").iterdir()) == []


def test_service_not_running(engine_ready: None, tmp_path: Path) -> None:
    never_started = stackkit.make_project(tmp_path / "idle")
    backup = cli(never_started, "backup", "--backup-dir", str(tmp_path / "sets"))
    one_line_error(backup, "postgres has no container", "liar-tui up postgres")
    shell = cli(never_started, "shell", "redis")
    one_line_error(shell, "redis is not running", "liar-tui up")
    restart = cli(never_started, "restart", "redis")
    one_line_error(restart, "redis has no container", "liar-tui up redis")
    # a service not up for the command: exit 1 whichever command (2 is for engine, .env, usage)
    assert (backup.returncode, shell.returncode, restart.returncode) == (1, 1, 1)
    # restore says the service is not running, not that a good set "fails verification"
    from liar_tui.stack.backupset import SetWriter

    w = SetWriter(tmp_path / "sets", "20240101T000000Z", never_started.name, ["redis"]).open()
    hw = w.writer("redis/dump.rdb", "redis", "rdb")
    hw.write(b"REDIS0011")
    w.add(hw.commit())
    w.finish({"redis": {"rdb_bytes": 9}}, {"liar-tui": "test"})
    restore = cli(never_started, "restore", "20240101T000000Z", "--yes", "--backup-dir", str(tmp_path / "sets"))
    line = one_line_error(restore, "redis not running", "liar-tui up redis")
    assert "verification" not in line
    assert restore.returncode == 1


# -- shells ---------------------------------------------------------------------------------------
def test_shell_commands_carry_no_secret(running_stack: Project) -> None:
    for svc in ("postgres", "redis", "nginx", "minio"):
        argv = shell_command(running_stack, svc)
        assert argv[:2] == ["docker", "compose"] and svc in argv
        no_secrets(running_stack, " ".join(argv))
    redis_argv = " ".join(shell_command(running_stack, "redis"))
    assert "/run/secrets/redis_password" in redis_argv and "REDISCLI_HISTFILE=/dev/null" in redis_argv
    assert "-T" in shell_command(running_stack, "postgres", tty=False)


@pytest.mark.parametrize("service,script,expected", [
    ("postgres", "SELECT 40 + 2 AS answer;\n", "42"),
    ("redis", "PING\nDBSIZE\n", "PONG"),
    ("nginx", "nginx -v 2>&1; echo from-nginx\n", "from-nginx"),
    ("minio", "echo from-minio\n", "from-minio"),
])
def test_shell_runs_the_service_tool(running_stack: Project, service: str, script: str, expected: str) -> None:
    result = cli(running_stack, "shell", service, stdin=script, timeout=60)
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout
    assert "NOAUTH" not in result.stdout
    no_secrets(running_stack, result.stdout, result.stderr)


def test_redis_shell_password_never_on_a_command_line(running_stack: Project) -> None:
    """While redis-cli runs, no process in the container has the password in its argv."""
    proc = subprocess.Popen(
        shell_command(running_stack, "redis", tty=False), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("PING\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "PONG"
        cid = stackkit.state_of(running_stack, "redis").container_id
        top = stackkit.Engine().api.top(cid, ps_args="-eo pid,args")
        cmdlines = " ".join(" ".join(row) for row in top["Processes"])
        assert "redis-cli" in cmdlines
        assert running_stack.env()["REDIS_PASSWORD"] not in cmdlines
    finally:
        proc.communicate("", timeout=30)
    assert shutil.which("docker")


def test_a_psql_script_fed_to_the_shell_stops_at_its_first_error(running_stack: Project) -> None:
    """`... | liar-tui shell postgres` exits non-zero when the script fails, and does not run on."""
    result = cli(running_stack, "shell", "postgres", stdin="SELECT 1/0;\nSELECT 'after' AS ran_on;\n", timeout=60)
    assert result.returncode != 0, (result.stdout, result.stderr)
    assert "division by zero" in result.stderr and "after" not in result.stdout


def test_a_backup_dir_that_is_a_file_or_empty_is_said(running_stack: Project, tmp_path: Path) -> None:
    """`--backup-dir <a regular file>` said 'no backup sets in …'; `--backup-dir ""` silently used
    the default folder (a script whose variable came out empty)."""
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    for action in (["backup", "list"], ["backup", "prune", "--keep", "1"], ["verify", "latest"], ["backup", "redis"]):
        one_line_error(cli(running_stack, *action, "--backup-dir", str(afile)), f"backup dir {afile} is not a folder",
                       "--backup-dir")
    one_line_error(cli(running_stack, "backup", "list", "--backup-dir", str(afile / "sets")), "is not a folder",
                   f"lies under {afile}")
    assert afile.read_text() == "not a folder"
    for action in (["backup", "list"], ["backup", "redis"], ["restore", "latest", "--yes"]):
        one_line_error(cli(running_stack, *action, "--backup-dir", ""), "--backup-dir is empty")
    assert not (running_stack.root / "backups").exists()


def test_a_set_is_named_by_the_unique_start_of_its_id(running_stack: Project, tmp_path: Path) -> None:
    from liar_tui.stack.backupset import SetWriter

    sets = tmp_path / "sets"
    sets.mkdir()
    for set_id in ("20261127T035200Z", "20261127T035201Z"):
        w = SetWriter(sets, set_id, running_stack.name, ["redis"]).open()
        hw = w.writer("redis/dump.rdb", "redis", "rdb")
        hw.write(b"REDIS-not-really")
        w.add(hw.commit())
        w.finish({"redis": {"rdb_bytes": 16}}, {"liar-tui": "test"})
    line = one_line_error(cli(running_stack, "verify", "20261127T0352", "--backup-dir", str(sets)),
                          "'20261127T0352' is the start of 2 backup sets", "20261127T035200Z, 20261127T035201Z",
                          "give more of the id")
    assert "Traceback" not in line
    one_line_error(cli(running_stack, "restore", "20261127T0352", "--yes", "--backup-dir", str(sets)), "is the start of 2")
    # unique: it is that set (this one's RDB is not an RDB: verify says so about 20261127T035201Z)
    out = cli(running_stack, "backup", "verify", "20261127T035201", "--backup-dir", str(sets))
    assert out.returncode == 1 and out.stdout.startswith("verify 20261127T035201Z "), out
    assert "redis-check-rdb rejects" in out.stdout
