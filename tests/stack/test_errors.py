"""Each fixable failure prints one line naming the fix, exits non-zero, and shows no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import stackkit

from liar_tui.stack.compose import Stack
from liar_tui.stack.project import Project

pytestmark = pytest.mark.engine


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "liar_tui", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def assert_one_line_error(out: subprocess.CompletedProcess[str], *needles: str, code: int | None = None) -> str:
    """`code`: the exit status when the test names it (2: refused before anything was touched;
    1: the action ran and failed), else any failure."""
    assert out.returncode != 0, (out.stdout + out.stderr)[-1500:]
    assert code is None or out.returncode == code, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    line = lines[0]
    assert line.startswith("liar-tui: ")
    for needle in needles:
        assert needle in line, line
    return line


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return stackkit.make_project(tmp_path / "p")


def test_engine_not_running_at_the_chosen_socket(project: Project, tmp_path: Path) -> None:
    # DOCKER_HOST names a socket that does not exist: starting the default engine would not help
    out = run_cli("--project-dir", str(project.root), "status", env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert_one_line_error(out, f"nothing listens at DOCKER_HOST=unix://{tmp_path}/none.sock", "unset DOCKER_HOST")
    assert "systemctl" not in out.stderr


def test_engine_not_reachable(project: Project, tmp_path: Path) -> None:
    path = tmp_path / "dead.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()  # a socket file nobody listens on: what a crashed dockerd leaves
    out = run_cli("--project-dir", str(project.root), "up", env={"DOCKER_HOST": f"unix://{path}"})
    # not the default socket: the fix is that engine, or unsetting DOCKER_HOST (not systemctl)
    assert_one_line_error(out, f"nothing answers at DOCKER_HOST=unix://{path}", "unset DOCKER_HOST")


def test_docker_not_installed(project: Project, tmp_path: Path) -> None:
    out = run_cli("--project-dir", str(project.root), "up", env={"PATH": str(tmp_path)})
    assert_one_line_error(out, "not installed", "liar-tui setup")


def test_docker_cli_without_an_engine(project: Project, tmp_path: Path) -> None:
    """This machine as it comes: a docker CLI on PATH, no dockerd, no socket."""
    import shutil

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").symlink_to(shutil.which("docker") or "/usr/bin/docker")
    # dockerd lives in /usr/sbin (Debian's docker.io) or /usr/bin: hidden in a private mount namespace
    mount = shutil.which("mount")
    hide = " && ".join(f"{mount} -t tmpfs none {d}" for d in ("/usr/sbin", "/sbin") if Path(d).is_dir() and not Path(d).is_symlink())
    assert shutil.which("dockerd", path="/usr/bin") is None, "a dockerd in /usr/bin cannot be hidden this way"
    out = subprocess.run(
        [shutil.which("unshare") or "unshare", "--mount", "/bin/sh", "-c", f"{hide} && exec \"$@\"", "sh", sys.executable, "-m", "liar_tui",
         "--project-dir", str(project.root), "status"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PATH": str(bin_dir), "DOCKER_HOST": f"unix://{tmp_path}/none.sock"},
    )
    assert_one_line_error(out, "no Docker engine here", "liar-tui setup")


def test_compose_plugin_missing(project: Project, tmp_path: Path) -> None:
    """A host without the plugin: a private mount namespace hides every plugin folder."""
    empty = tmp_path / "empty"
    empty.mkdir()
    script = f"{stackkit.hide_plugins(empty)}exec \"$@\""
    out = subprocess.run(
        ["unshare", "--mount", "sh", "-c", script, "sh", sys.executable, "-m", "liar_tui",
         "--project-dir", str(project.root), "up"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "DOCKER_CONFIG": str(empty), "HOME": str(empty)},
    )
    assert_one_line_error(out, "compose v2 plugin is missing", "liar-tui setup")


def test_env_file_missing(tmp_path: Path) -> None:
    project = stackkit.make_project(tmp_path / "p", env=False)
    out = run_cli("--project-dir", str(project.root), "up")
    assert_one_line_error(out, ".env is missing", "liar-tui setup", ".env.example")


def test_port_in_use(tmp_path: Path, engine_ready: None) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        project = stackkit.make_project(tmp_path / "p", extra_env={"POSTGRES_PORT": str(port)})
        try:
            out = run_cli("--project-dir", str(project.root), "--project-name", project.name, "up")
            assert_one_line_error(out, f"port {port}", "POSTGRES_PORT", "already in use", code=2)
            # nothing was created
            ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project.name}"],
                                 capture_output=True, text=True).stdout.split()
            assert ids == []
        finally:
            stackkit.destroy(project)


def test_the_console_without_a_terminal_says_so(project: Project) -> None:
    """QA: `liar-tui | cat` painted frames into the pipe without end; without a terminal the
    console is refused in one line (exit 2: it could not start), before it touches the engine."""
    import pty

    main, tty = pty.openpty()  # input from a terminal, output into a pipe
    try:
        out = subprocess.run([sys.executable, "-m", "liar_tui", "--project-dir", str(project.root), "--no-up"],
                             stdin=tty, capture_output=True, text=True, timeout=60)
    finally:
        os.close(main)
        os.close(tty)
    assert_one_line_error(out, "the console needs a terminal", "its output is not one", "liar-tui status", code=2)
    assert out.stdout == ""
    out = run_cli("--project-dir", str(project.root), "--no-up")
    assert out.returncode == 2 and "the console needs a terminal" in out.stderr and out.stdout == "", out


def test_invalid_compose_file(project: Project) -> None:
    project.compose_file.write_text(project.compose_file.read_text().replace("services:", "services:\n  bad: [", 1))
    out = run_cli("--project-dir", str(project.root), "up")
    assert_one_line_error(out, "compose rejects", "docker-compose.yml")


def test_wrong_project_dir(tmp_path: Path) -> None:
    out = run_cli("--project-dir", str(tmp_path / "nope"), "status")
    assert_one_line_error(out, "has no compose/docker-compose.yml", "point it at")


def test_wrong_service(project: Project) -> None:
    out = run_cli("--project-dir", str(project.root), "restart", "mysql")
    assert out.returncode != 0 and "Traceback" not in out.stderr


def test_down_works_without_env_and_up_still_asks_for_it(tmp_path: Path, engine_ready: None) -> None:
    """A lost .env left the stack impossible to stop with liar-tui (down refused: '.env is
    missing'); taking it down, or stopping a service, needs no secret. Bringing it up still does,
    and so do restart, start and recreate — in the console too, whose Stack was made while the
    .env was there (they failed with compose's "couldn't find env file", naming no fix)."""
    project = stackkit.make_project(tmp_path / "p")
    cli = ("--project-dir", str(project.root), "--project-name", project.name)
    try:
        assert run_cli(*cli, "up", "redis").returncode == 0
        stack = Stack(project)  # as the console's: made while the .env is there
        project.env_file.rename(tmp_path / "env.aside")
        for action in (stack.restart, stack.recreate, stack.start):
            result = action("redis")
            assert not result.ok and ".env is missing" in result.message and "liar-tui setup" in result.message, result
        assert stack.stop("redis").ok
        assert stackkit.state_of(project, "redis").state == "exited"
        stop = run_cli(*cli, "stop", "redis")
        assert stop.returncode == 0, stop.stderr
        down = run_cli(*cli, "down")
        assert down.returncode == 0, down.stderr
        assert not stackkit.state_of(project, "redis").container_id
        assert_one_line_error(run_cli(*cli, "up", "redis"), ".env is missing", "liar-tui setup")
    finally:
        stackkit.destroy(project)


def _env_with(project: Project, key: str, value: str) -> None:
    lines = [ln for ln in project.env_file.read_text().splitlines() if not ln.startswith(f"{key}=")]
    project.env_file.write_text("\n".join(lines + [f"{key}={value}"]) + "\n")


def test_actions_check_ports_and_containers_before_they_touch_a_service(tmp_path: Path, engine_ready: None) -> None:
    """A port changed in .env to a taken one does not cost the running container on recreate; a
    stopped container's start/restart says which port is taken; restart/stop of a service with no
    container says so instead of reporting success."""
    project = stackkit.make_project(tmp_path / "p")
    cli = ("--project-dir", str(project.root), "--project-name", project.name)
    own_port = stackkit.port(project, "REDIS_PORT")
    try:
        up = run_cli(*cli, "up", "redis")
        assert up.returncode == 0, up.stderr
        before = stackkit.state_of(project, "redis").container_id
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            _env_with(project, "REDIS_PORT", str(port))
            out = run_cli(*cli, "recreate", "redis")
            assert_one_line_error(out, "recreate redis failed", f"port {port}", "REDIS_PORT", "already in use", code=2)
            state = stackkit.state_of(project, "redis")
            assert state.running and state.container_id == before, "the working container was kept"
        _env_with(project, "REDIS_PORT", str(own_port))

        # compose itself finds these only when it creates the new container, after it removed the
        # working one (QA: redis left `Created`): a missing secret, an address this host lacks
        env_text = project.env_file.read_text()
        for service, var, says in (("redis", "REDIS_PASSWORD", "set it in compose/.env"),  # compose's own check
                                   ("minio", "MINIO_ROOT_PASSWORD", "set it there")):  # a secret only
            if service == "minio":
                assert run_cli(*cli, "up", "minio").returncode == 0
            kept = stackkit.state_of(project, service).container_id
            line = next(ln for ln in env_text.splitlines() if ln.startswith(f"{var}="))
            project.env_file.write_text(env_text.replace(line + "\n", ""))
            out = run_cli(*cli, "recreate", service)
            assert_one_line_error(out, var, says, code=2)
            assert "env.example to" not in out.stderr  # .env is there: copying the example would lose it
            state = stackkit.state_of(project, service)
            assert state.running and state.container_id == kept, f"{service}: the working container was kept"
            project.env_file.write_text(env_text)
        _env_with(project, "BIND_ADDRESS", "10.254.254.254")
        out = run_cli(*cli, "recreate", "redis")
        assert_one_line_error(out, "recreate redis failed", "BIND_ADDRESS 10.254.254.254", "not an address of this host", code=2)
        state = stackkit.state_of(project, "redis")
        assert state.running and state.container_id == before, "the working container was kept"
        _env_with(project, "BIND_ADDRESS", "127.0.0.1")

        assert run_cli(*cli, "stop", "redis").returncode == 0
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", own_port))
            taken.listen()
            for action in ("restart", "start"):
                out = run_cli(*cli, action, "redis")
                assert_one_line_error(out, f"{action} redis failed", f"port {own_port}", "REDIS_PORT", "already in use", code=2)
                assert not stackkit.state_of(project, "redis").running
        assert run_cli(*cli, "start", "redis").returncode == 0

        assert run_cli(*cli, "down").returncode == 0
        for action in ("restart", "stop", "start"):
            out = run_cli(*cli, action, "redis")
            assert_one_line_error(out, f"{action} redis failed", "redis has no container", "liar-tui up redis", code=1)
    finally:
        stackkit.destroy(project)


def test_a_reader_that_leaves_early_is_not_an_engine_error(tmp_path: Path, engine_ready: None) -> None:
    """`liar-tui status | grep -q unhealthy`: the pipe closes early; that is not 'the engine
    dropped the connection' (BrokenPipeError is a ConnectionError), and not a failure."""
    project = stackkit.make_project(tmp_path / "p")
    for args in (["status"], ["status", "--json"]):
        cmd = " ".join([sys.executable, "-m", "liar_tui", "--project-dir", str(project.root),
                        "--project-name", project.name, *args])  # not the developer's stack
        out = subprocess.run(["bash", "-c", f"{cmd} | true; echo rc=${{PIPESTATUS[0]}}"],
                             capture_output=True, text=True, timeout=120)
        assert out.stdout.strip() == "rc=0" and out.stderr == "", out


def test_a_missing_env_file_is_named_by_status_probes_and_restore(running_stack: Project, tmp_path: Path) -> None:
    """With compose/.env gone, the probes do not blame a password mismatch (and suggest a wrong
    fix), and restore says so before verifying a set for minutes."""
    import json

    env_file = running_stack.env_file
    aside = tmp_path / "env.aside"
    env_file.rename(aside)
    try:
        cli = ("--project-dir", str(running_stack.root), "--project-name", running_stack.name)
        out = run_cli(*cli, "status", "--json")
        assert out.returncode == 0, out.stderr
        probes = {s["name"]: s["probe"] for s in json.loads(out.stdout)["services"]}
        assert json.loads(out.stdout)["probe_level"] == "fail"  # the summary a monitoring script reads
        for service in ("postgres", "redis", "minio"):
            assert probes[service]["level"] == "fail" and ".env is missing" in probes[service]["reason"], probes[service]
            assert "password" not in probes[service]["reason"], probes[service]
        # drift too names the file, not the first password variable compose met (QA)
        drift = {s["name"]: s["drift_detail"]["error"] for s in json.loads(out.stdout)["services"]}
        assert all(err.endswith(".env is missing") for err in drift.values()), drift
        restore = run_cli(*cli, "restore", "latest", "--yes", "--backup-dir", str(tmp_path / "none"))
        assert_one_line_error(restore, ".env is missing", "liar-tui setup")
    finally:
        aside.rename(env_file)


def test_up_wait_timeout_names_the_slow_service_and_the_fix(tmp_path: Path, engine_ready: None) -> None:
    """A service not healthy when --wait's time is up: one line naming it and the fix. compose
    itself sometimes exits 0 then (about one run in four here), so liar-tui checks the health."""
    project = stackkit.make_project(tmp_path / "p")
    override = project.compose_dir / "docker-compose.override.yml"
    # a redis whose healthcheck never passes (a fresh postgres was healthy within a second in CI)
    text = override.read_text()
    assert "  redis:\n    healthcheck:\n" in text
    override.write_text(text.replace("  redis:\n    healthcheck:\n", '  redis:\n    healthcheck:\n      test: ["CMD", "false"]\n'))
    try:
        out = run_cli("--project-dir", str(project.root), "--project-name", project.name, "up", "redis", "--wait", "--timeout", "3")
        line = assert_one_line_error(out, "not healthy after", "not healthy yet: redis (", "--timeout")
        assert "liar-tui status" in line
    finally:
        stackkit.destroy(project)


@pytest.mark.parametrize("args,needles", [
    (["--project-name", "", "status"], ["project name ''", "lowercase"]),
    (["--project-name", "Bad Name", "status"], ["project name 'Bad Name'", "lowercase"]),
])
def test_a_project_name_compose_would_refuse(project: Project, args: list[str], needles: list[str]) -> None:
    out = run_cli("--project-dir", str(project.root), *args)
    assert_one_line_error(out, *needles)


def test_negative_counts_are_refused(project: Project) -> None:
    for args in (["logs", "redis", "-n", "-5"], ["up", "--wait", "--timeout", "-5"], ["activity", "-n", "-1"]):
        out = run_cli("--project-dir", str(project.root), *args)
        assert out.returncode == 2 and "is less than" in out.stderr and "Traceback" not in out.stderr, out.stderr
    # autoheal's seconds: `--recheck 0` made a busy loop, `--backoff nan` announced 'nans doubling'
    for args in (["--recheck", "0"], ["--backoff", "nan"], ["--max-backoff", "-5"], ["--probe-interval", "inf"]):
        out = run_cli("--project-dir", str(project.root), "autoheal", *args)
        assert out.returncode == 2 and "is not a positive number of seconds" in out.stderr, out.stderr
