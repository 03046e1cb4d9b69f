"""Backup, verify and restore of the stack's data: PostgreSQL, Redis and MinIO.

    mgr = BackupManager(project, stack)
    bset = mgr.backup(["postgres", "redis", "minio"], progress=print, cancel=threading.Event())
    report = mgr.verify(bset.id)
    mgr.restore(bset.id, ["redis"], verified=report)

Everything runs through what both the official images and the offline stand-ins have: the
Engine API (exec without a TTY, streamed) for pg_dump/pg_restore/psql/redis-check-rdb/cat, Redis's
own protocol from the host (redis-py) and the S3 API (minio SDK) from the host. No password is
ever on a command line: PostgreSQL tools use the container's local socket (trust), Redis and S3
clients read the password from compose/.env in this process.

What each service's backup is, and why:
- postgres: `pg_dump -Fc` of POSTGRES_DB (one repeatable-read snapshot: consistent while writes
  go on) plus `pg_dumpall --globals-only` (roles, so owners and grants restore). Restore drops
  and recreates the database (`pg_restore --create`) after the roles.
- redis: see `_backup_redis` (BGSAVE + copy of the RDB) and `_restore_redis` (the RDB placed as
  the base of a fresh multi-part AOF, because Redis 7 with `appendonly yes` ignores dump.rdb).
- minio: every bucket and object through the S3 API. The bytes go into a few pack files (one
  per download worker); index.json lists each object's bucket, key, size, SHA-256 (its own, not
  the ETag, which is no MD5 for multipart uploads), pack and offset, content type and metadata.
  Key names never become paths, so any key is safe. S3 has no snapshot: objects written during
  the backup may or may not be in it (each object itself is whole).
"""

from __future__ import annotations

import builtins
import hashlib
import io
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from .backupset import (
    FORMAT,
    MANIFEST,
    VERIFY_FILE,
    BackupCancelled,
    BackupDirFull,
    BackupDirNotWritable,
    BackupError,
    BackupFile,
    BackupSet,
    PruneResult,
    SetWriter,
    allocate_set_id,
    ensure_backup_dir,
    find_set,
    full_message,
    is_disk_full,
    list_sets,
    not_writable_message,
    prune_sets,
    read_set,
    resolve_backup_dir,
    sha256_file,
    utcnow,
    write_json_file,
)
from . import locks
from .containerio import CHUNK, ExecCancelled, ExecOutcome, exec_capture, run_exec
from .engine import Engine
from .errors import EnvFileMissing, StackError
from .model import BACKUP_SERVICES, LABEL_PROJECT, LABEL_SERVICE, ServiceState, format_bytes, parse_inspect
from .project import Project

if TYPE_CHECKING:
    from .compose import Stack


#: Object headers kept besides x-amz-meta-*: what S3 stores and returns for an object.
KEPT_HEADERS = ("cache-control", "content-disposition", "content-encoding", "content-language")

S3_WORKERS = 4
PROGRESS_INTERVAL = 0.1


# -- plain data handed to callers -------------------------------------------------------------------
@dataclass(frozen=True)
class BackupProgress:
    """Where one service's backup/verify/restore is. `bytes_total` is None when unknown
    (a pg_dump's size is known only at its end)."""

    service: str
    phase: str  # snapshot | dump | globals | copy | objects | index | verify | restore | done
    bytes_done: int = 0
    bytes_total: int | None = None
    message: str = ""

    @property
    def fraction(self) -> float | None:
        if not self.bytes_total:
            return None
        return min(1.0, self.bytes_done / self.bytes_total)


ProgressFn = Callable[[BackupProgress], None]


@dataclass(frozen=True)
class ServiceCheck:
    """The content check of one service's artefacts (pg_restore -l, redis-check-rdb, object hashes)."""

    service: str
    ok: bool
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VerifyReport:
    set: BackupSet
    ok: bool
    problems: tuple[str, ...]
    checks: tuple[ServiceCheck, ...]
    seconds: float
    services: tuple[str, ...] = ()  # what was checked

    @property
    def unchecked(self) -> tuple[str, ...]:
        """Services whose content check could not run (not running, or stopped/restarted under it)."""
        return tuple(c.service for c in self.checks if c.details.get("not_checked"))

    @property
    def unchecked_reasons(self) -> str:
        """'postgres restarted during verify, redis not running': why those services were not checked."""
        return ", ".join(f"{c.service} {c.details.get('reason') or 'not running'}"
                         for c in self.checks if c.details.get("not_checked"))

    def unchecked_fix(self, again: str = "verify") -> str:
        """What to do about the services that could not be checked, then `again` ('verify again')."""
        if any((c.details.get("reason") or "not running") in ("not running", "stopped during verify")
               for c in self.checks if c.details.get("not_checked")):
            return f"start the stack with `liar-tui up` and {again} again"
        return f"{again} again once it runs steadily (`liar-tui status`)"

    @property
    def unfinished(self) -> bool:
        """Not everything could be checked, and nothing checked was wrong: the set is not known bad."""
        return bool(self.unchecked) and len(self.unchecked) == len(self.problems)

    def check_lines(self) -> list[tuple[str, str]]:
        """(mark, text) per service check; mark is ok, skip (not checked: not running) or FAIL."""
        return [("ok" if c.ok else "skip" if c.details.get("not_checked") else "FAIL", f"{c.service}: {c.summary}")
                for c in self.checks]

    def other_problems(self) -> list[str]:
        """Problems no service check names (a missing or changed file)."""
        named = {f"{c.service}: {c.summary}" for c in self.checks}
        return [p for p in self.problems if p not in named]

    def covers(self, services: Iterable[str]) -> bool:
        return set(services) <= set(self.services)

    def check(self, service: str) -> ServiceCheck | None:
        for c in self.checks:
            if c.service == service:
                return c
        return None


@dataclass(frozen=True)
class ServiceRestore:
    service: str
    summary: str
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RestoreReport:
    set_id: str
    services: tuple[ServiceRestore, ...]
    seconds: float


class ServiceNotRunning(BackupError):
    """Exits 1, as every command does when a service is not up for it (shell, logs, restore,
    restart): 2 is for what stops a command before it starts (engine, .env, usage)."""

    exit_code = 1


class ContainersElsewhere(BackupError):
    """The project's containers were made from another copy: exits 1, as the actions do."""

    exit_code = 1


class RestoreRunning(BackupError):
    """Another restore of the same project holds its lock."""

    exit_code = 1


#: Services whose content check runs a tool inside their container (a restart there ends it).
IN_CONTAINER_CHECKS = ("postgres", "redis")
#: How long a failed in-container check waits for the engine to show a stop or restart.
DISTURB_GRACE = 1.5


class _Reporter:
    """Throttled progress for one service and phase (at most every 0.1 s, plus the last)."""

    def __init__(self, fn: ProgressFn | None, service: str, phase: str, total: int | None = None) -> None:
        self.fn = fn
        self.service = service
        self.phase = phase
        self.total = total
        self.done = 0
        self._last = 0.0
        self._lock = threading.Lock()

    def emit(self, message: str = "") -> None:
        if self.fn is None:
            return
        self.fn(BackupProgress(self.service, self.phase, self.done, self.total, message))

    def reach(self, done: int) -> None:
        """`done` of the total so far (a count that is not a sum of steps)."""
        self.done = done
        self.add(0)

    def add(self, n: int) -> None:
        with self._lock:
            self.done += n
            now = time.monotonic()
            if now - self._last < PROGRESS_INTERVAL:
                return
            self._last = now
        self.emit()

    def set_total(self, total: int | None) -> None:
        self.total = total


def _check_cancel(cancel: threading.Event | None, what: str = "backup") -> None:
    if cancel is not None and cancel.is_set():
        raise BackupCancelled(f"{what} cancelled")


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# -- access to the running stack ----------------------------------------------------------------------
class StackAccess:
    """Containers, published ports and clients of the running stack, with one-line errors."""

    def __init__(self, project: Project, engine: Engine) -> None:
        self.project = project
        self.engine = engine
        self.redact = project.redactor()
        self._states: dict[str, ServiceState] = {}
        self._inspected: dict[str, dict[str, Any]] = {}
        self._redis: Any = None
        self._s3: Any = None

    def env(self) -> dict[str, str]:
        if not self.project.env_file.exists():
            raise EnvFileMissing(
                f"{self.project.rel(self.project.env_file)} is missing: run `liar-tui setup` or copy "
                f"{self.project.rel(self.project.env_example)} to it (backups read the passwords from it)"
            )
        return self.project.env()

    def secret(self, key: str) -> str:
        value = self.env().get(key, "")
        if not value:
            raise BackupError(
                f"{self.project.rel(self.project.env_file)} has no {key}: set it to the value the stack runs with "
                f"(or run `liar-tui setup`)"
            )
        return value

    def state(self, service: str, refresh: bool = False) -> ServiceState:
        """The service's newest container (one list + one inspect: cheaper than the whole project)."""
        if refresh or service not in self._states:
            try:
                rows = self.engine.api.containers(all=True, filters={"label": [
                    f"{LABEL_PROJECT}={self.project.name}", f"{LABEL_SERVICE}={service}"]})
            except Exception:  # noqa: BLE001 - say why in one line
                self.engine.ping()
                raise
            st = ServiceState(service=service)
            for row in sorted(rows, key=lambda c: c.get("Created", 0), reverse=True):
                data = self.engine.inspect(row["Id"])
                if data is not None:
                    st = parse_inspect(data, service)
                    self._inspected[service] = data
                    break
            self._states[service] = st
        return self._states[service]

    def running(self, service: str, refresh: bool = False) -> ServiceState:
        st = self.state(service, refresh)
        other = self.project.made_elsewhere(st.working_dir) if st.container_id else None
        if other is not None:
            # another copy's containers: backing them up, or restoring into them, under this
            # copy's name and .env is not what anyone means
            raise ContainersElsewhere(self.project.elsewhere_message(other))
        if not st.container_id:
            raise ServiceNotRunning(f"{service} has no container: bring it up with `liar-tui up {service}` and try again")
        if not st.running:
            raise ServiceNotRunning(
                f"{service} is not running ({st.status_word}): start it with `liar-tui start {service}` and try again"
            )
        return st

    def address(self, service: str, container_port: int, env_key: str) -> tuple[str, int]:
        st = self.running(service)
        for p in st.ports:
            if p.container_port == container_port:
                host = p.host_ip
                if host in ("0.0.0.0", "::", ""):
                    host = "127.0.0.1"
                return host, p.host_port
        value = self.env().get(env_key, "")
        if value.isdigit():
            return "127.0.0.1", int(value)
        raise BackupError(
            f"{service} publishes no port {container_port} to this host: backups reach it there; "
            f"publish it (set {env_key} in {self.project.rel(self.project.env_file)}) and recreate {service}"
        )

    # postgres ----------------------------------------------------------------------------------
    def pg_identity(self, st: ServiceState) -> tuple[str, str]:
        """POSTGRES_USER and POSTGRES_DB as the container has them (what the server was made with)."""
        data = self._inspected.get("postgres") or self.engine.inspect(st.container_id) or {}
        env: dict[str, str] = {}
        for item in (data.get("Config") or {}).get("Env") or []:
            key, _, value = str(item).partition("=")
            env[key] = value
        project_env = self.project.env()
        user = env.get("POSTGRES_USER") or project_env.get("POSTGRES_USER") or "postgres"
        db = env.get("POSTGRES_DB") or project_env.get("POSTGRES_DB") or user
        return user, db

    # redis --------------------------------------------------------------------------------------
    def redis(self) -> Any:
        """A logged-in client (cached; one-line errors for a wrong password or no answer)."""
        if self._redis is None:
            self._redis = self._connect_redis()
        return self._redis

    def _connect_redis(self) -> Any:
        import redis

        host, port = self.address("redis", 6379, "REDIS_PORT")
        client = redis.Redis(host=host, port=port, password=self.secret("REDIS_PASSWORD"),
                             socket_timeout=30, socket_connect_timeout=5)
        try:
            client.ping()
        except redis.exceptions.AuthenticationError:
            raise BackupError(
                f"redis refused REDIS_PASSWORD from {self.project.rel(self.project.env_file)}: the running container "
                f"has another one; recreate redis (`liar-tui recreate redis`) after changing .env"
            ) from None
        except redis.exceptions.ResponseError as exc:
            if "WRONGPASS" in str(exc) or "NOAUTH" in str(exc):
                raise BackupError(
                    f"redis refused REDIS_PASSWORD from {self.project.rel(self.project.env_file)}: recreate redis "
                    f"(`liar-tui recreate redis`) after changing .env"
                ) from None
            raise BackupError(f"redis: {self.redact(str(exc))}") from None
        except redis.exceptions.ConnectionError as exc:
            raise BackupError(f"cannot reach redis on {host}:{port}: {self.redact(str(exc))}: is it healthy? (`liar-tui status`)") from None
        return client

    # minio --------------------------------------------------------------------------------------
    def s3(self) -> Any:
        """A logged-in S3 client for the MinIO service (cached)."""
        if self._s3 is None:
            self._s3 = self._connect_s3()
        return self._s3

    def _connect_s3(self) -> Any:
        import urllib3

        from .s3sdk import minio

        Minio = minio().Minio
        host, port = self.address("minio", 9000, "MINIO_API_PORT")
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=120),
            maxsize=S3_WORKERS * 2,
            retries=urllib3.Retry(total=3, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
        )
        hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        client = Minio(hostport, access_key=self.secret("MINIO_ROOT_USER"), secret_key=self.secret("MINIO_ROOT_PASSWORD"),
                       secure=False, region="us-east-1", http_client=http)
        try:
            client.list_buckets()
        except Exception as exc:  # noqa: BLE001
            raise self.s3_error(exc) from None
        return client

    def s3_error(self, exc: BaseException, what: str = "MinIO") -> BackupError:
        from minio.error import S3Error

        if isinstance(exc, BackupError):
            return exc
        if isinstance(exc, S3Error) and exc.code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied"):
            return BackupError(
                f"MinIO refused MINIO_ROOT_USER/MINIO_ROOT_PASSWORD from {self.project.rel(self.project.env_file)} "
                f"({exc.code}): recreate minio (`liar-tui recreate minio`) after changing .env"
            )
        import urllib3.exceptions

        if isinstance(exc, (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)):
            # e.g. MaxRetryError(... url: /replays/big-1.bin?uploadId=... (Caused by ResponseError(
            # 'too many 502 error responses'))): the server went away mid-way (QA: OOM-killed)
            reason = getattr(exc, "reason", None) or exc
            text = str(reason).splitlines()[0] if str(reason) else type(reason).__name__
            # "HTTPConnection(host='127.0.0.1', port=9000): Failed to establish a new connection:
            # [Errno 111] Connection refused" -> "... Connection refused at 127.0.0.1:9000"
            m = re.match(r"HTTPS?Connection(?:Pool)?\(host='([^']*)', port=(\d+)\): (.*)", text)
            if m:
                text = f"{m.group(3)} at {m.group(1)}:{m.group(2)}"
            return BackupError(f"{what}: MinIO stopped answering ({self.redact(text)[:160]}): see `liar-tui status` "
                               f"and `liar-tui logs minio`")
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return BackupError(f"{what}: {self.redact(text)[:300]}")


# -- the manager --------------------------------------------------------------------------------------
def open_new_set(backup_dir: Path, project: str, services: list[str]) -> SetWriter:
    """A new set's writer, opened under a free id. Two backups started in the same second (cron
    and a console) both found the same id free: the one whose mkdir lost takes the next id rather
    than calling the folder not writable."""
    for _ in range(100):
        writer = SetWriter(backup_dir, allocate_set_id(backup_dir), project, services)
        try:
            return writer.open()
        except FileExistsError:
            if (backup_dir / writer.id).exists() or writer.path.exists():
                continue  # taken between the look and the mkdir
            raise BackupDirNotWritable(not_writable_message(backup_dir, OSError("cannot create a set folder"))) from None
        except OSError as exc:
            if is_disk_full(exc):
                raise BackupDirFull(full_message(backup_dir, 0)) from None
            raise BackupDirNotWritable(not_writable_message(backup_dir, exc)) from None
    raise BackupDirNotWritable(not_writable_message(backup_dir, OSError("no free set id after 100 tries")))


class BackupManager:
    """Backups of one project into one backup dir.

    Meant to run in a worker thread (it blocks). `cancel` (a threading.Event) may be set from any
    thread. `progress` is called from the calling thread and, during the MinIO part, from the
    download/upload worker threads: a UI must hand it on (e.g. Textual's post_message), not draw."""

    def __init__(self, project: Project, stack: "Stack | None" = None, backup_dir: Path | str | None = None,
                 engine: Engine | None = None) -> None:
        self.project = project
        self.backup_dir = Path(backup_dir).absolute() if backup_dir else resolve_backup_dir(project.root)
        self._engine = engine or (stack.engine if stack is not None else None)
        self.redact = project.redactor()
        self._restore_lock_fd: int | None = None
        self._restore_lock_depth = 0
        self._restore_lock_guard = threading.Lock()

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = Engine()
        return self._engine

    def access(self) -> StackAccess:
        return StackAccess(self.project, self.engine)

    # -- listing -------------------------------------------------------------------------------
    def list(self) -> list[BackupSet]:
        return list_sets(self.backup_dir)

    def get(self, name: str, *, restorable: bool = False, services: Iterable[str] = ()) -> BackupSet:
        """A set by id, unique id start, folder or `latest` (for a restore: the newest set whose
        last verify did not fail and that holds `services`)."""
        return find_set(self.backup_dir, name, restorable=restorable, services=tuple(services))

    # -- the restore lock --------------------------------------------------------------------------
    def restore_lock_path(self) -> Path:
        return self.project.lock_path("restore")

    @contextmanager
    def restore_lock(self) -> Iterator[None]:
        """One restore of a project at a time (two at once fought over the same containers and
        files: 'Bad file descriptor'). An flock on docker/liar-tui-restore-PROJECT.lock, held by
        this manager (re-entrant: the CLI holds it from the verify to the end, `restore` takes it
        again) and let go when the process ends, however it ends. The holder's pid is in the file."""
        with self._restore_lock_guard:
            if self._restore_lock_depth == 0:
                self._restore_lock_fd = self._take_restore_lock()
            self._restore_lock_depth += 1
        try:
            yield
        finally:
            with self._restore_lock_guard:
                self._restore_lock_depth -= 1
                if self._restore_lock_depth == 0 and self._restore_lock_fd is not None:
                    os.close(self._restore_lock_fd)  # also lets the flock go
                    self._restore_lock_fd = None

    def _take_restore_lock(self) -> int:
        path = self.restore_lock_path()
        try:
            # a short wait: autoheal looks at this lock (locks.held) before each restart
            fd = locks.take(path, wait=0.5)
        except OSError as exc:
            raise BackupError(f"cannot create the restore lock {path}: {exc.strerror or exc}: check that folder's owner "
                              f"and permissions") from None
        if fd is None:
            raise RestoreRunning(f"a restore of {self.project.name} is running{locks.holder(path)}: wait for it") from None
        return fd

    def prune(self, keep: int) -> PruneResult:
        return prune_sets(self.backup_dir, keep, project=self.project.name)

    # -- backup --------------------------------------------------------------------------------
    def backup(self, services: Iterable[str] | None = None, progress: ProgressFn | None = None,
               cancel: threading.Event | None = None) -> BackupSet:
        """Back up `services` (default postgres, redis, minio) into a new set; returns it complete.

        On failure or cancel the partial set is removed (if removal itself fails it stays as a
        manifest-less `.ID.partial` folder: listed as incomplete, removed by prune)."""
        wanted = _validate_services(services)
        access = self.access()
        ensure_backup_dir(self.backup_dir)
        # Everything that can be checked before writing a byte: engine, .env, containers, logins.
        access.env()
        for svc in wanted:
            access.running(svc)
        if "redis" in wanted:
            access.redis()
        if "minio" in wanted:
            access.s3()
        writer = open_new_set(self.backup_dir, self.project.name, list(wanted))
        meta: dict[str, Any] = {}
        tools: dict[str, str] = {"liar-tui": __version__}
        try:
            for svc in wanted:
                _check_cancel(cancel)
                fn = {"postgres": self._backup_postgres, "redis": self._backup_redis, "minio": self._backup_minio}[svc]
                started = time.monotonic()
                meta[svc] = fn(access, writer, progress, cancel, tools)
                meta[svc]["seconds"] = round(time.monotonic() - started, 3)
                if progress is not None:
                    size = sum(f.size for f in writer.files if f.service == svc)
                    progress(BackupProgress(svc, "done", size, size, f"{svc}: {format_bytes(size)} in {meta[svc]['seconds']:.1f}s"))
            _check_cancel(cancel)
            path = writer.finish(meta, tools)
        except BaseException as exc:
            left = not writer.abandon()
            suffix = f" (could not remove {writer.path}: it is listed as incomplete; `liar-tui backup prune --keep N` removes it)" if left else ""
            if isinstance(exc, BackupCancelled):
                raise BackupCancelled(f"backup cancelled: nothing was kept{suffix}") from None
            if isinstance(exc, OSError) and is_disk_full(exc):
                raise BackupDirFull(full_message(self.backup_dir, writer.written_bytes()) + suffix) from None
            if isinstance(exc, OSError) and getattr(exc, "filename", None) and str(self.backup_dir) in str(exc.filename):
                raise BackupDirNotWritable(not_writable_message(self.backup_dir, exc) + suffix) from None
            if isinstance(exc, StackError):
                raise type(exc)(str(exc) + suffix) from None
            raise
        return read_set(path)

    # postgres ----------------------------------------------------------------------------------
    def _backup_postgres(self, access: StackAccess, w: SetWriter, progress: ProgressFn | None,
                         cancel: threading.Event | None, tools: dict[str, str]) -> dict[str, Any]:
        st = access.running("postgres")
        user, db = access.pg_identity(st)
        rep = _Reporter(progress, "postgres", "dump")
        rep.emit(f"pg_dump -Fc {db}")
        api = self.engine.api

        # The roles are small: dump them in parallel with the database.
        globals_box: dict[str, Any] = {}

        def dump_globals() -> None:
            gw = w.writer("postgres/globals.sql", "postgres", "globals")
            try:
                out = run_exec(api, st.container_id, ["pg_dumpall", "--globals-only", "--no-password", "-U", user],
                               on_stdout=gw.write, cancel=cancel)
                if not out.ok:
                    gw.discard()
                    globals_box["error"] = BackupError(f"pg_dumpall --globals-only failed: {self.redact(out.last_error_line())}")
                    return
                globals_box["file"] = gw.commit()
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                gw.discard()
                globals_box["error"] = exc

        gthread = threading.Thread(target=dump_globals, name="pg-globals", daemon=True)
        gthread.start()
        dw = w.writer("postgres/database.dump", "postgres", "dump")
        head = bytearray()

        def sink(data: bytes) -> None:
            if len(head) < 5:
                head.extend(data[: 5 - len(head)])
            dw.write(data)
            rep.add(len(data))

        try:
            # pg_dump's version goes to stderr first; the dump is stdout. Local socket, trust: no password.
            out = run_exec(
                api, st.container_id,
                ["sh", "-c", 'pg_dump --version >&2; exec pg_dump -Fc --no-password -U "$1" -d "$2"', "pg_dump", user, db],
                on_stdout=sink, cancel=cancel,
            )
        except ExecCancelled:
            dw.discard()
            gthread.join()
            raise BackupCancelled("backup cancelled") from None
        except BaseException:
            dw.discard()
            gthread.join()
            raise
        gthread.join()
        if not out.ok:
            dw.discard()
            raise BackupError(f"pg_dump of {db} failed: {self.redact(out.last_error_line())}")
        if bytes(head) != b"PGDMP":
            dw.discard()
            raise BackupError("pg_dump wrote something that is not a custom-format archive (no PGDMP header)")
        if "error" in globals_box:
            dw.discard()
            exc = globals_box["error"]
            if isinstance(exc, ExecCancelled):
                raise BackupCancelled("backup cancelled")
            raise exc
        w.add(dw.commit())
        w.add(globals_box["file"])
        version = next((ln.strip() for ln in out.stderr.splitlines() if ln.startswith("pg_dump")), "")
        tools["pg_dump"] = version
        rep.emit("dump done")
        return {"database": db, "user": user, "format": "custom", "dump_bytes": dw.size, "pg_dump": version}

    # redis ---------------------------------------------------------------------------------------
    def _backup_redis(self, access: StackAccess, w: SetWriter, progress: ProgressFn | None,
                      cancel: threading.Event | None, tools: dict[str, str]) -> dict[str, Any]:
        """A point-in-time snapshot while Redis keeps serving.

        Why BGSAVE + copy of dump.rdb (and not the seed's `cp appendonly.aof`, nor SYNC):
        - Redis 7 keeps a multi-part AOF (appendonlydir/: a base RDB, incr AOF files and a
          manifest). There is no appendonly.aof to copy, and copying the folder while Redis
          appends or rewrites can catch a manifest that names files already gone.
        - BGSAVE forks: the child writes the dataset as it was at the fork to temp-<pid>.rdb and
          renames it to dump.rdb only when complete, while the parent keeps serving. Reading
          dump.rdb through one open() after LASTSAVE/rdb_saves moved and rdb_last_bgsave_status
          is ok therefore gives one whole, consistent snapshot taken after our request, even if
          a later save replaces the file meanwhile (we hold the old inode).
        - The replication route (`redis-cli --rdb`, SYNC) gives the same RDB but needs
          redis-cli on this host or a replica-protocol client, and takes a replica slot.
        """
        import redis as redis_lib

        st = access.running("redis")
        client = access.redis()
        rep = _Reporter(progress, "redis", "snapshot")
        rep.emit("BGSAVE")
        directory, dbfilename = "/data", "dump.rdb"
        try:
            cfg = client.config_get("dir")
            directory = cfg.get("dir") or directory
            dbfilename = client.config_get("dbfilename").get("dbfilename") or dbfilename
        except redis_lib.exceptions.ResponseError:
            pass  # CONFIG renamed away: the images' defaults
        server = client.info("server")
        tools["redis-server"] = str(server.get("redis_version", ""))
        self._redis_snapshot(client, cancel)
        rdb_path = directory.rstrip("/") + "/" + dbfilename

        rep = _Reporter(progress, "redis", "copy")
        rw = w.writer("redis/dump.rdb", "redis", "rdb")
        head = bytearray()
        size_box: list[int] = []

        def sink(data: bytes) -> None:
            if len(head) < 5:
                head.extend(data[: 5 - len(head)])
            rw.write(data)
            rep.add(len(data))

        def on_err(text: bytes) -> None:
            if not size_box:
                first = text.split(b"\n", 1)[0].strip()
                if first.isdigit():
                    size_box.append(int(first))
                    rep.set_total(int(first))

        try:
            # One open() of the file (fd 3): its size and its bytes come from the same snapshot.
            out = run_exec(
                self.engine.api, st.container_id,
                ["sh", "-c", 'exec 3<"$1" || exit 1; wc -c <&3 >&2; exec cat /proc/self/fd/3', "copy-rdb", rdb_path],
                on_stdout=sink, on_stderr=on_err, cancel=cancel,
            )
        except ExecCancelled:
            rw.discard()
            raise BackupCancelled("backup cancelled") from None
        except BaseException:
            rw.discard()
            raise
        if not out.ok:
            rw.discard()
            raise BackupError(f"could not read {rdb_path} in the redis container: {self.redact(out.last_error_line())}")
        if bytes(head) != b"REDIS":
            rw.discard()
            raise BackupError(f"{rdb_path} is not an RDB file (no REDIS header)")
        expected = size_box[0] if size_box else rw.size
        if rw.size != expected:
            rw.discard()
            raise BackupError(f"copied {rw.size} bytes of {rdb_path} but it has {expected}: retry the backup")
        w.add(rw.commit())
        keyspace = client.info("keyspace")
        return {
            "method": "BGSAVE + copy of dump.rdb",
            "rdb_bytes": rw.size,
            "redis_version": tools["redis-server"],
            "appendonly": _config_value(client, "appendonly"),
            "keys_after_snapshot": sum(int(v.get("keys", 0)) for v in keyspace.values() if isinstance(v, dict)),
        }

    @staticmethod
    def _redis_snapshot(client: Any, cancel: threading.Event | None, timeout: float = 1800) -> None:
        """BGSAVE and wait until a save that started after this call has finished, successfully."""
        import redis as redis_lib

        deadline = time.monotonic() + timeout
        while True:
            info = client.info("persistence")
            if not int(info.get("rdb_bgsave_in_progress", 0)):
                before_saves = info.get("rdb_saves")
                before_last = client.lastsave()
                if before_saves is None:
                    # Redis < 7.0 has no rdb_saves: LASTSAVE has a 1 s resolution, so start our
                    # save in a second of its own.
                    time.sleep(1.05 - (time.time() % 1))
                try:
                    client.execute_command("BGSAVE", "SCHEDULE")
                    break
                except redis_lib.exceptions.ResponseError as exc:
                    if "in progress" not in str(exc).lower():
                        raise BackupError(f"redis refused BGSAVE: {exc}") from None
            _check_cancel(cancel)
            if time.monotonic() > deadline:
                raise BackupError("redis is busy saving for too long: retry later")
            time.sleep(0.05)
        while True:
            _check_cancel(cancel)
            info = client.info("persistence")
            if not int(info.get("rdb_bgsave_in_progress", 0)):
                if before_saves is not None:
                    advanced = int(info.get("rdb_saves", 0)) > int(before_saves)
                else:
                    advanced = client.lastsave() > before_last
                if advanced:
                    if info.get("rdb_last_bgsave_status") != "ok":
                        raise BackupError(
                            "redis could not write its snapshot (rdb_last_bgsave_status=err): check free space in "
                            "docker/volumes/redis and `liar-tui logs redis`"
                        )
                    return
            if time.monotonic() > deadline:
                raise BackupError("redis did not finish BGSAVE in time: see `liar-tui logs redis`")
            time.sleep(0.02)

    # minio ---------------------------------------------------------------------------------------
    def _backup_minio(self, access: StackAccess, w: SetWriter, progress: ProgressFn | None,
                      cancel: threading.Event | None, tools: dict[str, str]) -> dict[str, Any]:
        from .s3sdk import minio

        s3 = access.s3()
        tools["minio-py"] = minio().__version__
        # The set holds what was there when it was listed. A bucket or object deleted while the
        # backup runs (the stack keeps serving) is left out and counted, not a failed backup.
        vanished: list[str] = []
        gone_buckets: set[str] = set()  # deleted while their objects were being fetched
        try:
            buckets = sorted(s3.list_buckets(), key=lambda b: b.name)
            listing: list[tuple[str, Any]] = []
            for b in list(buckets):
                try:
                    # A recursive listing names stored objects only (no common prefixes): a key
                    # ending in '/' (a "folder" made in a web console or by an S3 client) is a real object
                    # with its own content type, and the set must hold it like any other.
                    for obj in s3.list_objects(b.name, recursive=True):
                        listing.append((b.name, obj))
                except Exception as exc:  # noqa: BLE001
                    if not _gone(exc):
                        raise
                    buckets.remove(b)
                    vanished.append(b.name + "/")
        except Exception as exc:  # noqa: BLE001
            raise access.s3_error(exc) from None
        total = sum(int(o.size or 0) for _, o in listing)
        rep = _Reporter(progress, "minio", "objects", total)
        rep.emit(f"{len(listing)} objects in {len(buckets)} buckets")
        abort = threading.Event()
        server_box: list[str] = []

        def stop_requested() -> bool:
            return abort.is_set() or (cancel is not None and cancel.is_set())

        # Objects go into one pack file per download worker (index.json says where each one is:
        # pack, offset, size, sha256). Any key name is safe (keys are never paths on disk), and a
        # set of thousands of objects costs a handful of fsyncs instead of one per object.
        local = threading.local()
        packs: list[Any] = []
        packs_lock = threading.Lock()

        def my_pack() -> Any:
            pack = getattr(local, "pack", None)
            if pack is None:
                with packs_lock:
                    rel = f"minio/objects-{len(packs)}.pack"
                    pack = w.writer(rel, "minio", "objects")
                    packs.append(pack)
                local.pack = pack
            return pack

        def fetch(bucket: str, obj: Any) -> dict[str, Any] | None:
            if stop_requested():
                raise BackupCancelled("backup cancelled")
            pack = my_pack()
            offset = pack.size
            digest = hashlib.sha256()
            try:
                resp = s3.get_object(bucket, obj.object_name)
            except Exception as exc:  # noqa: BLE001
                if not _gone(exc):
                    raise
                rep.add(int(obj.size or 0))
                if getattr(exc, "code", None) == "NoSuchBucket":
                    gone_buckets.add(bucket)
                vanished.append(f"{bucket}/{obj.object_name}")
                return None
            try:
                # decode_content=False: the stored bytes, even for Content-Encoding: gzip objects.
                for block in resp.stream(CHUNK, decode_content=False):
                    if stop_requested():
                        raise BackupCancelled("backup cancelled")
                    pack.write(block)
                    digest.update(block)
                    rep.add(len(block))
                headers = {k.lower(): v for k, v in resp.headers.items()}
            finally:
                resp.close()
                resp.release_conn()
            size = pack.size - offset
            length = headers.get("content-length")
            if length is not None and int(length) != size:
                raise BackupError(f"minio: {bucket}/{obj.object_name}: got {size} of {length} bytes: retry the backup")
            if not server_box and headers.get("server"):
                server_box.append(headers["server"])
            return {
                "bucket": bucket,
                "key": obj.object_name,
                "size": size,
                "sha256": digest.hexdigest(),
                "pack": pack.rel,
                "offset": offset,
                "etag": (obj.etag or "").strip('"'),
                "last_modified": obj.last_modified.isoformat() if obj.last_modified else None,
                "content_type": headers.get("content-type", ""),
                "headers": {h: headers[h] for h in KEPT_HEADERS if h in headers},
                "metadata": {k: v for k, v in sorted(headers.items()) if k.startswith("x-amz-meta-")},
            }

        entries: list[dict[str, Any]] = []
        try:
            with ThreadPoolExecutor(max_workers=S3_WORKERS, thread_name_prefix="s3-backup") as pool:
                futures = [pool.submit(fetch, b, o) for b, o in listing]
                try:
                    done, pending = wait(futures, return_when=FIRST_EXCEPTION)
                except BaseException:
                    # Ctrl-C (KeyboardInterrupt lands in this thread): stop the workers at their
                    # next block instead of letting the pool's exit fetch every object first.
                    abort.set()
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
                failed = [f for f in done if f.exception() is not None]
                if failed:
                    abort.set()
                    for f in pending:
                        f.cancel()
                    wait(pending)
                    error = failed[0].exception()
                    assert error is not None
                    if isinstance(error, (BackupError, OSError)):
                        raise error
                    raise access.s3_error(error) from None
                entries = [e for f in futures if (e := f.result()) is not None]
            _check_cancel(cancel)
            for pack in packs:
                w.add(pack.commit())
        except BaseException:
            for pack in packs:
                pack.discard()
            raise
        entries.sort(key=lambda e: (e["bucket"], e["key"]))
        if gone_buckets:  # not in the set either: a restore must not bring back a deleted bucket
            buckets = [b for b in buckets if b.name not in gone_buckets]
            vanished.extend(f"{e['bucket']}/{e['key']}" for e in entries if e["bucket"] in gone_buckets)
            entries = [e for e in entries if e["bucket"] not in gone_buckets]  # fetched before it went
            vanished.extend(f"{name}/" for name in gone_buckets)
        index = {
            "format": FORMAT,
            "buckets": [{"name": b.name, "created": b.creation_date.isoformat() if b.creation_date else None} for b in buckets],
            "objects": entries,
        }
        iw = w.writer("minio/index.json", "minio", "index")
        try:
            iw.write(json.dumps(index, indent=1, ensure_ascii=False).encode("utf-8"))
            w.add(iw.commit())
        except BaseException:
            iw.discard()
            raise
        if server_box:
            tools["s3-server"] = server_box[0]
        rep.emit("objects done" + (f" ({len(vanished)} deleted while the backup ran, left out)" if vanished else ""))
        meta: dict[str, Any] = {"buckets": len(buckets), "objects": len(entries), "bytes": sum(e["size"] for e in entries)}
        if vanished:
            meta["deleted_during_backup"] = sorted(vanished)
        return meta

    # -- verify --------------------------------------------------------------------------------
    def verify(self, name: str | BackupSet, progress: ProgressFn | None = None, cancel: threading.Event | None = None,
               content: bool = True, services: Iterable[str] | None = None) -> VerifyReport:
        """Checksums of every file against the manifest, then each artefact read by its own tool:
        `pg_restore -l` (and a full read) in the postgres container, `redis-check-rdb` in the redis
        container, every object's SHA-256 against the index. `services` limits both to those
        services (a restore of redis alone checks the redis part). A full verify is recorded in
        verify.json (`backup list` shows "verified" or "verify failed")."""
        started = time.monotonic()
        bset = name if isinstance(name, BackupSet) else self.get(name)
        if not bset.complete:
            raise BackupError(f"backup set {bset.id} is incomplete ({bset.problem}): it cannot be verified or restored; "
                              f"`liar-tui backup prune --keep N` removes it")
        scope = set(services) if services else set(bset.services)
        full = scope >= set(bset.services)
        problems: list[str] = []
        missing: set[str] = set()  # services with a file gone: nothing of theirs to read
        files = [f for f in bset.files if f.service in scope]
        total = sum(f.size for f in files)
        rep = _Reporter(progress, "set", "verify", total)
        for f in files:
            _check_cancel(cancel, "verify")
            p = bset.path / f.path
            try:
                size = p.stat().st_size
            except OSError:
                problems.append(f"{f.path}: missing (the set is damaged)")
                missing.add(f.service)
                continue
            if size != f.size:
                problems.append(f"{f.path}: size {size} but the manifest says {f.size} (truncated or changed)")
                continue
            digest = sha256_file(p)
            rep.add(f.size)
            if digest != f.sha256:
                problems.append(f"{f.path}: sha256 mismatch (manifest {f.sha256[:12]}…, file {digest[:12]}…): the file is corrupt or was changed")
        rep.emit()  # the last files' bytes (add() sends at most every 0.1 s): the bar ends full
        checks: list[ServiceCheck] = []
        if content:
            access = self.access()
            for svc in [x for x in bset.services if x in scope]:
                _check_cancel(cancel, "verify")
                fn = {"postgres": self._check_postgres, "redis": self._check_redis, "minio": self._check_minio}.get(svc)
                if fn is None:
                    continue
                if svc in missing:
                    checks.append(ServiceCheck(svc, False, "not read: its backup file is missing"))
                    continue
                # The container the tool runs in, as the check begins: if the check fails and the
                # container is then not running, or is another one or was started again since
                # (a restart, a recreate, a restore of that service), the tool was killed under
                # it: the set is not known bad (exit 137 or a broken pipe says nothing about it).
                before: ServiceState | None = None
                try:
                    if svc in IN_CONTAINER_CHECKS:
                        before = access.running(svc, refresh=True)  # an engine error here ends the verify
                except ServiceNotRunning as exc:
                    # Nothing wrong with the set: its content could not be read here. Not
                    # "verify failed" (that would mark a good set bad in `backup list`).
                    checks.append(ServiceCheck(svc, False, f"not checked: {exc}", {"not_checked": True, "reason": "not running"}))
                    problems.append(f"{svc}: {checks[-1].summary}")
                    continue
                try:
                    check = fn(access, bset, progress, cancel)
                except ServiceNotRunning as exc:
                    reason = self._disturbed(access, svc, before) or "not running"
                    check = ServiceCheck(svc, False, f"not checked: {exc}" if reason == "not running" else f"not checked ({svc} {reason})",
                                         {"not_checked": True, "reason": reason})
                except BackupCancelled:
                    raise
                except Exception as exc:  # noqa: BLE001 - said in one line below, or raised again
                    reason = self._disturbed(access, svc, before)
                    if reason:
                        check = ServiceCheck(svc, False, f"not checked ({svc} {reason})", {"not_checked": True, "reason": reason})
                    elif isinstance(exc, StackError):
                        check = ServiceCheck(svc, False, str(exc))
                    elif isinstance(exc, OSError):  # a file that went away or cannot be read mid-verify
                        check = ServiceCheck(svc, False, f"could not read its backup: {exc.strerror or exc}")
                    else:
                        raise
                else:
                    if not check.ok and (reason := self._disturbed(access, svc, before)):
                        check = ServiceCheck(svc, False, f"not checked ({svc} {reason})",
                                             {"not_checked": True, "reason": reason, "tool_said": check.summary})
                checks.append(check)
                if not check.ok:
                    problems.append(f"{svc}: {check.summary}")
        ok = not problems
        report = VerifyReport(bset, ok, tuple(problems), tuple(checks), time.monotonic() - started, tuple(sorted(scope)))
        if content and full and not report.unfinished:  # a real problem is recorded even so
            try:
                write_json_file(bset.path / VERIFY_FILE, {
                    "set": bset.path.name,
                    "verified_at": utcnow().isoformat(),
                    "manifest_sha256": sha256_file(bset.path / MANIFEST),
                    "ok": ok,
                    "problems": list(problems),
                    "checks": [{"service": c.service, "ok": c.ok, "summary": c.summary, "details": c.details} for c in checks],
                })
            except OSError:
                pass  # a read-only archive can still be verified
        return report

    def _disturbed(self, access: StackAccess, service: str, before: ServiceState | None) -> str:
        """Why a check in `service`'s container may have been cut short by the container itself
        ('' when it ran steadily the whole time): it stopped, was restarted or was replaced."""
        if before is None:
            return ""
        # The tool dies as the container's first process exits; the engine may record that exit a
        # moment later, and a restart's start comes after its stop: look again for a short while
        # before calling the container steady (or stopped rather than restarted).
        deadline = time.monotonic() + DISTURB_GRACE
        stopped = False
        while True:
            try:
                now = access.state(service, refresh=True)
            except Exception:  # noqa: BLE001 - the engine cannot say: not a verdict on the set either
                return "could not be inspected after its check failed"
            if now.container_id and now.container_id != before.container_id:
                return "was replaced during verify"
            if not now.running:
                stopped = True
            elif now.started_at != before.started_at:
                return "restarted during verify"
            if time.monotonic() >= deadline:
                return "stopped during verify" if stopped else ""
            time.sleep(0.1)

    def _stream_file(self, access: StackAccess, service: str, path: Path, cmd: builtins.list[str], progress: ProgressFn | None,
                     phase: str, cancel: threading.Event | None) -> tuple[ExecOutcome, bytes]:
        size = path.stat().st_size
        rep = _Reporter(progress, service, phase, size)
        buf = bytearray()
        with open(path, "rb") as fh:
            st = access.running(service)
            try:
                out = run_exec(self.engine.api, st.container_id, cmd, stdin=fh, on_stdout=buf.extend,
                               on_stdin_progress=rep.reach, cancel=cancel)
            except ExecCancelled:
                raise BackupCancelled(f"{phase} cancelled") from None
        return out, bytes(buf)

    def _check_postgres(self, access: StackAccess, bset: BackupSet, progress: ProgressFn | None,
                        cancel: threading.Event | None) -> ServiceCheck:
        f = bset.file("postgres", "dump")
        g = bset.file("postgres", "globals")
        if f is None or g is None:
            return ServiceCheck("postgres", False, "the set has no database dump or no roles file")
        # Into a temp file in the container: `-l` reads the table of contents, the second run reads
        # and decompresses every table's data (a flipped byte in the data shows there).
        script = ('t="$(mktemp)" || exit 1; cat > "$t" && pg_restore -l "$t" && pg_restore -f /dev/null "$t"; '
                  'rc=$?; rm -f "$t"; exit $rc')
        out, stdout = self._stream_file(access, "postgres", bset.path / f.path, ["sh", "-c", script], progress, "verify", cancel)
        toc = stdout.decode("utf-8", "replace")
        if not out.ok or "TOC Entries" not in toc:
            return ServiceCheck("postgres", False, f"pg_restore cannot read {f.path}: {self.redact(out.last_error_line())}")
        entries = [ln for ln in toc.splitlines() if ln and not ln.startswith(";")]
        tables = [ln for ln in entries if re.match(r"^\d+; \d+ \d+ TABLE (?!DATA )", ln)]
        m = re.search(r"Dumped by pg_dump version: (.+)", toc)
        roles_text = (bset.path / g.path).read_text(encoding="utf-8", errors="replace")
        if "CREATE ROLE" not in roles_text:
            return ServiceCheck("postgres", False, f"{g.path} holds no role (pg_dumpall --globals-only output expected)")
        return ServiceCheck("postgres", True, f"pg_restore reads {len(entries)} TOC entries, {len(tables)} tables",
                            {"toc_entries": len(entries), "tables": len(tables), "dumped_by": m.group(1).strip() if m else ""})

    def _check_redis(self, access: StackAccess, bset: BackupSet, progress: ProgressFn | None,
                     cancel: threading.Event | None) -> ServiceCheck:
        f = bset.file("redis", "rdb")
        if f is None:
            return ServiceCheck("redis", False, "the set has no RDB file")
        script = ('t="$(mktemp)" || exit 1; cat > "$t" && redis-check-rdb "$t"; rc=$?; rm -f "$t"; exit $rc')
        out, stdout = self._stream_file(access, "redis", bset.path / f.path, ["sh", "-c", script], progress, "verify", cancel)
        text = stdout.decode("utf-8", "replace") + "\n" + out.stderr
        looks_ok = "RDB looks OK" in text
        if not out.ok or not looks_ok:
            reason = next((ln.strip() for ln in text.splitlines() if "--- RDB ERROR DETECTED ---" in ln or "[offset" in ln and "error" in ln.lower()), "")
            detail = _rdb_error(text) or reason or out.last_error_line()
            return ServiceCheck("redis", False, f"redis-check-rdb rejects {f.path}: {detail}")
        keys = _int_after(text, r"(\d+) keys read")
        expires = _int_after(text, r"(\d+) expires")
        expired = _int_after(text, r"(\d+) already expired")
        return ServiceCheck("redis", True, f"redis-check-rdb: RDB looks OK, {keys} keys ({expires} with TTL)",
                            {"keys": keys, "expires": expires, "already_expired": expired})

    def _check_minio(self, access: StackAccess, bset: BackupSet, progress: ProgressFn | None,
                     cancel: threading.Event | None) -> ServiceCheck:
        f = bset.file("minio", "index")
        if f is None:
            return ServiceCheck("minio", False, "the set has no index.json")
        try:
            index = json.loads((bset.path / f.path).read_text(encoding="utf-8"))
            objects = index["objects"]
        except (OSError, ValueError, KeyError) as exc:
            return ServiceCheck("minio", False, f"{f.path} is unreadable: {exc}")
        in_manifest = {x.path for x in bset.files_of("minio") if x.kind == "objects"}
        bad: list[str] = []
        handles: dict[str, Any] = {}
        try:
            for e in objects:
                _check_cancel(cancel, "verify")
                where = f"{e['bucket']}/{e['key']}"
                if e["pack"] not in in_manifest:
                    bad.append(f"{where} (its pack {e['pack']} is not in the manifest)")
                    continue
                fh = handles.get(e["pack"])
                if fh is None:
                    try:
                        fh = handles[e["pack"]] = open(bset.path / e["pack"], "rb")
                    except OSError:
                        bad.append(f"{where} (pack {e['pack']} missing)")
                        continue
                if _range_sha256(fh, int(e["offset"]), int(e["size"])) != e["sha256"]:
                    bad.append(f"{where} (sha256 mismatch in {e['pack']})")
        finally:
            for fh in handles.values():
                fh.close()
        expected = (bset.meta.get("minio") or {}).get("objects")
        if expected is not None and expected != len(objects):
            bad.append(f"index lists {len(objects)} objects, the manifest {expected}")
        if bad:
            more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
            return ServiceCheck("minio", False, f"{len(bad)} object(s) fail: {', '.join(bad[:3])}{more}")
        return ServiceCheck("minio", True, f"{len(objects)} objects in {len(index.get('buckets') or [])} buckets, every sha256 matches",
                            {"objects": len(objects), "buckets": len(index.get("buckets") or [])})

    # -- restore -------------------------------------------------------------------------------
    def restore(self, name: str | BackupSet, services: Iterable[str] | None = None, progress: ProgressFn | None = None,
                cancel: threading.Event | None = None, verified: VerifyReport | None = None) -> RestoreReport:
        """Make each service hold exactly the set's data. Verifies the set first unless given a
        passing VerifyReport of it. Destructive: callers confirm with the user first."""
        with self.restore_lock():
            return self._restore(name, services, progress, cancel, verified)

    def _restore(self, name: str | BackupSet, services: Iterable[str] | None, progress: ProgressFn | None,
                 cancel: threading.Event | None, verified: VerifyReport | None) -> RestoreReport:
        started = time.monotonic()
        services = list(services) if services else []
        bset = name if isinstance(name, BackupSet) else self.get(name, restorable=True, services=services)
        if not bset.complete:
            raise BackupError(f"backup set {bset.id} is incomplete ({bset.problem}): it cannot be restored")
        wanted = list(_validate_services(services)) if services else list(bset.services)
        missing = [s for s in wanted if s not in bset.services]
        if missing:
            raise BackupError(f"backup set {bset.id} has no {', '.join(missing)} backup (it holds {', '.join(bset.services)})")
        # this restore's lock is held: a compose action from now on refuses; one running now is said
        busy = locks.compose_busy(self.project, wanted)
        if busy:
            raise BackupError(f"{busy}: a restore stops and starts the services itself")
        access = self.access()
        access.env()
        for svc in wanted:
            access.running(svc)
        if verified is None or verified.set.path != bset.path or not verified.covers(wanted):
            verified = self.verify(bset, progress, cancel, services=wanted)
        if not verified.ok:
            raise BackupError(unverified_message(bset.id, verified))
        results = []
        for svc in wanted:
            _check_cancel(cancel, "restore")
            t0 = time.monotonic()
            fn = {"postgres": self._restore_postgres, "redis": self._restore_redis, "minio": self._restore_minio}[svc]
            summary, details = fn(access, bset, verified, progress, cancel)
            results.append(ServiceRestore(svc, summary, time.monotonic() - t0, details))
            if progress is not None:
                progress(BackupProgress(svc, "done", 0, None, summary))
        return RestoreReport(bset.id, tuple(results), time.monotonic() - started)

    # postgres ----------------------------------------------------------------------------------
    def _restore_postgres(self, access: StackAccess, bset: BackupSet, verified: VerifyReport, progress: ProgressFn | None,
                          cancel: threading.Event | None) -> tuple[str, dict[str, Any]]:
        st = access.running("postgres")
        user, _current_db = access.pg_identity(st)
        db = str((bset.meta.get("postgres") or {}).get("database") or _current_db)
        maint = "template1" if db == "postgres" else "postgres"
        dump = bset.file("postgres", "dump")
        roles = bset.file("postgres", "globals")
        assert dump is not None and roles is not None
        api = self.engine.api
        rep = _Reporter(progress, "postgres", "restore")
        rep.emit("roles")
        globals_sql = idempotent_globals((bset.path / roles.path).read_text(encoding="utf-8"), user)
        psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--no-password", "-U", user, "-d", maint]
        out = run_exec(api, st.container_id, [*psql, "-f", "-"], stdin=io.BytesIO(globals_sql.encode("utf-8")), cancel=cancel)
        if not out.ok:
            raise BackupError(f"postgres: restoring roles failed: {self.redact(out.last_error_line())}")
        _check_cancel(cancel, "restore")
        rep.emit(f"drop database {db}")
        out = run_exec(api, st.container_id, [*psql, "-c", f"DROP DATABASE IF EXISTS {quote_ident(db)} WITH (FORCE)"], cancel=cancel)
        if not out.ok:
            raise BackupError(f"postgres: could not drop {db}: {self.redact(out.last_error_line())}")
        out, _ = self._stream_file(
            access, "postgres", bset.path / dump.path,
            ["pg_restore", "--create", "--exit-on-error", "--no-password", "-U", user, "-d", maint],
            progress, "restore", cancel,
        )
        if not out.ok:
            raise BackupError(
                f"postgres: pg_restore failed, database {db} is incomplete: {self.redact(out.last_error_line())} "
                f"(fix the cause and restore again)"
            )
        dropped, kept, roles_warning = self._drop_later_roles(api, st.container_id, psql, set_roles(globals_sql) | {user})
        count_sql = ("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                     "WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema') "
                     "AND n.nspname NOT LIKE 'pg_toast%'")
        out, text = exec_capture(api, st.container_id, ["psql", "-X", "-At", "--no-password", "-U", user, "-d", db, "-c", count_sql])
        tables = int(text.strip() or 0) if out.ok and text.strip().isdigit() else -1
        expected = (verified.check("postgres").details if verified.check("postgres") else {}).get("tables")  # type: ignore[union-attr]
        if expected is not None and tables != expected:
            raise BackupError(f"postgres: {db} has {tables} tables after the restore, the dump {expected}")
        summary = f"postgres: database {db} recreated from the dump ({tables} tables), roles restored"
        if dropped:
            summary += f"; roles made after the backup dropped: {', '.join(dropped)}"
        if kept:
            summary += f"; kept (they own objects or hold privileges in another database): {', '.join(kept)}"
        if roles_warning:
            summary += f"; {roles_warning}"
        return summary, {"database": db, "tables": tables, "roles_dropped": dropped, "roles_kept": kept}

    def _drop_later_roles(self, api: Any, container_id: str, psql: builtins.list[str],
                          keep: set[str]) -> tuple[builtins.list[str], builtins.list[str], str]:
        """Roles the cluster has and the set does not (made after the backup): dropped, so the
        roles are the backup moment's too. Their objects in the restored database went with it;
        one that still owns something elsewhere cannot be dropped and is reported as kept."""
        out, text = exec_capture(api, container_id, [*psql, "-At", "-c", "SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1"])
        if not out.ok:
            return [], [], f"roles made after the backup not checked ({self.redact(out.last_error_line())})"
        dropped: list[str] = []
        kept: list[str] = []
        for role in (r for r in text.decode("utf-8", "replace").splitlines() if r and r not in keep):
            out = run_exec(api, container_id, [*psql, "-c", f"DROP ROLE {quote_ident(role)}"])
            (dropped if out.ok else kept).append(role)
        return dropped, kept, ""

    # redis ---------------------------------------------------------------------------------------
    def _restore_redis(self, access: StackAccess, bset: BackupSet, verified: VerifyReport, progress: ProgressFn | None,
                       cancel: threading.Event | None) -> tuple[str, dict[str, Any]]:
        """Stop redis, give it the set's RDB as dump.rdb *and* as the base of a fresh multi-part AOF,
        start it. With `appendonly yes`, Redis 7 loads only the AOF (an existing appendonlydir wins
        over dump.rdb, and a missing one makes it start empty and write an empty AOF), so the RDB
        must become the AOF base: appendonlydir/<appendfilename>.1.base.rdb + an empty incr file +
        the manifest naming both. dump.rdb is written too for `appendonly no` setups.
        The files are swapped by a short-lived helper container (the redis image, sharing the
        redis container's volumes) so this works when the data folder is not writable from here."""
        import redis as redis_lib

        st = access.running("redis")
        client = access.redis()
        names = {"dir": "/data", "appenddirname": "appendonlydir", "appendfilename": "appendonly.aof", "dbfilename": "dump.rdb"}
        for key in names:
            try:
                value = client.config_get(key).get(key)
                if value:
                    names[key] = value
            except redis_lib.exceptions.ResponseError:
                pass
        for key in ("appenddirname", "appendfilename", "dbfilename"):
            if "/" in names[key] or names[key] in ("", ".", ".."):
                raise BackupError(f"redis {key} {names[key]!r} is not a plain file name: restore by hand")
        client.close()
        rdb = bset.file("redis", "rdb")
        assert rdb is not None
        api = self.engine.api
        info = self.engine.inspect(st.container_id) or {}
        image = str(info.get("Image") or "")
        rep = _Reporter(progress, "redis", "restore", rdb.size)
        rep.emit("stopping redis")
        api.stop(st.container_id, timeout=60)
        helper = None
        try:
            helper = api.create_container(
                image, entrypoint=["sleep", "600"], user="0:0", network_disabled=True,
                labels={"io.liar-tui.helper": "redis-restore", "io.liar-tui.project": self.project.name},
                name=f"{self.project.name}-redis-restore-{secrets.token_hex(3)}",
                host_config=api.create_host_config(volumes_from=[st.container_id], network_mode="none"),
            )["Id"]
            api.start(helper)
            script = r'''
set -eu
umask 077
cd "$1"; aofdir="$2"; aofname="$3"; dbfile="$4"
ref=.; [ -e "$aofdir" ] && ref="$aofdir"
owner="$(stat -c %u:%g "$ref")"
rm -rf .liar-restore; mkdir .liar-restore
cat > .liar-restore/dump.rdb
mkdir .liar-restore/aof
cp .liar-restore/dump.rdb ".liar-restore/aof/$aofname.1.base.rdb"
: > ".liar-restore/aof/$aofname.1.incr.aof"
printf 'file %s seq 1 type b\nfile %s seq 1 type i\n' "$aofname.1.base.rdb" "$aofname.1.incr.aof" > ".liar-restore/aof/$aofname.manifest"
chown -R "$owner" .liar-restore
rm -rf "$aofdir"
mv .liar-restore/aof "$aofdir"
mv -f .liar-restore/dump.rdb "$dbfile"
rmdir .liar-restore
wc -c < "$dbfile"
'''
            with open(bset.path / rdb.path, "rb") as fh:
                try:
                    out = run_exec(api, helper, ["sh", "-c", script, "restore", names["dir"], names["appenddirname"],
                                                 names["appendfilename"], names["dbfilename"]],
                                   stdin=fh, on_stdin_progress=rep.reach, cancel=cancel)
                except ExecCancelled:
                    raise BackupCancelled("restore cancelled: redis is stopped with its old data; start it with `liar-tui start redis`") from None
            if not out.ok:
                raise BackupError(f"redis: placing the RDB failed: {self.redact(out.last_error_line())}; redis keeps its old data")
        finally:
            if helper is not None:
                try:
                    api.remove_container(helper, force=True)
                except Exception:  # noqa: BLE001
                    pass
            rep.emit("starting redis")
            api.start(st.container_id)
        # Wait until redis has loaded the data and Docker calls it healthy.
        access = StackAccess(self.project, self.engine)
        deadline = time.monotonic() + 120
        client = None
        while time.monotonic() < deadline:
            try:
                client = access.redis()
                if int(client.info("persistence").get("loading", 0)) == 0:
                    break
            except (BackupError, redis_lib.exceptions.RedisError):
                pass
            time.sleep(0.1)
        else:
            raise BackupError("redis did not come back after the restore: see `liar-tui logs redis`")
        assert client is not None
        keys = client.dbsize()
        check = verified.check("redis")
        expected = (check.details if check else {}).get("keys")
        expires = (check.details if check else {}).get("expires") or 0
        if expected is not None and not (expected - expires <= keys <= expected):
            raise BackupError(f"redis holds {keys} keys after the restore, the RDB {expected}: see `liar-tui logs redis`")
        aof = _config_value(client, "appendonly")
        self._wait_healthy("redis", st.container_id)
        return f"redis: {keys} keys loaded from the RDB (AOF {'on, rebuilt from it' if aof == 'yes' else aof})", {"keys": keys, "appendonly": aof}

    def _wait_healthy(self, service: str, container_id: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self.engine.inspect(container_id) or {}
            state = data.get("State") or {}
            health = (state.get("Health") or {}).get("Status")
            if state.get("Running") and health in (None, "healthy"):
                return
            time.sleep(0.25)
        raise BackupError(f"{service} is not healthy after the restore: see `liar-tui status` and `liar-tui logs {service}`")

    # minio ---------------------------------------------------------------------------------------
    def _restore_minio(self, access: StackAccess, bset: BackupSet, verified: VerifyReport, progress: ProgressFn | None,
                       cancel: threading.Event | None) -> tuple[str, dict[str, Any]]:
        from minio.deleteobjects import DeleteObject

        s3 = access.s3()
        idx_file = bset.file("minio", "index")
        assert idx_file is not None
        index = json.loads((bset.path / idx_file.path).read_text(encoding="utf-8"))
        objects: list[dict[str, Any]] = index["objects"]
        want_buckets = [b["name"] for b in index["buckets"]]
        want_keys: dict[str, set[str]] = {b: set() for b in want_buckets}
        for e in objects:
            want_keys.setdefault(e["bucket"], set()).add(e["key"])
        total = sum(int(e["size"]) for e in objects)
        rep = _Reporter(progress, "minio", "restore", total)
        removed = 0

        def remove_extra(bucket: str, keep: set[str]) -> int:
            # Every stored object, "folder" objects (keys ending in '/') included: one left behind
            # made the bucket's removal fail (BucketNotEmpty) after other objects were gone.
            extra = [o.object_name for o in s3.list_objects(bucket, recursive=True) if o.object_name not in keep]
            for start in range(0, len(extra), 1000):
                errors = list(s3.remove_objects(bucket, [DeleteObject(k) for k in extra[start:start + 1000]]))
                if errors:
                    raise BackupError(f"minio: could not delete {errors[0].name} from {bucket}: {errors[0].message}")
            return len(extra)

        try:
            existing = [b.name for b in s3.list_buckets()]
            # Objects and buckets that are not in the set go.
            for bucket in existing:
                _check_cancel(cancel, "restore")
                keep = want_keys[bucket] if bucket in want_keys else set()
                removed += remove_extra(bucket, keep)
                if bucket not in want_keys:
                    for attempt in range(3):
                        try:
                            s3.remove_bucket(bucket)
                            break
                        except Exception as exc:  # noqa: BLE001
                            if getattr(exc, "code", None) != "BucketNotEmpty" or attempt == 2:
                                raise
                            removed += remove_extra(bucket, set())  # written to meanwhile: empty it again
            for bucket in want_buckets:
                if bucket not in existing:
                    s3.make_bucket(bucket)
        except BackupError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise access.s3_error(exc, "minio restore") from None
        rep.emit(f"uploading {len(objects)} objects")
        abort = threading.Event()

        def put(e: dict[str, Any]) -> None:
            if abort.is_set() or (cancel is not None and cancel.is_set()):
                raise BackupCancelled("restore cancelled")
            headers: dict[str, Any] = dict(e.get("headers") or {})
            headers.update(e.get("metadata") or {})
            with open(bset.path / e["pack"], "rb") as fh:
                fh.seek(int(e["offset"]))
                s3.put_object(e["bucket"], e["key"], _RangeReader(fh, int(e["size"])), int(e["size"]),
                              content_type=e.get("content_type") or "application/octet-stream", metadata=headers or None)
            rep.add(int(e["size"]))

        with ThreadPoolExecutor(max_workers=S3_WORKERS, thread_name_prefix="s3-restore") as pool:
            futures = [pool.submit(put, e) for e in objects]
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in done if f.exception() is not None]
            if failed:
                abort.set()
                for f in pending:
                    f.cancel()
                wait(pending)
                first = failed[0].exception()
                assert first is not None
                if isinstance(first, BackupCancelled):
                    raise first
                error = first if isinstance(first, BackupError) else access.s3_error(first, "minio restore")
                raise BackupError(f"{error}; minio holds part of the set now: restore it again once minio is "
                                  f"healthy") from None
        # What the server now lists must be exactly the set: same buckets, keys and sizes.
        try:
            now_buckets = sorted(b.name for b in s3.list_buckets())
            now = {(b, o.object_name, int(o.size or 0)) for b in now_buckets for o in s3.list_objects(b, recursive=True)}
        except Exception as exc:  # noqa: BLE001
            raise access.s3_error(exc, "minio restore") from None
        want = {(e["bucket"], e["key"], int(e["size"])) for e in objects}
        if now_buckets != sorted(want_buckets) or now != want:
            diff = sorted(now ^ want)[:3]
            raise BackupError(f"minio does not match the set after the restore (e.g. {diff}): retry the restore")
        return (f"minio: {len(objects)} objects in {len(want_buckets)} buckets restored, {removed} objects not in the set removed",
                {"objects": len(objects), "buckets": len(want_buckets), "removed": removed})


# -- helpers ------------------------------------------------------------------------------------------
def unverified_message(set_id: str, report: VerifyReport) -> str:
    """Why a restore does not go on after its verify (a bad set, or one that could not be checked)."""
    if report.unfinished:
        return (f"backup set {set_id} could not be verified ({report.unchecked_reasons}): not restoring it; "
                f"{report.unchecked_fix('restore')}")
    return f"backup set {set_id} fails verification ({report.problems[0]}): not restoring it"


def _validate_services(services: Iterable[str] | None) -> tuple[str, ...]:
    wanted = list(services or BACKUP_SERVICES)
    unknown = [s for s in wanted if s not in BACKUP_SERVICES]
    if unknown:
        raise BackupError(
            f"cannot back up {', '.join(unknown)}: choose from {', '.join(BACKUP_SERVICES)} (nginx holds no data)"
        )
    # stack order, no duplicates
    return tuple(s for s in BACKUP_SERVICES if s in wanted)


def _config_value(client: Any, key: str) -> str:
    try:
        return str(client.config_get(key).get(key, ""))
    except Exception:  # noqa: BLE001
        return ""


def _int_after(text: str, pattern: str) -> int | None:
    m = re.search(pattern, text)
    return int(m.group(1)) if m else None


def _rdb_error(text: str) -> str:
    for line in text.splitlines():
        if "Internal error in RDB reading" in line or "Wrong RDB checksum" in line or "Unexpected EOF" in line:
            return line.split("]", 1)[-1].strip() if "]" in line else line.strip()
    for line in text.splitlines():
        if "error" in line.lower() and "RDB ERROR DETECTED" not in line:
            return line.split("]", 1)[-1].strip() if "]" in line else line.strip()
    return ""


class _RangeReader(io.RawIOBase):
    """`size` bytes of an open file from its current position (an object inside a pack)."""

    def __init__(self, fh: Any, size: int) -> None:
        self.fh = fh
        self.left = size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.fh.read(n)
        self.left -= len(data)
        return data


def _range_sha256(fh: Any, offset: int, size: int) -> str:
    h = hashlib.sha256()
    fh.seek(offset)
    left = size
    while left > 0:
        block = fh.read(min(CHUNK, left))
        if not block:
            break
        h.update(block)
        left -= len(block)
    return h.hexdigest() if left == 0 else "truncated"


_CREATE_ROLE = re.compile(r"^CREATE ROLE (.+);$")
_ALTER_ROLE_PASSWORD = re.compile(r"^(ALTER ROLE (.+?) WITH .*?)( PASSWORD '(?:[^']|'')*')(.*;)$")


def set_roles(globals_sql: str) -> set[str]:
    """The role names a pg_dumpall --globals-only file creates (identifiers unquoted)."""
    names = set()
    for line in globals_sql.splitlines():
        m = _CREATE_ROLE.match(line) or _CREATE_ROLE_DO.match(line)
        if m:
            name = m.group(1)
            if name.startswith('"') and name.endswith('"'):
                name = name[1:-1].replace('""', '"')
            names.add(name)
    return names


_CREATE_ROLE_DO = re.compile(r"^DO \$liar\$ BEGIN CREATE ROLE (.+); EXCEPTION")


def idempotent_globals(sql: str, stack_user: str) -> str:
    """pg_dumpall --globals-only output made safe to replay onto a running cluster:
    - `CREATE ROLE x;` does not fail when x exists (the stack's own user always does);
    - the stack's own user keeps its current password: the one in compose/.env, which the
      restore must not roll back to the backup's (every client would be locked out)."""
    me = {stack_user, quote_ident(stack_user)}
    out = []
    for line in sql.splitlines():
        m = _CREATE_ROLE.match(line)
        if m:
            role = m.group(1)
            out.append(f"DO $liar$ BEGIN CREATE ROLE {role}; EXCEPTION WHEN duplicate_object THEN NULL; END $liar$;")
            continue
        m = _ALTER_ROLE_PASSWORD.match(line)
        if m and m.group(2) in me:
            out.append(m.group(1) + m.group(4))
            continue
        out.append(line)
    return "\n".join(out) + "\n"


__all__ = [
    "BACKUP_SERVICES",
    "BackupCancelled",
    "BackupDirFull",
    "BackupDirNotWritable",
    "BackupError",
    "BackupFile",
    "BackupManager",
    "BackupProgress",
    "BackupSet",
    "PruneResult",
    "RestoreReport",
    "RestoreRunning",
    "ServiceCheck",
    "ServiceNotRunning",
    "ServiceRestore",
    "VerifyReport",
    "idempotent_globals",
]


def _gone(exc: BaseException) -> bool:
    """An S3 error saying the object or bucket no longer exists (deleted after it was listed)."""
    return getattr(exc, "code", None) in ("NoSuchKey", "NoSuchBucket")
