"""Plain data the stack layer hands out: service state, health, ports, stats, action results.

Everything here is pure: parsers take the Engine API's JSON and return dataclasses, so they can be
unit-tested without an engine and rendered by any front end (CLI, Textual, JSON).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

# Compose labels on every container of a project.
LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"
LABEL_CONFIG_HASH = "com.docker.compose.config-hash"
LABEL_WORKING_DIR = "com.docker.compose.project.working_dir"

#: The services of the liar-game stack, in display order.
SERVICES: tuple[str, ...] = ("postgres", "redis", "nginx", "minio")

#: What each service is, for service-aware views.
SERVICE_KIND: dict[str, str] = {
    "postgres": "database",
    "redis": "cache",
    "nginx": "proxy",
    "minio": "object store",
}

#: Services that hold data, in backup/restore order (roles and tables first, objects last).
BACKUP_SERVICES: tuple[str, ...] = ("postgres", "redis", "minio")
#: Where backup sets go when neither a flag nor the config says (else <project>/backups).
BACKUP_DIR_ENV = "LIAR_TUI_BACKUP_DIR"

_ZERO_TIME = "0001-01-01T00:00:00Z"


def parse_docker_time(value: str | None) -> datetime | None:
    """Parse Docker's RFC 3339 timestamps (nanoseconds, 'Z'); the zero time means 'never'."""
    if not value or value.startswith("0001-01-01"):
        return None
    text = value.rstrip("Z")
    offset = "+00:00"
    if "+" in text[10:] or "-" in text[10:]:
        # explicit offset, e.g. 2024-01-01T10:00:00.123456789+02:00
        for sep in ("+", "-"):
            idx = text.rfind(sep, 10)
            if idx > 0:
                text, offset = text[:idx], text[idx:]
                break
    if "." in text:
        main, frac = text.split(".", 1)
        text = f"{main}.{frac[:6]}"
    try:
        return datetime.fromisoformat(text + offset).astimezone(timezone.utc)
    except ValueError:
        return None


@dataclass(frozen=True)
class PortBinding:
    """A published port: host address and port -> container port."""

    host_ip: str
    host_port: int
    container_port: int
    protocol: str = "tcp"

    def __str__(self) -> str:
        return f"{self.host_ip}:{self.host_port}->{self.container_port}/{self.protocol}"


@dataclass(frozen=True)
class HealthCheckResult:
    """One run of a container's healthcheck, as Docker recorded it."""

    start: datetime | None
    end: datetime | None
    exit_code: int
    output: str


@dataclass(frozen=True)
class HealthInfo:
    """Docker's health state for a container ('none' when it has no healthcheck)."""

    status: str = "none"  # starting | healthy | unhealthy | none
    failing_streak: int = 0
    log: tuple[HealthCheckResult, ...] = ()

    @property
    def last_output(self) -> str:
        return self.log[-1].output.strip() if self.log else ""


@dataclass(frozen=True)
class ServiceState:
    """Everything liar-tui shows about one service's container."""

    service: str
    state: str = "missing"  # running | exited | paused | restarting | created | dead | removing | missing
    container_id: str = ""
    container_name: str = ""
    image: str = ""
    exit_code: int = 0
    oom_killed: bool = False
    error: str = ""
    health: HealthInfo = field(default_factory=HealthInfo)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    restart_count: int = 0
    ports: tuple[PortBinding, ...] = ()
    config_hash: str = ""
    pid: int = 0
    working_dir: str = ""  # the compose folder the container was made from (its compose label)

    @property
    def running(self) -> bool:
        return self.state == "running"

    def uptime_seconds(self, now: datetime | None = None) -> float | None:
        if not self.running or self.started_at is None:
            return None
        now = now or datetime.now(timezone.utc)
        return max(0.0, (now - self.started_at).total_seconds())

    @property
    def status_word(self) -> str:
        """One word for lists: healthy/unhealthy/starting for running containers with a check."""
        if self.running and self.health.status != "none":
            return self.health.status
        if self.state == "exited":
            return f"exited({self.exit_code})"
        return self.state

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        """JSON-ready form (used by `liar-tui status --json`)."""
        data = asdict(self)
        data["name"] = self.service
        data["health"] = self.health.status
        data["health_failing_streak"] = self.health.failing_streak
        data["health_log"] = [
            {
                "start": _iso(h.start),
                "end": _iso(h.end),
                "exit_code": h.exit_code,
                "output": h.output,
            }
            for h in self.health.log
        ]
        data["started_at"] = _iso(self.started_at)
        data["finished_at"] = _iso(self.finished_at)
        data["uptime_seconds"] = self.uptime_seconds(now)
        data["ports"] = [str(p) for p in self.ports]
        data.pop("service")
        return data


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def parse_ports(network_settings: dict[str, Any] | None) -> tuple[PortBinding, ...]:
    """Published ports from inspect's NetworkSettings.Ports ({"5432/tcp": [{HostIp, HostPort}]})."""
    result: list[PortBinding] = []
    ports = (network_settings or {}).get("Ports") or {}
    for key, bindings in ports.items():
        if not bindings:
            continue
        cport, _, proto = key.partition("/")
        for b in bindings:
            try:
                result.append(
                    PortBinding(
                        host_ip=b.get("HostIp") or "0.0.0.0",
                        host_port=int(b.get("HostPort")),
                        container_port=int(cport),
                        protocol=proto or "tcp",
                    )
                )
            except (TypeError, ValueError):
                continue
    # IPv4 and IPv6 bindings of the same port are one fact for a person.
    seen: dict[tuple[int, int, str], PortBinding] = {}
    for p in sorted(result, key=lambda p: (p.container_port, ":" in p.host_ip)):
        seen.setdefault((p.host_port, p.container_port, p.protocol), p)
    return tuple(seen.values())


def parse_health(health: dict[str, Any] | None) -> HealthInfo:
    if not health:
        return HealthInfo()
    log = tuple(
        HealthCheckResult(
            start=parse_docker_time(entry.get("Start")),
            end=parse_docker_time(entry.get("End")),
            exit_code=int(entry.get("ExitCode", 0)),
            output=str(entry.get("Output", "")),
        )
        for entry in (health.get("Log") or [])
    )
    return HealthInfo(
        status=str(health.get("Status") or "none"),
        failing_streak=int(health.get("FailingStreak") or 0),
        log=log,
    )


def parse_inspect(data: dict[str, Any], service: str | None = None) -> ServiceState:
    """Build a ServiceState from `docker inspect` JSON of one container."""
    config = data.get("Config") or {}
    labels = config.get("Labels") or {}
    state = data.get("State") or {}
    name = str(data.get("Name") or "").lstrip("/")
    return ServiceState(
        service=service or labels.get(LABEL_SERVICE) or name,
        state=str(state.get("Status") or "unknown"),
        container_id=str(data.get("Id") or ""),
        container_name=name,
        image=str(config.get("Image") or ""),
        exit_code=int(state.get("ExitCode") or 0),
        oom_killed=bool(state.get("OOMKilled")),
        error=str(state.get("Error") or ""),
        health=parse_health(state.get("Health")),
        started_at=parse_docker_time(state.get("StartedAt")),
        finished_at=parse_docker_time(state.get("FinishedAt")),
        restart_count=int(data.get("RestartCount") or 0),
        ports=parse_ports(data.get("NetworkSettings")),
        config_hash=str(labels.get(LABEL_CONFIG_HASH) or ""),
        pid=int(state.get("Pid") or 0),
        working_dir=str(labels.get(LABEL_WORKING_DIR) or ""),
    )


@dataclass(frozen=True)
class MountInfo:
    """One of a container's mounts: a bind (host folder or file), a volume or a tmpfs."""

    kind: str
    source: str  # the host path (bind), the volume's name, or "" (tmpfs)
    target: str
    writable: bool = True


@dataclass(frozen=True)
class ContainerConfig:
    """How a service's container was made, from its inspect (Config, HostConfig, Mounts,
    NetworkSettings): what lazydocker's Config tab and k9s's describe show. It changes only with
    the container, so it is read once per container."""

    command: tuple[str, ...] = ()  # entrypoint + cmd, as given
    restart_policy: str = ""
    memory_limit: int = 0  # bytes; 0: none
    mounts: tuple[MountInfo, ...] = ()
    networks: tuple[tuple[str, str], ...] = ()  # (network, IPv4 address in it)
    check: tuple[str, ...] = ()  # the healthcheck's test (["CMD-SHELL", "..."]); () none
    check_interval: float = 0.0  # seconds
    check_timeout: float = 0.0
    check_retries: int = 0
    check_start_period: float = 0.0


def parse_container_config(data: dict[str, Any]) -> ContainerConfig:
    """`docker inspect` JSON of one container -> ContainerConfig."""
    config = data.get("Config") or {}
    host = data.get("HostConfig") or {}
    health = config.get("Healthcheck") or {}
    test = tuple(str(t) for t in health.get("Test") or ())
    policy = host.get("RestartPolicy") or {}
    restart = str(policy.get("Name") or "")
    if restart == "on-failure" and policy.get("MaximumRetryCount"):
        restart += f":{policy['MaximumRetryCount']}"
    networks = (data.get("NetworkSettings") or {}).get("Networks") or {}
    mounts = tuple(
        MountInfo(
            kind=str(m.get("Type") or ""),
            source=str(m.get("Name") if m.get("Type") == "volume" else m.get("Source") or ""),
            target=str(m.get("Destination") or ""),
            writable=bool(m.get("RW", True)),
        )
        for m in data.get("Mounts") or ()
    )
    def seconds(key: str) -> float:
        return int(health.get(key) or 0) / 1e9

    return ContainerConfig(
        command=tuple(str(a) for a in [*(config.get("Entrypoint") or ()), *(config.get("Cmd") or ())]),
        restart_policy="" if restart == "no" else restart,
        memory_limit=int(host.get("Memory") or 0),
        mounts=tuple(sorted(mounts, key=lambda m: m.target)),
        networks=tuple(sorted((str(name), str((net or {}).get("IPAddress") or "")) for name, net in networks.items())),
        check=() if test[:1] == ("NONE",) else test,
        check_interval=seconds("Interval"),
        check_timeout=seconds("Timeout"),
        check_retries=int(health.get("Retries") or 0),
        check_start_period=seconds("StartPeriod"),
    )


#: `ps` columns asked of the engine's top (it runs ps on the host and keeps the container's rows).
TOP_PS_ARGS = "-eo pid,rss,etime,args"
#: At most this many processes are kept (nginx with many workers, a busy PostgreSQL).
TOP_MAX = 50


@dataclass(frozen=True)
class ProcessRow:
    """One process of a container, as the engine's top gives it (the PID is the host's)."""

    pid: int
    rss_kib: int
    elapsed: str
    command: str


def parse_top(data: dict[str, Any] | None, limit: int = TOP_MAX) -> list[ProcessRow]:
    """The engine's `GET /containers/ID/top?ps_args=TOP_PS_ARGS` answer -> rows (bounded)."""
    titles = [str(t).upper() for t in (data or {}).get("Titles") or []]
    col: dict[str, int] = {name: titles.index(name) for name in ("PID", "RSS", "ELAPSED", "COMMAND") if name in titles}
    rows: list[ProcessRow] = []
    for raw in ((data or {}).get("Processes") or [])[:limit]:
        def cell(name: str) -> str:
            i = col.get(name)
            return str(raw[i]) if i is not None and i < len(raw) else ""
        try:
            pid = int(cell("PID"))
        except ValueError:
            continue
        rss = cell("RSS")
        rows.append(ProcessRow(pid, int(rss) if rss.isdigit() else 0, cell("ELAPSED"), cell("COMMAND")))
    return rows


@dataclass(frozen=True)
class StatsSample:
    """One `docker stats` frame for a container, computed as the docker CLI does."""

    service: str
    at: float  # monotonic-ish wall time of the sample (seconds)
    cpu_percent: float
    mem_used: int
    mem_limit: int
    net_rx: int  # cumulative bytes
    net_tx: int
    blk_read: int  # cumulative bytes
    blk_write: int
    pids: int = 0
    net_rx_rate: float = 0.0  # bytes/s since the previous sample
    net_tx_rate: float = 0.0
    blk_read_rate: float = 0.0
    blk_write_rate: float = 0.0

    @property
    def mem_percent(self) -> float:
        return 100.0 * self.mem_used / self.mem_limit if self.mem_limit else 0.0


def compute_cpu_percent(frame: dict[str, Any]) -> float:
    """CPU % like `docker stats`: delta container usage / delta system usage x online CPUs x 100."""
    cpu = frame.get("cpu_stats") or {}
    pre = frame.get("precpu_stats") or {}
    total = (cpu.get("cpu_usage") or {}).get("total_usage") or 0
    pre_total = (pre.get("cpu_usage") or {}).get("total_usage") or 0
    system = cpu.get("system_cpu_usage") or 0
    pre_system = pre.get("system_cpu_usage") or 0
    online = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    cpu_delta = total - pre_total
    sys_delta = system - pre_system
    if cpu_delta <= 0 or sys_delta <= 0 or not pre_system:
        return 0.0
    return cpu_delta / sys_delta * online * 100.0


def compute_memory(frame: dict[str, Any]) -> tuple[int, int]:
    """(used, limit) like `docker stats`: usage minus inactive file cache (cgroup v1 and v2)."""
    mem = frame.get("memory_stats") or {}
    usage = int(mem.get("usage") or 0)
    stats = mem.get("stats") or {}
    if "total_inactive_file" in stats:  # cgroup v1
        cache = stats.get("total_inactive_file") or 0
    else:  # cgroup v2
        cache = stats.get("inactive_file") or 0
    used = usage - int(cache) if cache < usage else usage
    return used, int(mem.get("limit") or 0)


def compute_network(frame: dict[str, Any]) -> tuple[int, int]:
    rx = tx = 0
    for iface in (frame.get("networks") or {}).values():
        rx += int(iface.get("rx_bytes") or 0)
        tx += int(iface.get("tx_bytes") or 0)
    return rx, tx


def compute_blkio(frame: dict[str, Any]) -> tuple[int, int]:
    read = write = 0
    entries = (frame.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
    for e in entries:
        op = str(e.get("op", "")).lower()
        if op == "read":
            read += int(e.get("value") or 0)
        elif op == "write":
            write += int(e.get("value") or 0)
    return read, write


def stats_from_frame(
    service: str, frame: dict[str, Any], at: float, previous: StatsSample | None = None
) -> StatsSample:
    """Turn one Engine API stats frame into a StatsSample; rates are against `previous`."""
    used, limit = compute_memory(frame)
    rx, tx = compute_network(frame)
    rd, wr = compute_blkio(frame)
    rates = (0.0, 0.0, 0.0, 0.0)
    if previous is not None and at > previous.at:
        dt = at - previous.at
        rates = (
            max(0.0, (rx - previous.net_rx) / dt),
            max(0.0, (tx - previous.net_tx) / dt),
            max(0.0, (rd - previous.blk_read) / dt),
            max(0.0, (wr - previous.blk_write) / dt),
        )
    return StatsSample(
        service=service,
        at=at,
        cpu_percent=compute_cpu_percent(frame),
        mem_used=used,
        mem_limit=limit,
        net_rx=rx,
        net_tx=tx,
        blk_read=rd,
        blk_write=wr,
        pids=int((frame.get("pids_stats") or {}).get("current") or 0),
        net_rx_rate=rates[0],
        net_tx_rate=rates[1],
        blk_read_rate=rates[2],
        blk_write_rate=rates[3],
    )


@dataclass(frozen=True)
class ActionResult:
    """What a lifecycle action did. `message` is compose's own error text when it failed."""

    action: str
    services: tuple[str, ...]
    ok: bool
    message: str = ""
    seconds: float = 0.0
    # the CLI's exit status when it failed: 2 when a check refused before anything was touched
    # (a port in use, a secret not set: as `up` exits), 1 when the action ran and failed
    exit_code: int = 1

    @property
    def target(self) -> str:
        return ", ".join(self.services) if self.services else "all services"

    def summary(self) -> str:
        if self.ok:
            return f"{self.action} {self.target}: done in {self.seconds:.1f}s"
        return f"{self.action} {self.target} failed: {self.message}"

    def cut_short_summary(self) -> str:
        """The record of an action whose compose was stopped because the console ended while it
        ran: compose then often exits 0, and 'done' would be written where nothing was done."""
        return f"{self.action} {self.target} cut short after {self.seconds:.1f}s: the console ended while it ran (compose stopped); run it again"


@dataclass(frozen=True)
class ProgressEvent:
    """A compose progress line (COMPOSE_PROGRESS=json), e.g. Container liar-game-redis Started."""

    resource: str
    status: str
    text: str = ""
    error: bool = False


def format_duration(seconds: float | None) -> str:
    """Short human uptime: 45s, 12m, 3h05m, 2d04h."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


def count_of(n: int, noun: str) -> str:
    """(1, 'client') -> '1 client'; (2, 'client') -> '2 clients'."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def format_bytes(n: float) -> str:
    """1536 -> '1.5KiB'."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.1f}TiB"
