"""Drift: a running service that no longer matches the compose file or .env.

What is compared, for each service that has a container:

1. compose's own config hash. The container's `com.docker.compose.config-hash` label against
   `docker compose config --hash=*` now. It covers the service's whole definition after
   interpolation: image reference, command, environment, ports, mem_limit, healthcheck, volumes,
   labels, restart policy... So editing the compose file, or a .env value the definition
   uses (a port, an image), shows here. A changed hash is what `compose up` itself acts on.
2. The image. The container's image ID against the ID its image reference has now (an offline image
   rebuilt or a tag pulled anew since the container was created). `compose up` recreates for
   this too.
3. Injected secrets and configs. Measured on compose 2.40.3: the hash covers only a service's
   *references* to secrets and configs (source and target), not their content. Changing
   REDIS_PASSWORD in .env changes `configs.redis_conf.content` and the `redis_password` secret,
   yet the hash stays the same and `compose up` does not recreate redis: the container keeps the
   old password. Compose copies such secrets (`environment:` source) and configs
   (`content:`/`environment:` source) into the container when it creates it, so the files in the
   container are the truth. They are read through the Engine API (a `docker cp`-style archive
   read, no exec) and compared by SHA-256 with what compose would write now. The values never leave
   this module, and only hashes are kept in memory, per container. `file:` sources are bind
   mounts: the container already sees their current content.
4. Bind-mounted files (e.g. nginx/nginx.conf). A file modified after the container started is
   mounted live but not reloaded by most servers. That is reported with the fix "restart", not
   "recreate".

Not covered: changes to files inside bind-mounted *directories* (data folders), images whose
reference itself is unchanged and not present locally, and settings changed at runtime inside a
service (CONFIG SET, ALTER SYSTEM). Those are the probes' job.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InvalidComposeFile, StackError
from .model import SERVICES, ServiceState, format_bytes

if TYPE_CHECKING:
    from .compose import Stack

RECREATE, RESTART = "recreate", "restart"
#: DriftInfo.error of a service with no container: nothing to compare, and nothing wrong to say
NO_CONTAINER = "no container"


@dataclass(frozen=True)
class DriftInfo:
    """Whether one service's container still matches the compose file and .env."""

    service: str
    drifted: bool = False
    fix: str = ""  # "recreate" | "restart" | ""
    reasons: tuple[str, ...] = ()
    container_hash: str = ""
    compose_hash: str = ""
    checked: tuple[str, ...] = ()  # what was compared (config-hash, image, secret:x, config:y, file:z)
    error: str = ""  # why drift could not be checked
    causes: tuple[str, ...] = ()  # the compared items that differ, named as in `checked`
    #: the check failed for a passing reason (the engine restarting, a container going away
    #: meanwhile): worth looking again soon, though nothing the check compares has changed
    retry: bool = False

    @property
    def unchecked(self) -> bool:
        """Drift could not be checked for a reason worth saying (a compose file compose rejects,
        no .env); a service without a container is not one."""
        return bool(self.error) and self.error != NO_CONTAINER

    @property
    def advice(self) -> str:
        if not self.drifted:
            return ""
        return f"{self.fix} to apply (`liar-tui {self.fix} {self.service}`)"

    def summary(self) -> str:
        if self.error:
            return f"not checked: {self.error}"
        if not self.drifted:
            return "matches the compose file and .env"
        return f"{'; '.join(self.reasons)}: {self.advice}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "drift": self.drifted,
            "fix": self.fix,
            "reasons": list(self.reasons),
            "container_hash": self.container_hash,
            "compose_hash": self.compose_hash,
            "checked": list(self.checked),
            "causes": list(self.causes),
            "error": self.error,
        }


def parse_hash_lines(text: str) -> dict[str, str]:
    """`docker compose config --hash=*` output ('service hash' per line) -> {service: hash}."""
    result = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            result[parts[0]] = parts[1]
    return result


def compose_argv(stack: "Stack") -> list[str]:
    """`docker compose` with the project's name, files, env file and directory (as Stack uses them)."""
    project = stack.project
    args = ["docker", "compose", "-p", project.name]
    for f in project.compose_files():
        args += ["-f", str(f)]
    if project.env_file.exists():
        args += ["--env-file", str(project.env_file)]
    args += ["--project-directory", str(project.compose_dir)]
    return args


def compose_hashes(stack: "Stack", timeout: float = 20) -> dict[str, str]:
    proc = subprocess.run(
        [*compose_argv(stack), "config", "--hash=*"], capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        from .compose import first_error_line

        raise InvalidComposeFile(
            f"compose rejects {stack.project.rel(stack.project.compose_file)}: {first_error_line(proc.stderr)}"
        )
    return parse_hash_lines(proc.stdout)


def file_stamps(paths: list[Path]) -> tuple:
    """(path, mtime, size, inode) of each file, None for one that is missing: equal stamps, same files."""
    out: list[tuple[str, int | None, int | None, int | None]] = []
    for path in paths:
        try:
            st = path.stat()
            out.append((str(path), st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            out.append((str(path), None, None, None))
    return tuple(out)


class ComposeConfigCache:
    """What the two `docker compose config` runs said, kept while their inputs stay the same.

    A console re-checks drift whenever a container changes (a restart, a recreate), but compose's
    answer depends only on the compose files and .env (and the console's own environment, fixed
    for its life). Each run is the docker CLI plus its compose plugin, ~70 MB resident and ~0.1 s
    of CPU: a recreate during a log burst took the console's process tree from 75 to ~140 MB
    for that moment (bench). Entries older than `max_age` are not used (inputs compose reads that
    are not stamped here, such as an `env_file:` of a service)."""

    def __init__(self, max_age: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._entry: tuple[tuple, float, dict[str, str], dict[str, Any]] | None = None
        self.runs = 0  # how often compose was asked (for tests)

    @staticmethod
    def stamp(stack: "Stack") -> tuple:
        project = stack.project
        return (str(project.root), project.name, file_stamps([*project.compose_files(), project.env_file]))

    def get(self, stack: "Stack") -> tuple[dict[str, str], dict[str, Any]]:
        key = self.stamp(stack)
        with self._lock:
            entry = self._entry
            if entry is not None and entry[0] == key and self._clock() - entry[1] < self.max_age:
                return entry[2], entry[3]
        hashes = compose_hashes(stack)
        model = stack.config()
        with self._lock:
            self.runs += 1
            # stamped before the runs: a file edited while compose read it is read again next time
            self._entry = (key, self._clock(), hashes, model)
        return hashes, model


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# (container id, path) -> sha256 of the file in the container. Injected files do not change
# once the container has started, so one read per container is enough for a console that checks
# repeatedly. A file not there is not remembered: compose puts them in when it starts the
# container, and a check between create and start (during an up) saw a drift until the next one.
_CONTENT_CACHE: OrderedDict[tuple[str, str], str] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 256


def _container_file_sha(engine: Any, container_id: str, path: str) -> str | None:
    """SHA-256 of one file in a container (None when it is not there), read via the archive API."""
    key = (container_id, path)
    with _CACHE_LOCK:
        if key in _CONTENT_CACHE:
            _CONTENT_CACHE.move_to_end(key)
            return _CONTENT_CACHE[key]
    from .engineapi import NotFound

    try:
        stream, _stat = engine.api.get_archive(container_id, path)
        raw = b"".join(stream)
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            member = next((m for m in tar.getmembers() if m.isfile()), None)
            fh = tar.extractfile(member) if member is not None else None
            digest = _sha(fh.read()) if fh is not None else None
    except NotFound:
        digest = None
    if digest is None:
        return None
    with _CACHE_LOCK:
        _CONTENT_CACHE[key] = digest
        while len(_CONTENT_CACHE) > _CACHE_SIZE:
            _CONTENT_CACHE.popitem(last=False)
    return digest


@dataclass
class _Injected:
    kind: str  # secret | config
    name: str
    target: str
    expected: bytes | None  # None: source not resolvable here (file:, external)
    source: str  # how a person names the source (REDIS_PASSWORD in .env, the compose file)


def _compose_environment(stack: "Stack") -> dict[str, str]:
    # compose resolves variables from the process environment first, then the env file.
    return {**stack.project.env(), **os.environ}


def injected_files(stack: "Stack", model: dict[str, Any], service: str) -> list[_Injected]:
    """The secrets and configs compose copies into the service's container, with their content now."""
    env = _compose_environment(stack)
    spec = (model.get("services") or {}).get(service) or {}
    out: list[_Injected] = []
    for kind, top_key, default_dir in (("secret", "secrets", "/run/secrets/"), ("config", "configs", "/")):
        top = model.get(top_key) or {}
        for ref in spec.get(top_key) or []:
            if isinstance(ref, str):
                ref = {"source": ref}
            name = str(ref.get("source") or "")
            definition = top.get(name) or {}
            target = str(ref.get("target") or (default_dir + name))
            if not target.startswith("/"):
                target = default_dir + target
            if "content" in definition:
                expected: bytes | None = str(definition["content"]).encode("utf-8")
                source = "content in the compose file (interpolated from .env)"
            elif "environment" in definition:
                var = str(definition["environment"])
                expected = env.get(var, "").encode("utf-8")
                source = f"{var} in .env"
            else:
                expected, source = None, "file"
            out.append(_Injected(kind, name, target, expected, source))
    return out


def _bind_files(spec: dict[str, Any]) -> list[Path]:
    files = []
    for vol in spec.get("volumes") or []:
        if isinstance(vol, dict) and vol.get("type") == "bind" and vol.get("source"):
            path = Path(str(vol["source"]))
            if path.is_file():
                files.append(path)
    return files


def _explain_hash_change(spec: dict[str, Any], data: dict[str, Any]) -> list[str]:
    """What differs between the compose model and the container, for the fields people edit most.
    Only names are given for environment variables, never values."""
    out: list[str] = []
    config = data.get("Config") or {}
    host = data.get("HostConfig") or {}
    image = str(spec.get("image") or "")
    if image and image != config.get("Image"):
        out.append(f"image {config.get('Image')} -> {image}")
    mem = spec.get("mem_limit")
    if mem is not None:
        try:
            want = int(mem)
        except (TypeError, ValueError):
            want = None
        have = int(host.get("Memory") or 0)
        if want is not None and want != have:
            out.append(f"mem_limit {format_bytes(have) if have else 'none'} -> {format_bytes(want)}")
    env_now = {str(k): "" if v is None else str(v) for k, v in (spec.get("environment") or {}).items()}
    env_then = dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)
    changed = sorted(k for k, v in env_now.items() if env_then.get(k) != v)
    if changed:
        out.append(f"environment {', '.join(changed)} changed")
    cmd = spec.get("command")
    if cmd is not None and list(cmd) != list(config.get("Cmd") or []):
        out.append("command changed")
    published = sorted(str(p.get("published")) for p in spec.get("ports") or [] if p.get("published"))
    bound = sorted(
        str(b.get("HostPort")) for bs in (host.get("PortBindings") or {}).values() for b in (bs or []) if b.get("HostPort")
    )
    if published and published != bound:
        out.append(f"ports {','.join(bound) or 'none'} -> {','.join(published)}")
    return out


def detect_drift(
    stack: "Stack",
    states: dict[str, ServiceState] | None = None,
    services: tuple[str, ...] = SERVICES,
    cache: ComposeConfigCache | None = None,
) -> dict[str, DriftInfo]:
    """DriftInfo per service (see the module docstring for what is covered).

    A broken compose file or an unreachable engine gives every service a DriftInfo with `error`
    set instead of raising. Costs two `docker compose config` runs (~0.1 s each) and, the first
    time per container, one archive read per injected secret/config. The two runs go one after
    the other: each (the docker CLI and its compose plugin) is ~70 MB resident; side by side they
    were ~0.05 s faster but took the console's process tree to ~210 MB for that moment. With a
    `cache`, they run only when the compose files or .env changed (or the entry is old).
    """
    if not stack.project.env_file.exists():
        # compose would only say that the first password variable it meets is missing a value
        return {s: DriftInfo(s, error=f"{stack.project.rel(stack.project.env_file)} is missing") for s in services}
    try:
        if cache is not None:
            hashes, model = cache.get(stack)
        else:
            hashes = compose_hashes(stack)
            model = stack.config()
        states = states if states is not None else stack.states()
    except (StackError, OSError, subprocess.SubprocessError) as exc:
        retry = not isinstance(exc, InvalidComposeFile)  # a file compose rejects stays so until edited
        return {s: DriftInfo(s, error=str(exc), retry=retry) for s in services}
    engine = stack.engine

    def one(service: str) -> DriftInfo:
        try:
            return _service_drift(stack, engine, model, hashes, states.get(service) or ServiceState(service), service)
        except Exception as exc:  # noqa: BLE001 - e.g. the container vanished meanwhile
            return DriftInfo(service, error=f"{type(exc).__name__}: {exc}"[:200], retry=True)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(one, services))
    return {d.service: d for d in results}


def _service_drift(
    stack: "Stack", engine: Any, model: dict[str, Any], hashes: dict[str, str], st: ServiceState, service: str
) -> DriftInfo:
    spec = (model.get("services") or {}).get(service)
    if spec is None:
        return DriftInfo(service, error="not in the compose file")
    if not st.container_id:
        return DriftInfo(service, compose_hash=hashes.get(service, ""), error=NO_CONTAINER)
    other = stack.project.made_elsewhere(st.working_dir)
    if other is not None:
        # Compared with this copy's files every service would look drifted, and "recreate" would
        # take the other copy's containers over onto this copy's data.
        return DriftInfo(service, compose_hash=hashes.get(service, ""), error=f"its container was made from {other}")
    data = engine.inspect(st.container_id)
    if data is None:
        return DriftInfo(service, compose_hash=hashes.get(service, ""), error=NO_CONTAINER)
    reasons: list[str] = []
    checked = ["config-hash"]
    causes: list[str] = []
    restart_reasons: list[str] = []
    want = hashes.get(service, "")
    have = st.config_hash
    if want and have != want:
        detail = _explain_hash_change(spec, data)
        causes.append("config-hash")
        reasons.append(
            "definition changed in the compose file or .env" + (f" ({'; '.join(detail)})" if detail else "")
        )
    image_ref = str(spec.get("image") or "")
    if image_ref:
        checked.append("image")
        try:
            current = engine.api.inspect_image(image_ref).get("Id", "")
        except Exception:  # noqa: BLE001 - not present locally: nothing to compare
            current = ""
        if current and data.get("Image") and current != data.get("Image"):
            causes.append("image")
            reasons.append(f"image {image_ref} was rebuilt or pulled since the container was created")
    # compose copies secrets and configs in when it starts a container: one created and never
    # started has none yet, and gets the current ones when it starts
    for item in injected_files(stack, model, service) if st.state != "created" else []:
        if item.expected is None:
            continue
        checked.append(f"{item.kind}:{item.name}")
        actual = _container_file_sha(engine, st.container_id, item.target)
        if actual != _sha(item.expected):
            what = "missing in the container" if actual is None else "differs in the container"
            causes.append(f"{item.kind}:{item.name}")
            reason = f"{item.kind} {item.name} ({item.source}) changed: {what}"
            if service == "postgres" and "POSTGRES_PASSWORD" in item.source:
                # PostgreSQL reads it only when it creates its data folder: a recreate alone
                # leaves the database on the old password (and its probe then says so).
                reason += " (on a database with data, also ALTER USER … PASSWORD in `liar-tui shell postgres`)"
            reasons.append(reason)
    if st.started_at is not None:
        started = st.started_at.timestamp()
        for path in _bind_files(spec):
            checked.append(f"file:{path.name}")
            try:
                mtime = path.stat().st_mtime
            except OSError:
                continue
            if mtime > started + 1:  # +1 s: the file may be written in the same second as the start
                when = datetime.fromtimestamp(mtime, timezone.utc).astimezone().strftime("%H:%M:%S")
                causes.append(f"file:{path.name}")
                restart_reasons.append(f"{stack.project.rel(path)} changed at {when}, after {service} started")
    fix = RECREATE if reasons else RESTART if restart_reasons else ""
    return DriftInfo(
        service, bool(fix), fix, tuple(reasons + restart_reasons), have, want, tuple(checked), "", tuple(causes)
    )


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CONTENT_CACHE.clear()


__all__ = [
    "ComposeConfigCache",
    "DriftInfo",
    "RECREATE",
    "RESTART",
    "compose_hashes",
    "detect_drift",
    "file_stamps",
    "injected_files",
    "parse_hash_lines",
]
