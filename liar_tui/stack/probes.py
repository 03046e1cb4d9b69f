"""Service-aware probes: what each service really does, seen from the host through its published port.

Docker's "healthy" says little: a healthy Redis can be out of memory, a healthy nginx can answer
502 for every API call. Each probe talks to its service with the client the application uses
(psycopg, redis-py, the minio SDK, HTTP) and returns a ProbeResult: a level (ok/warn/fail), one
line saying why, and figures. Probes only read: they write no data and change no setting.

Every network step has a short timeout (2 s by default). A server that accepts the TCP connection
and then never answers (a hung process) is reported as "unreachable: no answer within 2s", not
waited for. Credentials come from the project's .env; every reason and figure string goes through
the project's Redactor.

`run_probes()` runs the four in parallel with an overall deadline (the CLI's `status`);
`ProbeRunner` repeats that in a background thread, re-arming a one-shot wait after each round so
rounds never overlap (the console).
"""

from __future__ import annotations

import http.client
import math
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from .buckets import EXPECTED_BUCKETS
from .model import SERVICES, ServiceState, count_of, format_bytes
from .project import Project

OK, WARN, FAIL = "ok", "warn", "fail"
LEVELS = (OK, WARN, FAIL)
_RANK = {OK: 0, WARN: 1, FAIL: 2}

DEFAULT_TIMEOUT = 2.0

#: host-port variable and compose default for each probed service.
PORT_DEFAULTS: dict[str, tuple[str, int]] = {
    "postgres": ("POSTGRES_PORT", 5432),
    "redis": ("REDIS_PORT", 6379),
    "nginx": ("NGINX_HTTP_PORT", 80),
    "minio": ("MINIO_API_PORT", 9000),
}
_CONTAINER_PORT = {"postgres": 5432, "redis": 6379, "nginx": 80, "minio": 9000}


@dataclass(frozen=True)
class ProbeResult:
    """What one probe found: `level` ok/warn/fail, a one-line `reason`, and `figures` (JSON-ready)."""

    service: str
    level: str
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0  # how long the probe took
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def ok(self) -> bool:
        return self.level == OK

    def worse_than(self, other: "ProbeResult | None") -> bool:
        return other is None or _RANK.get(self.level, 2) > _RANK.get(other.level, 2)

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "reason": self.reason,
            "figures": dict(self.figures),
            "latency_ms": round(self.seconds * 1000, 1),
            "at": self.at.isoformat(),
        }

    def summary(self) -> str:
        return f"{self.level}: {self.reason}"


@dataclass(frozen=True)
class ProbeThresholds:
    """When a figure turns a probe yellow or red."""

    connections_warn: float = 0.8  # PostgreSQL: share of max_connections in use
    transaction_warn_seconds: float = 300.0  # PostgreSQL: oldest open transaction
    memory_warn: float = 0.85  # Redis: used_memory / maxmemory
    memory_full: float = 0.98  # Redis with noeviction: writes are refused from here on
    objects_cap: int = 10_000  # MinIO: stop counting a bucket's objects here (bounded time)


@dataclass(frozen=True)
class ProbeTarget:
    """Where and how to reach one service from the host."""

    service: str
    host: str
    port: int
    env: Mapping[str, str]
    timeout: float = DEFAULT_TIMEOUT
    thresholds: ProbeThresholds = ProbeThresholds()
    nginx_conf: str = ""  # nginx.conf text (names the API upstream in reasons)


def _connect_host(host_ip: str) -> str:
    return "127.0.0.1" if host_ip in ("", "0.0.0.0") else ("::1" if host_ip == "::" else host_ip)


def targets(
    project: Project,
    states: Mapping[str, ServiceState] | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    thresholds: ProbeThresholds | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, ProbeTarget]:
    """A ProbeTarget per service: the port the container really publishes when known (it may differ
    from .env until a recreate), else .env's value, else compose's default."""
    env = dict(project.env() if env is None else env)
    bind = env.get("BIND_ADDRESS") or "127.0.0.1"
    try:
        nginx_conf = (project.root / "nginx" / "nginx.conf").read_text(encoding="utf-8")
    except OSError:
        nginx_conf = ""
    result = {}
    for service, (var, default) in PORT_DEFAULTS.items():
        host, port = _connect_host(bind), 0
        st = (states or {}).get(service)
        if st is not None:
            for p in st.ports:
                if p.container_port == _CONTAINER_PORT[service]:
                    host, port = _connect_host(p.host_ip), p.host_port
                    break
        if not port:
            try:
                port = int(env.get(var) or default)
            except ValueError:
                port = default
        result[service] = ProbeTarget(
            service=service,
            host=host,
            port=port,
            env=env,
            timeout=timeout,
            thresholds=thresholds or ProbeThresholds(),
            nginx_conf=nginx_conf if service == "nginx" else "",
        )
    return result


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line[:240]
    return type(exc).__name__


def _addr(t: ProbeTarget) -> str:
    return f"[{t.host}]:{t.port}" if ":" in t.host else f"{t.host}:{t.port}"


def _unreachable(t: ProbeTarget, why: str, started: float, **figures: Any) -> ProbeResult:
    return ProbeResult(t.service, FAIL, f"unreachable at {_addr(t)}: {why}", figures, time.monotonic() - started)


def _network_reason(exc: BaseException, t: ProbeTarget) -> str:
    """A socket-level failure as a person reads it."""
    text = _first_line(exc).lower()
    if isinstance(exc, (socket.timeout, TimeoutError)) or "timed out" in text or "timeout" in text:
        return f"no answer within {t.timeout:g}s (hung or overloaded)"
    if isinstance(exc, ConnectionRefusedError) or "refused" in text:
        return "connection refused (nothing listens there: is the container running?)"
    if isinstance(exc, ConnectionResetError) or "reset" in text or "closed" in text or "eof" in text:
        # QA: the clients' own words came along, e.g. "(('Connection aborted.',
        # RemoteDisconnected('Remote end closed connection without response')))"
        return "the server closed the connection without answering (starting or stopping, or another server on this port)"
    return _first_line(exc)


class _Watchdog:
    """Unblocks a client stuck reading a socket past its deadline by shutting the socket down.

    psycopg has no read timeout: a PostgreSQL that accepted the connection and then hung would
    block the query forever. shutdown() on a dup of the fd wakes the reader with an error.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self._lock = threading.Lock()
        self._done = False
        self._timer: threading.Timer | None = None

    def arm(self, fd: int) -> None:
        def fire() -> None:
            with self._lock:
                if self._done:
                    return
                self.fired = True
                try:
                    s = socket.socket(fileno=os.dup(fd))
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    finally:
                        s.close()
                except OSError:
                    pass

        self._timer = threading.Timer(self.seconds, fire)
        self._timer.daemon = True
        self._timer.start()

    def disarm(self) -> None:
        """Call before closing the connection, so the fd number is never shut after reuse."""
        with self._lock:
            self._done = True
            if self._timer is not None:
                self._timer.cancel()


# -- PostgreSQL -------------------------------------------------------------------------------
_PG_QUERY = """
select current_setting('server_version'),
       current_setting('max_connections')::int,
       current_setting('superuser_reserved_connections')::int,
       (select count(*) from pg_stat_activity where backend_type = 'client backend'),
       pg_database_size(current_database()),
       (select extract(epoch from max(clock_timestamp() - xact_start)) from pg_stat_activity
         where xact_start is not null and pid <> pg_backend_pid() and backend_type = 'client backend'),
       pg_is_in_recovery(),
       current_setting('default_transaction_read_only'),
       current_setting('transaction_read_only')
"""


def import_psycopg() -> Any:
    """psycopg, on the system's libpq when there is one (Debian's libpq5).

    psycopg[binary] brings its own libpq with its own copies of OpenSSL and Kerberos: ~3.5 MB
    more resident than the system's libpq, whose libcrypto Python's ssl module has loaded already.
    Where there is no system libpq (or it is refused), the binary package is the fallback.
    """
    import sys

    if "psycopg" in sys.modules:
        return sys.modules["psycopg"]
    if "PSYCOPG_IMPL" not in os.environ:
        from ctypes.util import find_library

        if find_library("pq"):
            os.environ["PSYCOPG_IMPL"] = "python"
            try:
                import psycopg

                return psycopg
            except ImportError:
                del os.environ["PSYCOPG_IMPL"]
                for name in [m for m in sys.modules if m == "psycopg" or m.startswith("psycopg.")]:
                    del sys.modules[name]
    import psycopg

    return psycopg


def preload_clients() -> None:
    """Import the three client libraries now (psycopg, redis-py, minio: ~0.5 s, ~50k objects).

    A console calls this in a worker before it freezes its start-up heap (gc.freeze): imported in
    the probe threads later, these modules' objects would stay in the collector's oldest
    generation, and every full collection during a log burst would scan them (30-70 ms here)."""
    import_psycopg()
    import redis  # noqa: F401
    import urllib3  # noqa: F401
    from .s3sdk import minio

    minio()
    from minio.error import S3Error  # noqa: F401


def probe_postgres(t: ProbeTarget) -> ProbeResult:
    """Version, connections against max_connections, database size, oldest open transaction, and
    whether the server accepts writes (recovery / read-only settings; nothing is written)."""
    psycopg = import_psycopg()

    started = time.monotonic()
    user = t.env.get("POSTGRES_USER") or "liaruser"
    db = t.env.get("POSTGRES_DB") or "liardb"
    ms = int(t.timeout * 1000)
    watchdog = _Watchdog(t.timeout + 0.5)
    conn = None
    try:
        conn = psycopg.connect(
            host=t.host,
            port=t.port,
            user=user,
            password=t.env.get("POSTGRES_PASSWORD", ""),
            dbname=db,
            connect_timeout=max(2, math.ceil(t.timeout)),  # libpq's minimum is 2 s
            autocommit=True,
            application_name="liar-tui-probe",
            options=f"-c statement_timeout={ms} -c lock_timeout={ms}",
        )
        connected = time.monotonic()
        watchdog.arm(conn.fileno())
        row = conn.execute(_PG_QUERY).fetchone()
        assert row is not None
    except Exception as exc:  # noqa: BLE001 - every failure is a result
        if watchdog.fired:
            return _unreachable(t, f"no answer within {t.timeout:g}s (hung or overloaded)", started)
        return _postgres_failure(t, exc, user, db, started)
    finally:
        watchdog.disarm()
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass
    version, max_conn, reserved, conns, size, oldest, in_recovery, default_ro, tx_ro = row
    accepts_writes = not in_recovery and default_ro != "on" and tx_ro != "on"
    usable = max(1, int(max_conn) - int(reserved))
    figures: dict[str, Any] = {
        "version": str(version).split()[0],
        "connections": int(conns),
        "max_connections": int(max_conn),
        "database": db,
        "database_bytes": int(size),
        "oldest_transaction_seconds": round(float(oldest), 1) if oldest is not None else None,
        "in_recovery": bool(in_recovery),
        "read_only": default_ro == "on" or tx_ro == "on",
        "accepts_writes": accepts_writes,
        "connect_ms": round((connected - started) * 1000, 1),
    }
    base = (
        f"PostgreSQL {figures['version']}: {conns}/{max_conn} connections, {db} {format_bytes(size)}"
    )
    seconds = time.monotonic() - started
    if not accepts_writes:
        why = "in recovery (a standby)" if in_recovery else "default_transaction_read_only is on"
        return ProbeResult(t.service, FAIL, f"read-only: {why}: writes would fail; {base}", figures, seconds)
    problems = []
    if conns >= usable * t.thresholds.connections_warn:
        problems.append(f"{conns}/{usable} usable connections in use (clients will soon be refused)")
    if oldest is not None and float(oldest) >= t.thresholds.transaction_warn_seconds:
        problems.append(f"a transaction has been open {float(oldest):.0f}s (holds locks, blocks vacuum)")
    if problems:
        return ProbeResult(t.service, WARN, "; ".join(problems) + f"; {base}", figures, seconds)
    return ProbeResult(t.service, OK, f"{base}, accepts writes", figures, seconds)


def _postgres_failure(t: ProbeTarget, exc: BaseException, user: str, db: str, started: float) -> ProbeResult:
    text = _first_line(exc)
    low = str(exc).lower()
    seconds = time.monotonic() - started
    if "password authentication failed" in low or "no password supplied" in low:
        return ProbeResult(
            t.service,
            FAIL,
            f"password rejected for {user}: POSTGRES_PASSWORD in .env does not match the database's "
            f"(it is applied only when the data folder is first created; change it with ALTER USER)",
            {},
            seconds,
        )
    if "too many clients" in low or "remaining connection slots" in low:
        return ProbeResult(t.service, FAIL, f"refuses new connections: {text}", {}, seconds)
    if "does not exist" in low:
        return ProbeResult(t.service, FAIL, f"database or user missing: {text}", {}, seconds)
    if "starting up" in low or "shutting down" in low or "recovery" in low:
        return ProbeResult(t.service, FAIL, f"not accepting connections: {text}", {}, seconds)
    if "timeout" in low or "timed out" in low:
        return _unreachable(t, f"no answer within {t.timeout:g}s (hung or overloaded)", started)
    if "refused" in low:
        return _unreachable(t, "connection refused (nothing listens there: is the container running?)", started)
    if "statement timeout" in low or "canceling statement" in low:
        return ProbeResult(t.service, FAIL, f"queries time out: {text}", {}, seconds)
    return _unreachable(t, _network_reason(exc, t), started)


# -- Redis ------------------------------------------------------------------------------------
def probe_redis(t: ProbeTarget) -> ProbeResult:
    """Authenticated PING round trip, memory against maxmemory and policy, clients, AOF and the
    last rewrite/write/background-save status. Read-only commands only (PING, INFO)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    started = time.monotonic()
    client = redis.Redis(
        host=t.host,
        port=t.port,
        password=t.env.get("REDIS_PASSWORD") or None,
        socket_timeout=t.timeout,
        socket_connect_timeout=t.timeout,
        retry=Retry(NoBackoff(), 0),  # one try: a timeout is the answer, not a reason to wait longer
        client_name="liar-tui-probe",
    )
    try:
        client.ping()  # connects and authenticates
        t0 = time.monotonic()
        client.ping()  # the round trip alone
        ping_ms = (time.monotonic() - t0) * 1000
        info = client.info("server", "clients", "memory", "persistence", "errorstats", "keyspace")
    except redis.AuthenticationError:
        return ProbeResult(
            t.service,
            FAIL,
            "password rejected (WRONGPASS/NOAUTH): the server's password differs from REDIS_PASSWORD in .env "
            "(after editing .env, recreate redis)",
            {},
            time.monotonic() - started,
        )
    except redis.ResponseError as exc:
        low = str(exc).lower()
        if "noauth" in low or "wrongpass" in low or "auth" in low:
            return ProbeResult(t.service, FAIL, f"password rejected: {_first_line(exc)}", {}, time.monotonic() - started)
        return ProbeResult(t.service, FAIL, f"error answer: {_first_line(exc)}", {}, time.monotonic() - started)
    except (redis.TimeoutError, socket.timeout, TimeoutError):
        return _unreachable(t, f"no answer within {t.timeout:g}s (hung or overloaded)", started)
    except (redis.ConnectionError, OSError) as exc:
        return _unreachable(t, _network_reason(exc.__cause__ or exc, t), started)
    finally:
        try:
            client.close()
        except Exception:  # noqa: BLE001
            pass
    return _redis_result(t, info, ping_ms, time.monotonic() - started)


def _redis_result(t: ProbeTarget, info: Mapping[str, Any], ping_ms: float, seconds: float) -> ProbeResult:
    used = int(info.get("used_memory") or 0)
    maxmemory = int(info.get("maxmemory") or 0)
    policy = str(info.get("maxmemory_policy") or "")
    keys = sum(int(v.get("keys", 0)) for k, v in info.items() if k.startswith("db") and isinstance(v, dict))
    oom = info.get("errorstat_OOM")
    figures: dict[str, Any] = {
        "version": str(info.get("redis_version") or ""),
        "ping_ms": round(ping_ms, 2),
        "used_memory": used,
        "maxmemory": maxmemory,
        "maxmemory_policy": policy,
        "connected_clients": int(info.get("connected_clients") or 0),
        "keys": keys,
        "aof_enabled": bool(int(info.get("aof_enabled") or 0)),
        "aof_last_bgrewrite_status": str(info.get("aof_last_bgrewrite_status") or ""),
        "aof_last_write_status": str(info.get("aof_last_write_status") or ""),
        "rdb_last_bgsave_status": str(info.get("rdb_last_bgsave_status") or ""),
        "oom_errors": int(oom.get("count", 0)) if isinstance(oom, dict) else 0,
    }
    mem = f"{format_bytes(used)}" + (f" of {format_bytes(maxmemory)} ({policy})" if maxmemory else " (no maxmemory)")
    base = f"Redis {figures['version']}: PING {ping_ms:.1f} ms, {mem}, {count_of(figures['connected_clients'], 'client')}, {count_of(keys, 'key')}"
    fails: list[str] = []
    warns: list[str] = []
    if maxmemory:
        ratio = used / maxmemory
        if policy == "noeviction" and ratio >= t.thresholds.memory_full:
            fails.append(f"memory full ({format_bytes(used)} of maxmemory {format_bytes(maxmemory)}, noeviction): writes fail with OOM")
        elif ratio >= t.thresholds.memory_full:
            warns.append(f"at maxmemory: evicting keys ({policy})")
        elif ratio >= t.thresholds.memory_warn:
            warns.append(f"memory {ratio:.0%} of maxmemory")
    if figures["aof_last_write_status"] == "err":
        fails.append("the last AOF write failed: writes are refused")
    if figures["rdb_last_bgsave_status"] == "err":
        fails.append("the last background save failed (MISCONF: writes may be refused)")
    if not figures["aof_enabled"]:
        warns.append("AOF is off (the stack runs redis with appendonly yes)")
    elif figures["aof_last_bgrewrite_status"] == "err":
        warns.append("the last AOF rewrite failed")
    if fails:
        return ProbeResult(t.service, FAIL, "; ".join(fails + warns) + f"; {base}", figures, seconds)
    if warns:
        return ProbeResult(t.service, WARN, "; ".join(warns) + f"; {base}", figures, seconds)
    return ProbeResult(t.service, OK, base + ", AOF on", figures, seconds)


# -- MinIO (S3 API only: works with MinIO and S3 stand-ins; no admin API) ------------------------
def probe_minio(t: ProbeTarget, expected: tuple[str, ...] = EXPECTED_BUCKETS) -> ProbeResult:
    """Credentials accepted, every bucket with its object count and size, the expected buckets present."""
    from minio.error import S3Error

    from .buckets import s3_client

    started = time.monotonic()
    try:
        client = s3_client(t.host, t.port, t.env, timeout=t.timeout)
    except ValueError as exc:  # no credentials in .env: nothing to ask MinIO
        return ProbeResult(t.service, FAIL, str(exc), {}, time.monotonic() - started)
    try:
        names = [b.name for b in client.list_buckets()]
        buckets: list[dict[str, Any]] = []
        deadline = started + max(t.timeout * 2, 3.0)
        for name in names:
            count = size = 0
            truncated = False
            for obj in client.list_objects(name, recursive=True):
                count += 1
                size += int(obj.size or 0)
                if count >= t.thresholds.objects_cap or time.monotonic() > deadline:
                    truncated = True
                    break
            buckets.append({"name": name, "objects": count, "bytes": size, "truncated": truncated})
    except S3Error as exc:
        seconds = time.monotonic() - started
        if exc.code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken"):
            return ProbeResult(
                t.service,
                FAIL,
                f"credentials rejected ({exc.code}): MINIO_ROOT_USER/MINIO_ROOT_PASSWORD in .env differ from the "
                f"server's (after editing .env, recreate minio)",
                {"error_code": exc.code},
                seconds,
            )
        return ProbeResult(t.service, FAIL, f"S3 error {exc.code}: {exc.message}", {"error_code": exc.code}, seconds)
    except Exception as exc:  # noqa: BLE001 - urllib3 raises its own connection/timeout errors
        return _unreachable(t, _network_reason(exc, t), started)
    seconds = time.monotonic() - started
    missing = [b for b in expected if b not in names]
    total_objects = sum(b["objects"] for b in buckets)
    total_bytes = sum(b["bytes"] for b in buckets)
    figures = {
        "buckets": buckets,
        "expected": list(expected),
        "missing": missing,
        "objects": total_objects,
        "bytes": total_bytes,
        "credentials_accepted": True,
    }
    listing = ", ".join(
        f"{b['name']} {b['objects']}{'+' if b['truncated'] else ''} obj {format_bytes(b['bytes'])}" for b in buckets
    ) or "no buckets"
    if missing:
        return ProbeResult(
            t.service,
            FAIL,
            f"missing bucket{'s' if len(missing) > 1 else ''} {', '.join(missing)} (`liar-tui up` creates them); {listing}",
            figures,
            seconds,
        )
    return ProbeResult(t.service, OK, f"credentials accepted; {listing}", figures, seconds)


# -- Nginx ------------------------------------------------------------------------------------
_UPSTREAM = re.compile(r"upstream\s+liar_api\s*\{[^}]*?server\s+([^\s;]+)", re.S)


def api_upstream(nginx_conf: str) -> str:
    """'host.docker.internal:3000' from nginx.conf's `upstream liar_api` ('' when not found)."""
    m = _UPSTREAM.search(nginx_conf or "")
    return m.group(1) if m else ""


def _http_get(t: ProbeTarget, path: str) -> tuple[int, bytes, dict[str, str], float]:
    started = time.monotonic()
    conn = http.client.HTTPConnection(t.host, t.port, timeout=t.timeout)
    try:
        conn.request("GET", path, headers={"User-Agent": "liar-tui-probe", "Connection": "close"})
        resp = conn.getresponse()
        body = resp.read(4096)
        return resp.status, body, {k.lower(): v for k, v in resp.getheaders()}, time.monotonic() - started
    finally:
        conn.close()


def probe_nginx(t: ProbeTarget, api_path: str = "/api/health") -> ProbeResult:
    """/health status and latency, and whether /api/ reaches the API upstream or answers 502/504."""
    started = time.monotonic()
    try:
        status, body, _headers, seconds = _http_get(t, "/health")
    except Exception as exc:  # noqa: BLE001
        return _unreachable(t, _network_reason(exc, t), started)
    figures: dict[str, Any] = {"health_status": status, "health_ms": round(seconds * 1000, 1)}
    if status != 200:
        return ProbeResult(
            t.service, FAIL, f"/health answers {status} {body[:60].decode('utf-8', 'replace').strip()}", figures,
            time.monotonic() - started,
        )
    upstream = api_upstream(t.nginx_conf)
    where = f"the API upstream {upstream}" if upstream else "the API upstream"
    try:
        api_status, api_body, api_headers, api_seconds = _http_get(t, api_path)
    except Exception as exc:  # noqa: BLE001
        figures.update(api_path=api_path, api_status=None, upstream=upstream)
        return ProbeResult(
            t.service, FAIL, f"/health 200 in {seconds * 1000:.0f} ms, but {api_path} {_network_reason(exc, t)}",
            figures, time.monotonic() - started,
        )
    figures.update(api_path=api_path, api_status=api_status, api_ms=round(api_seconds * 1000, 1), upstream=upstream)
    # nginx's own error pages name nginx; an API that itself answers 502 does not.
    from_proxy = b"nginx" in api_body.lower() or api_headers.get("server", "").startswith("nginx")
    if api_status in (502, 504) and from_proxy:
        what = "502 Bad Gateway: nothing answers at" if api_status == 502 else "504 Gateway Timeout: no answer in time from"
        figures["api_reachable"] = False
        # Red, not amber: every API call through this proxy fails, whatever Docker's health says.
        return ProbeResult(
            t.service, FAIL, f"/health 200, but {api_path} answers {what} {where} (is the API running on the host?)",
            figures, time.monotonic() - started,
        )
    figures["api_reachable"] = True
    return ProbeResult(
        t.service, OK,
        f"/health 200 in {seconds * 1000:.0f} ms; {api_path} reaches {where} ({api_status} in {api_seconds * 1000:.0f} ms)",
        figures, time.monotonic() - started,
    )


PROBES: dict[str, Callable[[ProbeTarget], ProbeResult]] = {
    "postgres": probe_postgres,
    "redis": probe_redis,
    "nginx": probe_nginx,
    "minio": probe_minio,
}


def _redacted(result: ProbeResult, redact: Callable[[str], str]) -> ProbeResult:
    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return redact(value)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return ProbeResult(
        result.service, result.level, redact(result.reason), clean(result.figures), result.seconds, result.at
    )


def probe_service(target: ProbeTarget, redact: Callable[[str], str] | None = None) -> ProbeResult:
    """Run one probe; a bug in a probe becomes a fail result, never an exception."""
    probe = PROBES[target.service]
    started = time.monotonic()
    try:
        result = probe(target)
    except Exception as exc:  # noqa: BLE001
        result = ProbeResult(target.service, FAIL, f"probe error: {_first_line(exc)}", {}, time.monotonic() - started)
    return _redacted(result, redact) if redact is not None else result


def not_running_result(st: ServiceState) -> ProbeResult:
    word = "no container" if st.state == "missing" else f"not running ({st.status_word})"
    return ProbeResult(st.service, FAIL, word, {"state": st.state})


CREDENTIALED = ("postgres", "redis", "minio")  # probes that log in with the .env's passwords


def run_probes(
    project: Project,
    states: Mapping[str, ServiceState] | None = None,
    *,
    services: tuple[str, ...] = SERVICES,
    timeout: float = DEFAULT_TIMEOUT,
    deadline: float = 4.0,
    thresholds: ProbeThresholds | None = None,
) -> dict[str, ProbeResult]:
    """Probe the services in parallel; whatever has not answered after `deadline` seconds is a fail.

    With `states`, a service whose container is not running is reported as such without a probe.
    Daemon threads: a probe stuck past every timeout cannot hold up the caller or the exit.
    """
    redact = project.redactor()
    all_targets = targets(project, states, timeout=timeout, thresholds=thresholds)
    results: dict[str, ProbeResult] = {}
    lock = threading.Lock()
    done = threading.Condition(lock)
    threads = []
    no_env = not project.env_file.exists()
    for service in services:
        st = (states or {}).get(service)
        if st is not None and not st.running:
            results[service] = not_running_result(st)
            continue
        other = project.made_elsewhere(st.working_dir) if st is not None and st.container_id else None
        if other is not None and service in CREDENTIALED:
            # another checkout's containers under this project name: this copy's passwords are
            # not theirs, and "password rejected: ALTER USER" would be a wrong fix on their data
            results[service] = ProbeResult(service, WARN, f"not probed: its container was made from {other}, with that "
                                                          f"copy's passwords: run liar-tui there (--project-dir {other})")
            continue
        if no_env and service in CREDENTIALED:
            # not "password rejected": there is no password to try
            results[service] = ProbeResult(service, FAIL, f"{project.rel(project.env_file)} is missing, so the probe has no "
                                                          f"credentials: run `liar-tui setup` (or restore your .env)")
            continue

        def work(target: ProbeTarget = all_targets[service], starting: bool = bool(st and st.health.status == "starting")) -> None:
            result = probe_service(target, redact)
            if starting and result.level == FAIL:
                # Docker's own healthcheck has not passed yet either: a service coming up, not an
                # alarm (a launch with `up` would otherwise paint every probe red for seconds).
                result = replace(result, level=WARN, reason=f"starting: {result.reason}")
            with done:
                results[target.service] = result
                done.notify_all()

        th = threading.Thread(target=work, name=f"probe-{service}", daemon=True)
        threads.append(th)
        th.start()
    end = time.monotonic() + deadline
    with done:
        while len(results) < len(services):
            left = end - time.monotonic()
            if left <= 0:
                break
            done.wait(left)
        for service in services:
            if service not in results:
                results[service] = ProbeResult(
                    service, FAIL, f"unreachable: the probe got no answer within {deadline:g}s", {}, deadline
                )
        return {s: results[s] for s in services}


ResultCallback = Callable[[ProbeResult], None]
ChangeCallback = Callable[["ProbeResult | None", ProbeResult], None]


class ProbeRunner:
    """Probes the stack in a background thread, one round at a time.

    After each round the next one is armed `interval` seconds later (a one-shot wait, so rounds
    never overlap however slow a probe is); `trigger()` runs one now (e.g. after an action).
    Callbacks run on the runner's thread: hand the result over (post_message) and return.
    `on_result` gets every result; `on_change(previous, current)` only level changes (and the
    first result of each service); `on_round` the dict of a finished round.
    """

    def __init__(
        self,
        project: Project,
        *,
        interval: float = 10.0,
        timeout: float = DEFAULT_TIMEOUT,
        deadline: float = 4.0,
        states: Callable[[], Mapping[str, ServiceState]] | None = None,
        on_result: ResultCallback | None = None,
        on_change: ChangeCallback | None = None,
        on_round: Callable[[dict[str, ProbeResult]], None] | None = None,
        services: tuple[str, ...] = SERVICES,
        thresholds: ProbeThresholds | None = None,
    ) -> None:
        self.project = project
        self.interval = interval
        self.timeout = timeout
        self.deadline = deadline
        self.services = services
        self.thresholds = thresholds
        self._states = states
        self._on_result = on_result
        self._on_change = on_change
        self._on_round = on_round
        self._results: dict[str, ProbeResult] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._paused = False
        self.rounds = 0
        self._thread = threading.Thread(target=self._run, name="probes", daemon=True)

    def start(self) -> "ProbeRunner":
        self._thread.start()
        return self

    def stop(self, join: float = 1.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(join)

    def trigger(self) -> None:
        """Run a round now (or right after the one in progress)."""
        self._wake.set()

    def pause(self) -> None:
        """No rounds while paused (e.g. the health view is hidden); trigger() still runs one."""
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        self._wake.set()

    def results(self) -> dict[str, ProbeResult]:
        with self._lock:
            return dict(self._results)

    def result(self, service: str) -> ProbeResult | None:
        with self._lock:
            return self._results.get(service)

    def _run(self) -> None:
        forced = not self._paused  # started paused: the first round waits for resume() or trigger()
        while not self._stop.is_set():
            self._wake.clear()  # before the round: a trigger() during it runs the next one at once
            if forced or not self._paused:
                self.run_once()
            forced = self._wake.wait(self.interval)

    def run_once(self) -> dict[str, ProbeResult]:
        try:
            states = self._states() if self._states is not None else None
        except Exception:  # noqa: BLE001
            states = None
        results = run_probes(
            self.project, states, services=self.services, timeout=self.timeout, deadline=self.deadline,
            thresholds=self.thresholds,
        )
        self.rounds += 1
        for service, result in results.items():
            with self._lock:
                previous = self._results.get(service)
                self._results[service] = result
            if self._stop.is_set():
                return results
            _safe(self._on_result, result)
            if previous is None or previous.level != result.level:
                if self._on_change is not None:
                    try:
                        self._on_change(previous, result)
                    except Exception:  # noqa: BLE001
                        pass
        _safe(self._on_round, results)
        return results


def _safe(callback: Callable[[Any], None] | None, value: Any) -> None:
    if callback is None:
        return
    try:
        callback(value)
    except Exception:  # noqa: BLE001 - a broken view must not stop the probes
        pass
