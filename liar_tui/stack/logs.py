"""Follow container logs into a bounded buffer and hand them over in batches, never line by line.

One LogFollower serves one log view: a single service, or every service interleaved. It keeps
one reader thread per followed service and one flusher thread:

* a reader fetches the backlog (`tail` lines or everything `since`), then follows the live stream;
  when the container stops, restarts or is recreated it reopens from the last timestamp it saw
  (so nothing is shown twice) once the front end tells it the state changed (`update_state`);
* readers append cleaned, redacted lines to one bounded deque (oldest dropped and counted);
* the flusher hands everything pending to `on_batch` at most every `min_interval` seconds and
  only after the previous batch was acknowledged (`ack()`): a slow consumer gets fewer, larger
  batches instead of an ever growing queue of messages (toolong-style back-pressure).

No Textual here: `on_batch` runs on the flusher thread and must hand the batch over and return.
"""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .engine import Engine, StreamHandle, iter_lines
from .model import ServiceState, parse_docker_time

#: Longest line kept (longer ones are cut, ending in '…'); one huge line costs bounded memory.
MAX_LINE = 16 * 1024

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class LogLine:
    """One log line of one service; `ts` is Docker's RFC 3339 timestamp with fixed nanoseconds."""

    service: str
    ts: str
    text: str


@dataclass(frozen=True)
class LogBatch:
    """Lines that arrived since the previous batch. `dropped` counts lines lost to back-pressure."""

    generation: int
    lines: list[LogLine]
    dropped: int = 0
    backlog: bool = False  # the first batch: the backlog of every followed service, merged by time


@dataclass(frozen=True)
class LogRange:
    """How far back a log view starts: the last `tail` lines (None = all), or `since_seconds` ago."""

    tail: int | None = 200
    since_seconds: float | None = None

    def describe(self) -> str:
        if self.since_seconds is not None:
            return f"since {format_span(self.since_seconds)}"
        return "all lines" if self.tail is None else f"tail {self.tail}"


_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def format_span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def parse_range(text: str) -> LogRange:
    """'500' -> tail 500; 'all' -> everything; '10m', '2h', '30s', '1d' -> since that long ago."""
    value = text.strip().lower()
    if value in ("all", "*"):
        return LogRange(tail=None)
    if value.isdigit():
        return LogRange(tail=int(value))
    m = _SPAN.match(value)
    if m and m.group(2):
        return LogRange(tail=None, since_seconds=float(m.group(1)) * _UNITS[m.group(2).lower()])
    raise ValueError(f"{text!r}: give a line count (500), 'all', or a duration (30s, 10m, 2h, 1d)")


def clean_line(text: str) -> str:
    """Text safe to draw: no escape sequences or control characters, tabs expanded."""
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    if "\t" in text:
        text = text.expandtabs(4)
    if not text.isprintable():
        text = _CONTROL.sub("\ufffd", text)
    return text


def split_timestamp(line: str) -> tuple[str, str]:
    """'2024-01-01T10:00:00.123456789Z hello' -> (ts, 'hello'); no timestamp -> ('', line)."""
    sp = line.find(" ", 19, 40)
    if sp > 0 and line[4:5] == "-" and line[10:11] == "T":
        return line[:sp], line[sp + 1 :]
    return "", line


def ts_to_epoch(ts: str) -> float | None:
    parsed: datetime | None = parse_docker_time(ts)
    return parsed.timestamp() if parsed else None


class _Stream:
    """A log HTTP response that another thread can close, ending a blocked read at once."""

    def __init__(self, response: Any) -> None:
        self.response = response

    def chunks(self) -> Iterator[bytes]:
        raw = self.response.raw
        try:
            if getattr(raw, "chunked", False):
                yield from raw.read_chunked(decode_content=False)
            else:
                yield from raw.stream(64 * 1024, decode_content=False)
        except Exception:  # noqa: BLE001 - closed from another thread or the engine went away
            return

    def close(self) -> None:
        try:
            fp = self.response.raw._fp.fp  # the socket under http.client, as the docker SDK finds it
            sock = getattr(fp, "raw", fp)
            sock = getattr(sock, "_sock", sock)
            if isinstance(sock, socket.socket):
                sock.shutdown(socket.SHUT_RDWR)
        except Exception:  # noqa: BLE001 - already closed
            pass
        try:
            self.response.close()
        except Exception:  # noqa: BLE001
            pass


def demux(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Payloads of Docker's multiplexed stream (8-byte headers); a TTY container's raw bytes pass."""
    buf = bytearray()
    multiplexed: bool | None = None
    for chunk in chunks:
        if multiplexed is False:
            yield bytes(chunk)
            continue
        buf += chunk
        if multiplexed is None:
            if len(buf) < 8:
                continue
            multiplexed = buf[0] in (0, 1, 2) and buf[1:4] == b"\0\0\0"
            if not multiplexed:
                yield bytes(buf)
                buf.clear()
                continue
        while len(buf) >= 8:
            size = struct.unpack_from(">L", buf, 4)[0]
            if len(buf) < 8 + size:
                break
            yield bytes(buf[8 : 8 + size])
            del buf[: 8 + size]
    if buf and multiplexed is False:
        yield bytes(buf)


class LogFollower:
    """Follows the logs of `services` (one or all) for one view. Threads start with start()."""

    def __init__(
        self,
        services: tuple[str, ...],
        on_batch: Callable[[LogBatch], None],
        *,
        containers: Mapping[str, ServiceState] | None = None,
        log_range: LogRange = LogRange(),
        max_lines: int = 10_000,
        redact: Callable[[str], str] | None = None,
        min_interval: float = 0.05,
        generation: int = 0,
        engine_factory: Callable[[], Engine] | None = None,
    ) -> None:
        self.services = services
        self.generation = generation
        self.log_range = log_range
        self._on_batch = on_batch
        self._redact = redact or (lambda s: s)
        self._min_interval = min_interval
        self._engine_factory = engine_factory or (lambda: Engine(timeout=10))
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._pending: deque[LogLine] = deque(maxlen=max_lines)
        self._dropped = 0
        self._data = threading.Event()
        self._acked = threading.Event()
        self._acked.set()
        self._stop = threading.Event()
        self._containers: dict[str, tuple[str, bool]] = {}
        self._wake: dict[str, threading.Event] = {s: threading.Event() for s in services}
        for service, state in (containers or {}).items():
            if service in self._wake:
                self._containers[service] = (state.container_id, state.running)
        # Backlogs are merged by time into the first batch; services without a container do not count.
        self._backlog_waiting = {s for s in services if self._containers.get(s, ("", False))[0]}
        self._backlog: list[LogLine] = []
        self._readers = [StreamHandle(f"logs-{s}", self._reader(s)) for s in services]
        self._flusher = threading.Thread(target=self._flush_loop, name="logs-flush", daemon=True)

    # -- public -------------------------------------------------------------------------------
    def start(self) -> "LogFollower":
        for reader in self._readers:
            reader.start()
        self._data.set()  # the first (backlog) batch goes out even when nothing is logged
        self._flusher.start()
        return self

    def stop(self, join: float = 0.5) -> None:
        """Stop every thread and close every stream (safe to call twice)."""
        self._stop.set()
        self._data.set()
        self._acked.set()
        for event in self._wake.values():
            event.set()
        for reader in self._readers:
            reader.stop(join=0)
        deadline = time.monotonic() + join
        for thread in [r.thread for r in self._readers] + [self._flusher]:
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        if self._engine is not None:
            self._engine.close()

    @property
    def alive_threads(self) -> int:
        return sum(t.is_alive() for t in [r.thread for r in self._readers] + [self._flusher])

    def ack(self) -> None:
        """The consumer has taken the last batch: the next one may come."""
        self._acked.set()

    def update_state(self, state: ServiceState) -> None:
        """A service's container changed (started, stopped, recreated): readers reopen as needed."""
        if state.service not in self._wake:
            return
        with self._lock:
            self._containers[state.service] = (state.container_id, state.running)
        self._wake[state.service].set()

    def wake(self) -> None:
        """The engine is back: every reader retries now."""
        self._engine = None
        for event in self._wake.values():
            event.set()

    # -- readers ------------------------------------------------------------------------------
    def _api(self) -> Any:
        if self._engine is None:
            self._engine = self._engine_factory()
        return self._engine.api

    def _open(self, container_id: str, *, follow: bool, tail: int | None, since: float | None) -> _Stream:
        api = self._api()
        params: dict[str, Any] = {
            "stdout": 1,
            "stderr": 1,
            "timestamps": 1,
            "follow": int(follow),
            "tail": "all" if tail is None else str(tail),
        }
        if since is not None and since > 0:
            params["since"] = f"{since:.6f}"
        url = f"{api.base_url}/v{api.api_version}/containers/{container_id}/logs"
        response = api.get(url, params=params, stream=True, timeout=(5, None))
        if response.status_code >= 400:
            text = response.text[:200]
            response.close()
            raise ConnectionError(f"logs of {container_id[:12]}: HTTP {response.status_code} {text}")
        return _Stream(response)

    def _lines(self, service: str, stream: _Stream) -> Iterator[LogLine]:
        redact = self._redact
        for raw in iter_lines(demux(stream.chunks()), max_line=MAX_LINE):
            ts, text = split_timestamp(raw)
            yield LogLine(service, ts, redact(clean_line(text)))

    def _reader(self, service: str) -> Callable[[StreamHandle], None]:
        def run(handle: StreamHandle) -> None:
            wake = self._wake[service]
            last_ts = ""
            since: float | None = None
            first = True
            errors = 0
            while not handle.stopped:
                wake.clear()
                with self._lock:
                    container_id, _running = self._containers.get(service, ("", False))
                if not container_id:
                    wake.wait()
                    continue
                try:
                    if first:
                        since, last_ts = self._backlog_into(service, container_id, handle)
                        first = False
                    stream = handle.attach(self._open(container_id, follow=True, tail=None, since=since))
                    for line in self._lines(service, stream):
                        if handle.stopped:
                            return
                        if line.ts and line.ts <= last_ts:
                            continue  # already shown before the stream was reopened
                        if line.ts:
                            last_ts = line.ts
                        self._push(line)
                    errors = 0
                except Exception:  # noqa: BLE001 - engine gone or container removed: wait for news
                    errors += 1
                    self._engine = None
                    if first:
                        self._backlog_done(service, [])
                        first = False
                if handle.stopped:
                    return
                since = ts_to_epoch(last_ts) if last_ts else time.time() - 1
                # The stream ended: the container stopped or was replaced. Wait until the front end
                # reports a change (or retry slowly after an error: the engine may be back).
                wake.wait(None if errors == 0 else min(5.0, 0.5 * 2**errors))

        return run

    def _backlog_into(self, service: str, container_id: str, handle: StreamHandle) -> tuple[float, str]:
        """Fetch the backlog (not following) and stage it for the first, merged batch.

        Returns where the live stream starts (epoch seconds) and the last timestamp seen."""
        started = time.time()
        rng = self.log_range
        since = started - rng.since_seconds if rng.since_seconds is not None else None
        lines: deque[LogLine] = deque(maxlen=self._pending.maxlen)
        if rng.tail != 0 or since is not None:
            stream = handle.attach(self._open(container_id, follow=False, tail=rng.tail, since=since))
            try:
                for line in self._lines(service, stream):
                    if handle.stopped:
                        break
                    lines.append(line)
            finally:
                stream.close()
        last = next((ln.ts for ln in reversed(lines) if ln.ts), "")
        self._backlog_done(service, list(lines))
        epoch = ts_to_epoch(last) if last else None
        return (epoch if epoch is not None else started - 1), last

    def _backlog_done(self, service: str, lines: list[LogLine]) -> None:
        with self._lock:
            if service in self._backlog_waiting:
                self._backlog.extend(lines)
                self._backlog_waiting.discard(service)
            else:  # came late (e.g. its container appeared after the view opened)
                for line in lines:
                    self._append(line)
        self._data.set()

    def _append(self, line: LogLine) -> None:
        if len(self._pending) == self._pending.maxlen:
            self._dropped += 1
        self._pending.append(line)

    def _push(self, line: LogLine) -> None:
        with self._lock:
            self._append(line)
        self._data.set()

    # -- flusher ------------------------------------------------------------------------------
    def _flush_loop(self) -> None:
        stop = self._stop
        started = time.monotonic()
        first = True
        last_flush = 0.0
        while not stop.is_set():
            self._data.wait()
            if stop.is_set():
                return
            if first:
                # Wait (briefly) for every service's backlog so the first screen is in time order.
                with self._lock:
                    waiting = bool(self._backlog_waiting)
                if waiting and time.monotonic() - started < 2.0:
                    self._data.clear()
                    self._data.wait(0.05)
                    continue
            delay = last_flush + self._min_interval - time.monotonic()
            if delay > 0 and stop.wait(delay):
                return
            while not self._acked.wait(5.0):
                if stop.is_set():
                    return
                break  # a lost ack must not stall the view forever
            if stop.is_set():
                return
            with self._lock:
                self._data.clear()
                lines = list(self._pending)
                self._pending.clear()
                dropped, self._dropped = self._dropped, 0
                backlog = first
                if first:
                    merged = sorted(self._backlog, key=lambda ln: ln.ts) if len(self.services) > 1 else self._backlog
                    maxlen = self._pending.maxlen or len(merged)
                    if len(merged) + len(lines) > maxlen:
                        dropped += len(merged) + len(lines) - maxlen
                    lines = (merged + lines)[-maxlen:]
                    self._backlog = []
                    first = False
            if len(self.services) > 1 and not backlog and len(lines) > 1:
                lines.sort(key=lambda ln: ln.ts)  # interleave services by time within a batch
            if not lines and not backlog and not dropped:
                continue
            self._acked.clear()
            last_flush = time.monotonic()
            try:
                self._on_batch(LogBatch(self.generation, lines, dropped, backlog))
            except Exception:  # noqa: BLE001 - the consumer went away
                self._acked.set()
