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

import codecs
import re
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, NamedTuple

from .engine import Engine, StreamHandle, explain_connection_error
from .engineapi import APIError, Stream
from .errors import EngineLost
from .model import LABEL_SERVICE, ServiceState, parse_docker_time

#: A batch this large means a burst: batches then go out at most BURST_RATE times a second.
#: Each burst repaint competes with key presses for the interpreter and the CPU: at 5 a second
#: (not 10) a key press during a 100k-line burst took 30 ms median / 91 ms worst instead of 38 / 122
#: (bench, 3 interleaved runs each), and the burst's last line was on screen as soon.
BURST_BATCH = 500
BURST_RATE = 5.0
#: A followed stream bringing FLOOD_LINES lines within FLOOD_WINDOW seconds (10k lines a second)
#: is a flood. Streaming one through the console cost more than everything else it does: the
#: engine encoding every line, the reader decoding it, ~55k lines a second on a 100k-line burst,
#: for a buffer that keeps the newest few thousand. During a flood the reader closes the stream
#: and reads the newest FLOOD_TAIL lines every FLOOD_PERIOD instead (what a screen shows, five
#: times a second); when a read brings fewer than FLOOD_CALM new lines it fills the buffer with
#: exactly what following would have left in it (the newest `max_lines` since the flood began)
#: and follows again.
FLOOD_LINES = 2000
FLOOD_WINDOW = 0.2
FLOOD_TAIL = 1000
FLOOD_PERIOD = 1.0 / BURST_RATE
FLOOD_CALM = FLOOD_LINES // 4
REFILL_SPARE = 1024
#: Longest line kept (longer ones are cut, ending in '…'); one huge line costs bounded memory.
MAX_LINE = 16 * 1024

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
#: C0 and C1 controls (xterm takes U+009B as CSI even in UTF-8), and the bidi embeddings,
#: overrides and isolates (a line could reorder how the text after it reads).
_UNSAFE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[{_UNSAFE}]")
#: Anything clean_line would change (escapes, tabs, control characters); '\n' separates lines.
_DIRTY = re.compile(f"[\\x09{_UNSAFE}]")


class LogLine(NamedTuple):
    """One log line of one service; `ts` is Docker's RFC 3339 timestamp with fixed nanoseconds.

    A tuple: made ~4x faster than a frozen dataclass (a 100k-line burst makes 100k of them) and,
    holding only strings, left alone by the cyclic garbage collector."""

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
    #: (service, ts): before adding `lines`, drop that service's lines newer than ts (a flood's
    #: refill: `lines` hold what following would have kept of them)
    replace: tuple[tuple[str, str], ...] = ()
    #: a followed service floods its log: only its newest lines arrive until it calms down
    flooding: bool = False


@dataclass(frozen=True)
class LogRange:
    """How far back a log view starts: the last `tail` lines (None = all), `since_seconds` ago,
    or since the moment `since_at` (epoch seconds, from a date)."""

    tail: int | None = 200
    since_seconds: float | None = None
    since_at: float | None = None

    def describe(self) -> str:
        if self.since_at is not None or self.since_seconds is not None:
            return f"since {self.as_input()}"
        return "all lines" if self.tail is None else f"tail {self.tail}"

    def as_input(self) -> str:
        """What parse_range takes to give this range back (a dialog's pre-filled value)."""
        if self.since_at is not None:
            at = datetime.fromtimestamp(self.since_at)
            return at.strftime(_DATE_SHOWN + (":%S" if at.second else ""))
        if self.since_seconds is not None:
            return format_span(self.since_seconds)
        return "all" if self.tail is None else str(self.tail)

    def since_epoch(self, now: float) -> float | None:
        """Where a log read starts (epoch seconds), or None for a tail."""
        if self.since_at is not None:
            return self.since_at
        return now - self.since_seconds if self.since_seconds is not None else None


_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
#: The longest duration taken: ten years (a longer one is a typo, and overflowed into 8.64e+35s).
MAX_SPAN = 3650 * 86400
#: Dates as `docker logs --since` takes them (local time); the first is how one is shown.
_DATE_SHOWN = "%Y-%m-%dT%H:%M"
_DATES = ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")


def format_span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def parse_range(text: str, now: float | None = None) -> LogRange:
    """'500' -> tail 500; 'all' -> everything; '10m', '2h', '30s', '1d' -> since that long ago;
    '2026-11-27' or '2026-11-27T10:00' (local time) -> since then."""
    value = text.strip().lower()
    usage = f"{text.strip()!r}: give a line count (500), 'all', a duration (30s, 10m, 2h, 1d) or a date (2026-11-27T10:00)"
    if value in ("all", "*"):
        return LogRange(tail=None)
    if value.isdigit():
        return LogRange(tail=int(value))
    m = _SPAN.match(value)
    if m and m.group(2):
        seconds = float(m.group(1)) * _UNITS[m.group(2).lower()]
        if seconds > MAX_SPAN:
            raise ValueError(f"{text.strip()!r} is longer than ten years: give a shorter duration, or 'all'")
        return LogRange(tail=None, since_seconds=seconds)
    for fmt in _DATES:
        try:
            if value.endswith("z"):  # UTC, as docker logs -t prints times
                at = datetime.strptime(value[:-1].upper(), fmt).replace(tzinfo=timezone.utc).timestamp()
            else:
                at = datetime.strptime(value.upper(), fmt).timestamp()
        except ValueError:
            continue
        if at > (now if now is not None else time.time()):
            raise ValueError(f"{text.strip()!r} is in the future: give a date before now")
        return LogRange(tail=None, since_at=at)
    raise ValueError(usage)


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


def only_new(lines: list[LogLine], newest: str, reopened_at: str = "") -> tuple[list[LogLine], str]:
    """The lines not shown yet, and the newest timestamp after them (it never goes back).

    A line older than one already passed is a replay: the engine re-sends part of a log when
    its file rotates under a follower (seen here: 2,283 lines again in a 100k burst). Lines up
    to `reopened_at` (the last one shown before this stream was opened) were shown by the
    previous stream. Equal timestamps within one stream are distinct lines and pass."""
    fresh: list[LogLine] = []
    for ln in lines:
        ts = ln.ts
        if ts:
            if ts < newest or (reopened_at and ts <= reopened_at):
                continue
            newest = ts
        fresh.append(ln)
    return fresh, newest


def ts_to_since(ts: str) -> str:
    """Docker's timestamp -> the exact `since` the engine takes ('seconds.nanoseconds'); a float
    cannot hold nanoseconds, and a since rounded up loses the lines in between."""
    parsed = parse_docker_time(ts)
    if parsed is None:
        raise ValueError(f"not a Docker timestamp: {ts!r}")
    seconds = int(parsed.replace(microsecond=0).timestamp())
    dot = ts.find(".", 19)
    digits = ts[dot + 1 : ts.find("Z", dot)] if dot > 0 and "Z" in ts else ""
    nanos = digits[:9].ljust(9, "0") if digits.isdigit() else "000000000"
    return f"{seconds}.{nanos}"


def ts_to_epoch(ts: str) -> float | None:
    parsed: datetime | None = parse_docker_time(ts)
    return parsed.timestamp() if parsed else None


class LogDecoder:
    """Docker's log stream, a chunk at a time, into complete lines: cleaned, redacted, cut.

    The per-line work of a 100k-line burst is what competes with the UI for the interpreter, so
    everything that can be done on a whole chunk is: frame headers are walked once, the payload is
    decoded once (an incremental decoder: a character split between chunks survives), redaction
    runs once over the block of complete lines, and cleaning is skipped when the block has no
    escape or control character at all. A line longer than `max_line` is cut there (ending in
    '…') and the rest of it dropped, so one huge line costs bounded memory. A TTY container's
    stream (not multiplexed) passes through as is.
    """

    def __init__(self, redact: Callable[[str], str] | None = None, max_line: int = MAX_LINE) -> None:
        self._redact = redact
        self._max = max_line
        self._frames = bytearray()
        self._remaining = 0  # payload bytes left in the current frame
        self._multiplexed: bool | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._text = ""  # an incomplete last line
        self._skipping = False  # inside a line already cut at max_line

    def feed(self, chunk: bytes) -> list[str]:
        """The complete lines this chunk finishes (with Docker's timestamp prefix, if any)."""
        return self._split(self._decoder.decode(self._demux(chunk)))

    def finish(self) -> list[str]:
        """The last line when the stream ended without a newline."""
        text = self._text + self._decoder.decode(b"", final=True)
        self._text = ""
        if not text or self._skipping:
            return []
        return self._finish_block([self._cut(text) if len(text) > self._max else text])

    def _demux(self, chunk: bytes) -> bytes:
        if self._multiplexed is False:
            return chunk
        buf = self._frames
        buf += chunk
        if self._multiplexed is None:
            if len(buf) < 8:
                return b""
            self._multiplexed = buf[0] in (0, 1, 2) and buf[1:4] == b"\0\0\0"
            if not self._multiplexed:
                data = bytes(buf)
                buf.clear()
                return data
        out: list[bytes | bytearray] = []
        pos, end, remaining = 0, len(buf), self._remaining
        if remaining:  # the rest of a frame begun in an earlier chunk
            take = min(remaining, end)
            out.append(buf[:take])
            pos, remaining = take, remaining - take
        unpack = struct.unpack_from
        # one turn per frame (a frame is a log line, mostly): header and payload together
        while end - pos >= 8:
            start = pos + 8
            stop = start + unpack(">L", buf, pos + 4)[0]
            if stop > end:
                out.append(buf[start:end])
                remaining = stop - end
                pos = end
                break
            out.append(buf[start:stop])
            pos = stop
        self._remaining = remaining
        del buf[:pos]
        return b"".join(out)

    def _split(self, text: str) -> list[str]:
        if not text:
            return []
        text = self._text + text
        nl = text.rfind("\n")
        if nl < 0:
            if len(text) > self._max:
                # a line longer than max_line with no end in sight: show its start, drop the rest
                self._text = ""
                if self._skipping:
                    return []
                self._skipping = True
                return self._finish_block([self._cut(text)])
            self._text = text
            return []
        block, self._text = text[:nl], text[nl + 1 :]
        lines = block.split("\n")
        if self._skipping:
            self._skipping = False
            del lines[0]  # the end of a line already shown cut
        if len(self._text) > self._max:
            lines.append(self._cut(self._text))
            self._text = ""
            self._skipping = True
        return self._finish_block(lines)

    def _cut(self, text: str) -> str:
        """A line longer than max_line: its start, redacted before it is cut (a secret across
        the cut, or still arriving, must not show its first characters), ending in '…'."""
        cut = getattr(self._redact, "cut", None)
        if cut is not None:
            return str(cut(text, self._max))
        text = self._redact(text) if self._redact is not None else text
        return text[: self._max] + "…"

    def _finish_block(self, lines: list[str]) -> list[str]:
        if not lines:
            return lines
        joined = "\n".join(lines)
        if "\r" in joined:
            lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]  # CRLF line ends
            joined = "\n".join(lines)
        limit = self._max
        if max(map(len, lines)) > limit:
            lines = [ln if len(ln) <= limit else self._cut(ln) for ln in lines]
            joined = "\n".join(lines)
        redact = self._redact
        if _DIRTY.search(joined):
            # escapes first (a secret drawn in colour is still a secret), then secrets, line by line
            lines = [clean_line(ln) for ln in lines]
            return [redact(ln) for ln in lines] if redact is not None else lines
        if redact is not None:
            redacted = redact(joined)  # secrets hold no newline: one pass over the block
            if redacted != joined:
                lines = redacted.split("\n")
        return lines


def to_log_lines(service: str, raw: list[str]) -> list[LogLine]:
    """Lines with Docker's timestamp prefix -> LogLines (lines without one keep ts '')."""
    new, cls = tuple.__new__, LogLine  # LogLine(...) without its Python-level __new__
    # Docker's prefix is RFC 3339 with fixed nanoseconds (30 characters) and a space: the fast path.
    return [
        new(cls, (service, line[:30], line[31:])) if line[30:31] == " " and line[10:11] == "T" else new(cls, (service, *split_timestamp(line)))
        for line in raw
    ]


class LogFollower:
    """Follows the logs of `services` (one or all) for one view. Threads start with start()."""

    def __init__(
        self,
        services: tuple[str, ...],
        on_batch: Callable[[LogBatch], None],
        *,
        containers: Mapping[str, ServiceState] | None = None,
        log_range: LogRange = LogRange(),
        max_lines: int = 5_000,
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
        self._replace: dict[str, str] = {}  # service -> drop its lines newer than this (a refill)
        self._flooding: set[str] = set()
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

    def _open(self, container_id: str, *, follow: bool, tail: int | None, since: float | str | None) -> Stream:
        try:
            return self._api().logs(container_id, follow=follow, tail=tail, since=since, timestamps=True)
        except APIError as exc:
            raise ConnectionError(f"logs of {container_id[:12]}: {exc}") from None

    def _batches(self, service: str, stream: Stream) -> Iterator[list[LogLine]]:
        """The stream's lines, a chunk (up to 64 KiB, ~1000 short lines) at a time."""
        decoder = LogDecoder(self._redact, MAX_LINE)
        for chunk in stream.chunks():
            raw = decoder.feed(chunk)
            if raw:
                yield to_log_lines(service, raw)
        raw = decoder.finish()
        if raw:
            yield to_log_lines(service, raw)

    def _reader(self, service: str) -> Callable[[StreamHandle], None]:
        def run(handle: StreamHandle) -> None:
            wake = self._wake[service]
            last_ts = ""
            since: float | str | None = None
            first = True
            errors = 0
            after_flood = False
            while not handle.stopped:
                wake.clear()
                with self._lock:
                    container_id, _running = self._containers.get(service, ("", False))
                if not container_id:
                    wake.wait()
                    continue
                flooded = False
                try:
                    if first:
                        since, last_ts = self._backlog_into(service, container_id, handle)
                        first = False
                    # after a flood: from the last line read, exactly, and no further back than
                    # the buffer holds (a since alone makes the engine decode its whole log file)
                    tail = self._pending.maxlen if after_flood else None
                    stream = handle.attach(self._open(container_id, follow=True, tail=tail, since=since))
                    reopened_at = last_ts
                    window_start, window_lines = time.monotonic(), 0
                    for lines in self._batches(service, stream):
                        if handle.stopped:
                            return
                        lines, last_ts = only_new(lines, last_ts, reopened_at)
                        if lines:
                            self._push(lines)
                            now = time.monotonic()
                            if now - window_start > FLOOD_WINDOW:
                                window_start, window_lines = now, 0
                            window_lines += len(lines)
                            if window_lines >= FLOOD_LINES and last_ts:
                                flooded = True
                                break
                    errors = 0
                    if flooded:
                        stream.close()
                        last_ts = self._ride_flood(service, container_id, handle, last_ts)
                except Exception:  # noqa: BLE001 - engine gone or container removed: wait for news
                    errors += 1
                    self._engine = None
                    if first:
                        self._backlog_done(service, [])
                        first = False
                    self._set_flooding(service, False)
                    flooded = False
                if handle.stopped:
                    return
                after_flood = flooded
                if flooded:
                    since = ts_to_since(last_ts)
                    continue  # calm again: follow from the last line read
                since = ts_to_epoch(last_ts) if last_ts else time.time() - 1
                # The stream ended: the container stopped or was replaced. Wait until the front end
                # reports a change (or retry slowly after an error: the engine may be back).
                wake.wait(None if errors == 0 else min(5.0, 0.5 * 2**errors))

        return run

    def _read(self, service: str, handle: StreamHandle, stream: Stream, into: list[LogLine] | deque[LogLine]) -> None:
        """A log read that does not follow, to its end (or until stopped), into `into`."""
        handle.attach(stream)
        try:
            for batch in self._batches(service, stream):
                if handle.stopped:
                    break
                into.extend(batch)
        finally:
            stream.close()

    def _fetch(self, service: str, container_id: str, handle: StreamHandle, after_ts: str, tail: int) -> tuple[list[LogLine], bool]:
        """The lines logged after `after_ts`, from the newest `tail` of the log (not following),
        and whether they reach back to it: the engine's `since` takes the line at `after_ts` too,
        so when that line is not among them, lines between it and them may be missing."""
        lines: list[LogLine] = []
        self._read(service, handle, self._open(container_id, follow=False, tail=tail, since=ts_to_since(after_ts)), lines)
        reached = not lines or not lines[0].ts or lines[0].ts <= after_ts
        return only_new(lines, after_ts, after_ts)[0], reached

    def _ride_flood(self, service: str, container_id: str, handle: StreamHandle, last_ts: str) -> str:
        """A flood: read its newest lines every FLOOD_PERIOD until it calms down, then refill the
        buffer with what following would have kept. Returns the last timestamp read."""
        self._set_flooding(service, True)
        gap_after = ""  # lines after this one may have been skipped
        while not handle.wait(FLOOD_PERIOD):
            lines, reached = self._fetch(service, container_id, handle, last_ts, FLOOD_TAIL)
            if not reached and not gap_after:
                gap_after = last_ts
            if lines:
                self._push(lines)
                last_ts = next((ln.ts for ln in reversed(lines) if ln.ts), last_ts)
            if len(lines) < FLOOD_CALM:
                break
        if gap_after and not handle.stopped:
            # the engine counts a long line's 16 KiB pieces as lines: some to spare
            keep = self._pending.maxlen or FLOOD_TAIL
            lines, _ = self._fetch(service, container_id, handle, gap_after, keep + REFILL_SPARE)
            self._refill(service, gap_after, lines[-keep:])
            last_ts = max(last_ts, next((ln.ts for ln in reversed(lines) if ln.ts), last_ts))
        self._set_flooding(service, False)
        return last_ts

    def _refill(self, service: str, after_ts: str, lines: list[LogLine]) -> None:
        """Replace the service's lines newer than `after_ts` (a flood's samples, with gaps) by
        `lines`, all of them: here, and in the consumer through the next batch's `replace`."""
        with self._lock:
            pending = self._pending
            kept = [ln for ln in pending if ln.service != service or ln.ts <= after_ts]
            kept.extend(lines)
            if len(self.services) > 1:
                kept.sort(key=lambda ln: ln.ts)  # the other services' pending lines, by time
            maxlen = pending.maxlen or len(kept)
            if len(kept) > maxlen:
                self._dropped += len(kept) - maxlen
            pending.clear()
            pending.extend(kept)
            earlier = self._replace.get(service)
            self._replace[service] = after_ts if earlier is None else min(earlier, after_ts)
        self._data.set()

    def _set_flooding(self, service: str, on: bool) -> None:
        with self._lock:
            if on == (service in self._flooding):
                return
            if on:
                self._flooding.add(service)
            else:
                self._flooding.discard(service)
        self._data.set()

    def _backlog_into(self, service: str, container_id: str, handle: StreamHandle) -> tuple[float, str]:
        """Fetch the backlog (not following) and stage it for the first, merged batch.

        Returns where the live stream starts (epoch seconds) and the last timestamp seen."""
        started = time.time()
        rng = self.log_range
        since = rng.since_epoch(started)
        lines: deque[LogLine] = deque(maxlen=self._pending.maxlen)
        if rng.tail != 0 or since is not None:
            self._read(service, handle, self._open(container_id, follow=False, tail=rng.tail, since=since), lines)
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

    def _push(self, lines: list[LogLine]) -> None:
        """A batch of lines in: one lock and one wake-up, not one per line."""
        with self._lock:
            pending = self._pending
            overflow = len(pending) + len(lines) - (pending.maxlen or 0)
            if pending.maxlen is not None and overflow > 0:
                self._dropped += overflow
            pending.extend(lines)
        self._data.set()

    # -- flusher ------------------------------------------------------------------------------
    def _flush_loop(self) -> None:
        stop = self._stop
        started = time.monotonic()
        first = True
        last_flush = 0.0
        last_size = 0
        was_flooding = False
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
            # A burst (big batches) is drawn at most BURST_RATE times a second: each repaint costs
            # the UI the same whatever the batch size, and the interpreter is shared with readers.
            interval = max(self._min_interval, 1.0 / BURST_RATE) if last_size >= BURST_BATCH else self._min_interval
            delay = last_flush + interval - time.monotonic()
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
                replace = tuple(self._replace.items())
                self._replace.clear()
                flooding = bool(self._flooding)
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
            if not lines and not backlog and not dropped and not replace and flooding == was_flooding:
                continue
            was_flooding = flooding
            self._acked.clear()
            last_flush = time.monotonic()
            last_size = len(lines)
            try:
                self._on_batch(LogBatch(self.generation, lines, dropped, backlog, replace, flooding))
            except Exception:  # noqa: BLE001 - the consumer went away
                self._acked.set()


# -- headless `logs -f` ------------------------------------------------------------------------------
@dataclass(frozen=True)
class LogNotice:
    """Something about the log rather than a line of it (a restart, a wait): for stderr."""

    text: str


def service_log(
    engine: Engine,
    project: str,
    service: str,
    container_id: str,
    *,
    tail: int | None,
    follow: bool,
    redact: Callable[[str], str] | None = None,
    started_at: datetime | None = None,
) -> Generator[list[tuple[str, str]] | LogNotice, None, None]:
    """A service's log as lists of (timestamp, line) pairs (one per chunk the engine sends), the
    last `tail` lines first. With `follow` it goes on through restarts and recreates, as the
    console does: `docker logs -f` ends when its container stops, so `liar-tui logs redis -f`
    ended at every restart. When the stream ends it opens the service's container again from the
    last timestamp it passed (nothing twice); a stopped service is waited for (a LogNotice says
    so) through the engine's event stream. `started_at` (when the container last started) tells
    a restart quick enough to be over before the stream is reopened from a stream that merely
    ended. The engine going away ends it with EngineLost (one line naming the fix)."""
    last_ts = ""
    first = True
    try:
        while True:
            stream = engine.logs(
                container_id, follow=follow, tail=tail if first else None, timestamps=True,
                since=None if first or not last_ts else ts_to_since(last_ts),
            )
            reopened_at = "" if first else last_ts
            decoder = LogDecoder(redact)
            try:
                for raw in _raw_blocks(stream, decoder):
                    lines = []
                    for ts, text in map(split_timestamp, raw):
                        if ts:
                            if reopened_at and ts <= reopened_at:
                                continue  # the previous stream passed it
                            last_ts = max(last_ts, ts)
                        lines.append((ts, text))
                    if lines:
                        yield lines
            finally:
                stream.close()
            if not follow:
                return
            first = False
            container_id, started_at = yield from _next_start(engine, project, service, container_id, started_at)
    except OSError as exc:  # the socket gone, refused, reset; the event stream closed
        raise EngineLost(f"lost the Docker engine while reading {service}'s log: {explain_connection_error(exc)}") from None


def _raw_blocks(stream: Stream, decoder: "LogDecoder") -> Iterator[list[str]]:
    for chunk in stream.chunks():
        yield decoder.feed(chunk)
    yield decoder.finish()


def _next_start(
    engine: Engine, project: str, service: str, previous: str, previous_start: datetime | None,
) -> Generator[LogNotice, None, tuple[str, datetime | None]]:
    """The container to follow next and when it started (the generator's return value): the
    service's running one, or, when none runs, the next one the engine starts. The event stream
    is opened before the look, so a start between the two is not missed."""
    events = engine.events(project)
    try:
        state = engine.project_states(project, (service,)).get(service)
        if state is not None and state.running:
            if state.container_id != previous:
                yield LogNotice(f"{service} has a new container {state.container_id[:12]}: following it")
            elif previous_start is not None and state.started_at != previous_start:
                yield LogNotice(f"{service} restarted: following on")  # stopped and started before we looked
            else:
                time.sleep(0.2)  # the same container runs on: its stream ended anyway; no busy loop
            return state.container_id, state.started_at
        yield LogNotice(f"{service} stopped: waiting for it to start again (Ctrl-C ends)")
        for event in events:
            actor = event.get("Actor") or {}
            attrs = actor.get("Attributes") or {}
            if (event.get("Action") or event.get("status")) == "start" and attrs.get(LABEL_SERVICE) == service:
                cid = str(actor.get("ID") or event.get("id") or "")
                again = "started again" if cid == previous else f"started in a new container {cid[:12]}"
                yield LogNotice(f"{service} {again}: following on")
                now = engine.project_states(project, (service,)).get(service)
                return cid, now.started_at if now is not None and now.container_id == cid else None
        raise ConnectionError("the Docker engine closed its event stream")
    finally:
        events.close()
