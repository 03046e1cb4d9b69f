"""Pure formatting for the console: service panes, the compact table, sparklines, the host bar.

Functions take plain data (ServiceState, StatsSample lists, a `now`) and return Rich Text, so a
widget only decides *when* to repaint, and tests can feed fixed data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from operator import attrgetter
from typing import Any

from rich.table import Table
from rich.text import Text

from ..stack.model import SERVICE_KIND, ServiceState, StatsSample, format_bytes, format_duration
from .statusword import SERVICE_COLOURS, status_word

SPARK = "▁▂▃▄▅▆▇█"

#: How far back the sparklines reach.
HISTORY_SECONDS = 180

KIND_SHORT: dict[str, str] = {"database": "db", "cache": "cache", "proxy": "proxy", "object store": "s3"}


def short_bytes(n: float) -> str:
    """1536 -> '1.5K', 35_000_000 -> '33M' (binary units, at most 5 characters)."""
    value = float(n)
    for unit in ("B", "K", "M", "G", "T"):
        if abs(value) < 1000 or unit == "T":
            if unit == "B":
                return f"{value:.0f}B"
            return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"
        value /= 1024
    return f"{value:.0f}T"


def rate(n: float) -> str:
    return f"{short_bytes(n)}/s"


def sparkline(values: Sequence[float | None], floor: float = 1.0) -> str:
    """Block characters scaled to the largest value (at least `floor`); None draws a blank."""
    present = [v for v in values if v is not None]
    top = max([floor, *present]) if present else floor
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        else:
            out.append(SPARK[min(len(SPARK) - 1, max(0, int(v / top * (len(SPARK) - 1) + 0.5)))])
    return "".join(out)


def bucket(
    history: Sequence[StatsSample],
    width: int,
    value: Callable[[StatsSample], float],
    now: float,
    seconds: int = HISTORY_SECONDS,
) -> list[float | None]:
    """`width` columns covering the last `seconds` (by sample time); each column is its mean."""
    if width <= 0:
        return []
    step = max(1.0, math.ceil(seconds / width))
    sums = [0.0] * width
    counts = [0] * width
    start = now - step * width
    end = now + 1
    last = width - 1
    # once a second for three sparklines of every pane: the loop is kept lean (the panes'
    # repaint was a quarter of the idle console's CPU, these loops half of that)
    for s in history:
        at = s.at
        if start <= at <= end:
            i = int((at - start) // step)
            if i > last:
                i = last
            sums[i] += value(s)
            counts[i] += 1
    return [total / n if n else None for total, n in zip(sums, counts)]


def status_text(state: ServiceState, connected: bool = True) -> Text:
    """'● healthy', '● exited (137)', '● unhealthy ×3', '○ no container' (see statusword.py)."""
    word, style = status_word(state, connected)
    return Text(word, style=style)


def ports_text(state: ServiceState) -> str:
    """'127.0.0.1 40253→9000 56433→9001' (one address shown once), or 'no ports'."""
    if not state.ports:
        return "no ports"
    hosts = {p.host_ip for p in state.ports}
    if len(hosts) == 1:
        return f"{next(iter(hosts))} " + " ".join(f"{p.host_port}→{p.container_port}" for p in state.ports)
    return " ".join(f"{p.host_ip}:{p.host_port}→{p.container_port}" for p in state.ports)


def clock_time(value: datetime | None) -> str:
    return value.strftime("%H:%M:%S") if value else "-"


def fit(text: str, width: int) -> str:
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _pair(left: Text | str, right: Text | str, width: int) -> Text:
    lt = left if isinstance(left, Text) else Text(left)
    rt = right if isinstance(right, Text) else Text(right)
    if lt.cell_len + 1 + rt.cell_len > width:
        lt.truncate(max(0, width - rt.cell_len - 1), overflow="ellipsis")
    gap = max(1, width - lt.cell_len - rt.cell_len)
    out = Text()
    out.append_text(lt)
    out.append(" " * gap)
    out.append_text(rt)
    out.truncate(width)
    return out


def _metric(label: str, value: str, width: int, style: str = "", spark: Callable[[int], str] | None = None) -> Text:
    line = Text()
    line.append(f"{label:<4}", style="dim")
    line.append(value)
    room = width - line.cell_len - 1
    if room >= 4 and spark is not None:
        line.append(" ")
        line.append(spark(room), style=style)
    line.truncate(width)
    return line


def render_pane(
    state: ServiceState,
    history: Sequence[StatsSample],
    width: int,
    now_wall: datetime,
    now: float,
    connected: bool = True,
    marker: Text | None = None,
) -> list[Text]:
    """The full pane (8 lines): state/health and uptime, image, ports, restarts, then CPU, memory and
    network with sparklines over the last minutes, and block I/O. `marker` (drift) takes the
    image's line: the image is in the health view, a pending recreate matters more."""
    width = max(10, width)
    lines: list[Text] = []
    up = state.uptime_seconds(now_wall) if connected else None
    right = f"up {format_duration(up)}" if up is not None else ""
    lines.append(_pair(status_text(state, connected), Text(right, style="dim"), width))
    if marker is not None:
        m = marker.copy()
        m.truncate(width, overflow="ellipsis")
        lines.append(m)
    else:
        lines.append(Text(fit(state.image or "-", width), style="dim"))
    lines.append(Text(fit(ports_text(state), width)))
    if state.running or state.state == "restarting":
        when = f"started {clock_time(state.started_at)}"
    elif state.finished_at is not None:
        when = f"stopped {clock_time(state.finished_at)}"
    else:
        when = ""
    restarts = f"restarts {state.restart_count}"
    if when and len(restarts) + 1 + len(when) > width:
        when = when.split(" ", 1)[-1]  # just the time when narrow
    lines.append(_pair(restarts, Text(when, style="dim"), width))
    lines.extend(render_stats_lines(state, history, width, now, connected))
    if state.error and not state.running:
        lines[-1] = Text(fit(state.error, width), style="red")  # why it is down matters more than I/O
    return lines


_CPU = attrgetter("cpu_percent")  # C-level getters: called for every sample of every sparkline
_MEM = attrgetter("mem_used")


def render_stats_lines(
    state: ServiceState, history: Sequence[StatsSample], width: int, now: float, connected: bool = True
) -> list[Text]:
    """CPU, memory, network and block I/O, the first three with sparklines over the last minutes
    (the pane's last four lines; the health view shows them too)."""
    latest = history[-1] if history and state.running and connected else None
    if latest is None:
        return [_metric(label, "-", width) for label in ("CPU", "MEM", "NET", "I/O")]

    def spark(value: Callable[[StatsSample], float], floor: float) -> Callable[[int], str]:
        return lambda room: sparkline(bucket(history, room, value, now), floor=floor)

    mem_value = f"{short_bytes(latest.mem_used)}/{short_bytes(latest.mem_limit)}" if latest.mem_limit else short_bytes(latest.mem_used)
    return [
        _metric("CPU", f"{latest.cpu_percent:5.1f}%", width, "cyan", spark(_CPU, 5.0)),
        _metric("MEM", f"{mem_value:>10}", width, "magenta", spark(_MEM, float(latest.mem_limit or 1))),
        _metric("NET", f"↓{rate(latest.net_rx_rate):>8} ↑{rate(latest.net_tx_rate):>8}", width, "green",
                spark(lambda s: s.net_rx_rate + s.net_tx_rate, 10 * 1024.0)),
        _metric("I/O", f"r{rate(latest.blk_read_rate):>8} w{rate(latest.blk_write_rate):>8}", width),
    ]


# -- the compact table (narrow terminals) ------------------------------------------------------
@dataclass(frozen=True)
class Column:
    name: str
    header: str
    width: int
    priority: int  # lower stays longer as the terminal narrows
    right: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("service", "SERVICE", 9, 0),
    Column("status", "STATUS", 15, 0),
    Column("probe", "PROBE", 6, 1),
    Column("kind", "KIND", 6, 1),
    Column("uptime", "UP", 7, 1, right=True),
    Column("drift", "DRIFT", 8, 1),
    Column("cpu", "CPU", 6, 2, right=True),
    Column("mem", "MEM", 11, 2, right=True),
    Column("restarts", "RST", 3, 3, right=True),
    Column("spark", "CPU 3m", 10, 4),
    Column("net", "NET ↓/↑", 15, 5, right=True),
    Column("io", "I/O r/w", 15, 6, right=True),
    Column("ports", "PORTS", 22, 7),
    Column("image", "IMAGE", 34, 8),
)


def table_columns(width: int) -> list[Column]:
    """The columns that fit in `width` (2 cells for the selection mark, 1 between columns)."""
    chosen = list(COLUMNS)
    for prio in range(max(c.priority for c in COLUMNS), 0, -1):
        if 2 + sum(c.width + 1 for c in chosen) <= width:
            break
        chosen = [c for c in chosen if c.priority < prio]
    return chosen


def _cell(value: Text | str, col: Column) -> Text:
    t = value if isinstance(value, Text) else Text(value)
    if t.cell_len > col.width:
        t.truncate(col.width, overflow="ellipsis")
    pad = " " * (col.width - t.cell_len)
    out = Text()
    if col.right:
        out.append(pad)
        out.append_text(t)
    else:
        out.append_text(t)
        out.append(pad)
    return out


def render_table_header(width: int) -> Text:
    out = Text("  ", style="bold")
    for col in table_columns(width):
        out.append_text(_cell(Text(col.header, style="bold"), col))
        out.append(" ")
    out.truncate(width)
    return out


def render_row(
    state: ServiceState,
    history: Sequence[StatsSample],
    width: int,
    now_wall: datetime,
    now: float,
    selected: bool = False,
    connected: bool = True,
    probe: Any = None,
    drift: Any = None,
) -> Text:
    """One service as one table row, with as many columns as `width` allows. `probe` is a
    ProbeResult (its level as a marker), `drift` a DriftInfo (the fix it needs)."""
    latest = history[-1] if history and state.running and connected else None
    out = Text("▶ " if selected else "  ", style="bold")
    for col in table_columns(width):
        if col.name == "service":
            value: Text | str = Text(state.service, style=f"bold {SERVICE_COLOURS.get(state.service, '')}")
        elif col.name == "status":
            value = status_text(state, connected)
        elif col.name == "probe":
            value = probe_marker(probe, short=True)
        elif col.name == "drift":
            value = drift_cell(drift)
        elif col.name == "kind":
            value = Text(KIND_SHORT.get(SERVICE_KIND.get(state.service, ""), ""), style="dim")
        elif col.name == "uptime":
            up = state.uptime_seconds(now_wall) if connected else None
            value = format_duration(up) if up is not None else "-"
        elif col.name == "cpu":
            value = f"{latest.cpu_percent:.1f}%" if latest else "-"
        elif col.name == "mem":
            value = (f"{short_bytes(latest.mem_used)}/{short_bytes(latest.mem_limit)}" if latest.mem_limit else short_bytes(latest.mem_used)) if latest else "-"
        elif col.name == "restarts":
            value = str(state.restart_count)
        elif col.name == "spark":
            value = Text(sparkline(bucket(history, col.width, lambda s: s.cpu_percent, now), floor=5.0), style="cyan") if latest else ""
        elif col.name == "net":
            value = f"{rate(latest.net_rx_rate)} {rate(latest.net_tx_rate)}" if latest else "-"
        elif col.name == "io":
            value = f"{rate(latest.blk_read_rate)} {rate(latest.blk_write_rate)}" if latest else "-"
        elif col.name == "ports":
            value = " ".join(f"{p.host_port}→{p.container_port}" for p in state.ports) or "-"
        else:
            value = Text(state.image or "-", style="dim")
        out.append_text(_cell(value, col))
        out.append(" ")
    out.rstrip()
    out.truncate(width)
    return out


# -- the host bar ------------------------------------------------------------------------------
@dataclass(frozen=True)
class HostSample:
    """The host as the header shows it (psutil)."""

    cpu_percent: float
    load: tuple[float, float, float]
    mem_used: int
    mem_total: int
    disk_free: int
    disk_total: int


@dataclass(frozen=True)
class EngineLine:
    connected: bool | None  # None: not known yet
    address: str = ""
    version: str = ""
    error: str = ""


def autoheal_word(on: bool, standby: bool = False) -> Text:
    """'autoheal ON', 'autoheal standby' (on, but another liar-tui heals the project) or 'autoheal off'."""
    if on and standby:
        return Text("autoheal standby", style="bold yellow")
    return Text("autoheal ON", style="bold green") if on else Text("autoheal off", style="dim")


def render_host_bar(project: str, engine: EngineLine, host: HostSample | None, width: int, autoheal: bool | None = None,
                    autoheal_standby: bool = False) -> Text:
    """'liar-tui │ project │ engine ADDRESS │ docker X │ autoheal off │ cpu 3% │ load 0.20 0.15 0.10 │
    mem 1.2G/3.8G │ data 20G free'; on a narrow terminal the least useful parts are shortened or go
    first, one at a time, so that at 80 columns the project, the docker version, cpu, load, memory
    and free disk remain."""
    # [drop order (the highest goes first; 0 stays), text, shorter text or None, its drop order]
    parts: list[list] = [[5, Text("liar-tui", style="bold"), None, 0], [0, Text(project, style="bold cyan"), None, 0]]
    if engine.connected is None:
        parts.append([0, Text("engine: connecting…", style="yellow"), None, 0])
    elif engine.connected:
        version = engine.version.split("+")[0]
        parts.append([9, Text(f"engine {engine.address}", style="dim"), None, 0])
        parts.append([4, Text(f"docker {version}"), Text(f"docker {'.'.join(version.split('.')[:2])}"), 3])
    else:
        parts.append([0, Text("engine unreachable", style="bold red"), None, 0])
    if autoheal is not None:
        parts.append([0 if autoheal else 6, autoheal_word(autoheal, autoheal_standby), None, 0])
    if host is not None:
        parts.append([1, Text(f"cpu {host.cpu_percent:.0f}%"), None, 0])
        parts.append([8, Text(f"load {host.load[0]:.2f} {host.load[1]:.2f} {host.load[2]:.2f}"),
                      Text(f"load {host.load[0]:.2f}"), 3])
        parts.append([2, Text(f"mem {short_bytes(host.mem_used)}/{short_bytes(host.mem_total)}"), None, 0])
        parts.append([3, Text(f"data {short_bytes(host.disk_free)} free"), None, 0])
    sep = Text(" │ ", style="dim")
    while True:
        text = sep.join(p[1] for p in parts)
        if text.cell_len <= width or all(p[0] == 0 for p in parts):
            break
        worst = max(parts, key=lambda p: p[0])
        if worst[2] is not None:
            worst[:] = [worst[3], worst[2], None, 0]
        else:
            parts.remove(worst)
    text.truncate(width, overflow="ellipsis")
    return text


# -- probes, drift, autoheal, activity ---------------------------------------------------------
#: A probe level as colour, glyph and word (glyphs differ too: NO_COLOR terminals still tell them apart).
LEVEL_STYLE: dict[str, tuple[str, str, str]] = {
    "ok": ("bold green", "✔", "ok"),
    "warn": ("bold yellow", "▲", "warn"),
    "fail": ("bold red", "✖", "fail"),
}


def probe_marker(result: Any, short: bool = False) -> Text:
    """'✔ ok' / '▲ warn' / '✖ fail' (with short=False: '✔ probe ok'); '-' before the first probe."""
    if result is None:
        return Text("-" if short else "", style="dim")
    style, glyph, word = LEVEL_STYLE.get(result.level, ("bold red", "?", result.level))
    return Text(f"{glyph} {word}" if short else f"{glyph} probe {word}", style=style)


def shown_probe(result: Any, state: ServiceState | None) -> Any:
    """The probe result worth showing for a service in `state`: a container that is not running
    is not 'ok', whatever the last probe (taken while it ran) said; until the probe's own failure
    arrives, nothing (None draws '-')."""
    if result is None or state is None:
        return result
    if result.level == "ok" and not state.running:
        return None
    return result


def drift_cell(drift: Any) -> Text:
    """The DRIFT column: the fix a drifted service needs; '?' when it could not be checked (a
    compose file compose rejects, no .env: the health view says why), where '-' read as 'none'."""
    if drift is not None and drift.drifted:
        return Text(drift.fix, style="bold yellow")
    if drift is not None and drift.unchecked:
        return Text("?", style="yellow")
    return Text("-", style="dim")


def drift_marker(drift: Any, key: str) -> Text | None:
    """'⚠ drift: recreate to apply (R)' for a drifted service (`key` does the fix), else None."""
    if drift is None or not drift.drifted:
        return None
    return Text(f"⚠ drift: {drift.fix} to apply ({key})", style="bold yellow")


def _ms(value: Any) -> str:
    return f"{float(value):.1f} ms" if isinstance(value, (int, float)) else "-"


def probe_figures(result: Any) -> list[tuple[str, str]]:
    """The figures of a ProbeResult as (label, value) rows, service by service; [] when none."""
    f = dict(result.figures or {})
    rows: list[tuple[str, str]] = []
    if result.service == "postgres" and "version" in f:
        rows.append(("version", f"PostgreSQL {f['version']}"))
        rows.append(("connections", f"{f.get('connections', '?')} of max {f.get('max_connections', '?')}"))
        rows.append(("database", f"{f.get('database', '?')} {format_bytes(f.get('database_bytes') or 0)}"))
        oldest = f.get("oldest_transaction_seconds")
        rows.append(("oldest xact", "none open" if oldest is None else f"{oldest:.1f}s open"))
        if f.get("accepts_writes"):
            writes = "yes"
        else:
            writes = "NO: in recovery" if f.get("in_recovery") else "NO: read-only"
        rows.append(("accepts writes", writes))
        rows.append(("connect", _ms(f.get("connect_ms"))))
    elif result.service == "redis" and "version" in f:
        rows.append(("version", f"Redis {f['version']}"))
        rows.append(("PING", _ms(f.get("ping_ms"))))
        used, top = int(f.get("used_memory") or 0), int(f.get("maxmemory") or 0)
        policy = f.get("maxmemory_policy") or "-"
        memory = f"{format_bytes(used)} of {format_bytes(top)} ({used / top:.0%}), {policy}" if top else f"{format_bytes(used)}, no maxmemory ({policy})"
        rows.append(("memory", memory))
        rows.append(("clients", str(f.get("connected_clients", "?"))))
        rows.append(("keys", str(f.get("keys", "?"))))
        aof = "on" if f.get("aof_enabled") else "OFF"
        rows.append(("AOF", f"{aof} · last rewrite {f.get('aof_last_bgrewrite_status') or '-'} · last write {f.get('aof_last_write_status') or '-'}"))
        rows.append(("last bgsave", str(f.get("rdb_last_bgsave_status") or "-")))
        if f.get("oom_errors"):
            rows.append(("OOM errors", str(f["oom_errors"])))
    elif result.service == "minio" and "buckets" in f:
        rows.append(("credentials", "accepted" if f.get("credentials_accepted") else "rejected"))
        for b in f.get("buckets") or []:
            count = f"{b.get('objects', 0)}{'+' if b.get('truncated') else ''}"
            rows.append(("bucket", f"{b.get('name')}: {count} objects, {format_bytes(b.get('bytes') or 0)}"))
        if not f.get("buckets"):
            rows.append(("buckets", "none"))
        missing = f.get("missing") or []
        expected = f.get("expected") or []
        rows.append(("expected", f"missing {', '.join(missing)}" if missing else f"all {len(expected)} present ({', '.join(expected)})"))
    elif result.service == "nginx" and "health_status" in f:
        rows.append(("/health", f"{f['health_status']} in {_ms(f.get('health_ms'))}"))
        if "api_path" in f:
            status = f.get("api_status")
            upstream = f.get("upstream") or "the API upstream"
            if status is None:
                api = f"no answer ({upstream})"
            elif f.get("api_reachable"):
                api = f"{status} in {_ms(f.get('api_ms'))}: {upstream} reachable"
            else:
                api = f"{status}: {upstream} unreachable"
            rows.append((str(f["api_path"]), api))
    elif "error_code" in f:
        rows.append(("error", str(f["error_code"])))
    return rows


def probe_line(service: str, result: Any, width: int, selected: bool = False, none_text: str = "not probed yet") -> Text:
    """'▶ postgres  ✔ ok    PostgreSQL 15.6: 3/100 connections ...' (one line, cut at width)."""
    out = Text("▶ " if selected else "  ", style="bold")
    out.append(f"{service:<9}", style=f"bold {SERVICE_COLOURS.get(service, '')}")
    marker = probe_marker(result, short=True)
    out.append_text(marker)
    out.append(" " * max(1, 7 - marker.cell_len))
    out.append(result.reason if result is not None else none_text, style="" if result is not None else "dim")
    out.truncate(width, overflow="ellipsis")
    return out


def utc_time(value: datetime | None) -> str:
    """'12:00:01' in UTC (the console shows UTC throughout)."""
    if value is None:
        return "--:--:--"
    return value.astimezone(timezone.utc).strftime("%H:%M:%S")


#: Activity kinds as colours (activity.KINDS).
KIND_STYLE: dict[str, str] = {
    "action": "bold cyan",
    "state": "yellow",
    "health": "magenta",
    "probe": "bold red",
    "drift": "bold yellow",
    "bucket": "green",
    "autoheal": "bold magenta",
}


def activity_row(entry: Any) -> Table:
    """One activity entry as a grid row: time (UTC), kind, service, then the text, wrapped under
    itself (a hanging indent keeps the columns readable)."""
    grid = Table.grid(padding=(0, 2), expand=True)
    grid.add_column(no_wrap=True, style="dim")
    grid.add_column(no_wrap=True, width=8)
    grid.add_column(no_wrap=True, width=8)
    grid.add_column(ratio=1, overflow="fold")
    text_style = ""
    if entry.kind == "probe" and "-> ok" in entry.text:
        text_style = "green"
    elif " failed" in entry.text or "-> fail" in entry.text or "gave up" in entry.text or "giving up" in entry.text:
        text_style = "red"
    grid.add_row(
        entry.at.astimezone(timezone.utc).strftime("%m-%d %H:%M:%S"),
        Text(entry.kind, style=KIND_STYLE.get(entry.kind, "")),
        Text(entry.service or "-", style=SERVICE_COLOURS.get(entry.service, "dim")),
        Text(entry.text, style=text_style),
    )
    return grid
