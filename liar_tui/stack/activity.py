"""The activity log: every action, state change, health transition, probe alarm and autoheal step.

One line per entry, appended to `<project>/docker/liar-tui-activity.log` (docker/ is gitignored),
rotated at 5 MiB with two older files kept (`.1`, `.2`), so it never holds more than ~15 MiB.
The same entries stay in memory in a bounded deque for the console's activity view. Every text is
run through the project's Redactor before it is kept or written: no secret reaches the file.

File format (tab-separated, one entry a line, newest last):
    2025-01-01T10:00:00.123+00:00<TAB>kind<TAB>service<TAB>text
`kind` is one of KINDS; `service` is '-' for stack-wide entries.
"""

from __future__ import annotations

import fcntl
import os
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import locks
from .envfile import LiveRedactor
from .model import ServiceState
from .project import Project

ACTIVITY_REL = Path("docker") / "liar-tui-activity.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 2

#: What an entry is about (free text is allowed, these are the ones liar-tui writes).
KINDS = ("action", "state", "health", "probe", "drift", "bucket", "autoheal")


@dataclass(frozen=True)
class ActivityEntry:
    """One thing that happened to the stack."""

    at: datetime
    kind: str
    service: str
    text: str

    def to_line(self) -> str:
        return "\t".join((self.at.isoformat(timespec="milliseconds"), self.kind, self.service or "-", self.text))

    @classmethod
    def from_line(cls, line: str) -> "ActivityEntry | None":
        parts = line.rstrip("\n").split("\t", 3)
        if len(parts) != 4:
            return None
        try:
            at = datetime.fromisoformat(parts[0])
        except ValueError:
            return None
        return cls(at=at, kind=parts[1], service="" if parts[2] == "-" else parts[2], text=parts[3])

    def format(self, local: bool = True) -> str:
        """For a terminal: `10:00:00.123  health    redis     healthy -> unhealthy ...`."""
        at = self.at.astimezone() if local else self.at
        return f"{at:%Y-%m-%d %H:%M:%S}  {self.kind:<8}  {self.service or '-':<8}  {self.text}"

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "kind": self.kind, "service": self.service, "text": self.text}


def _one_line(text: str) -> str:
    return " ".join(str(text).replace("\t", " ").splitlines()).strip()


def activity_path(project: Project) -> Path:
    return project.root / ACTIVITY_REL


class ActivityLog:
    """Append-only activity of one project: a rotating file plus a bounded in-memory deque.

    `record()` is thread-safe and never raises for file trouble (a read-only disk must not break
    an action); the entry still reaches memory and the subscribers. Subscribers run on the
    recording thread: hand the entry over (post_message) and return.
    """

    def __init__(
        self,
        project: Project,
        *,
        path: Path | None = None,
        keep: int = 1000,
        max_bytes: int = MAX_BYTES,
        backups: int = BACKUPS,
        preload: bool = True,
    ) -> None:
        self.project = project
        self.path = path or activity_path(project)
        self.max_bytes = max_bytes
        self.backups = backups
        self._entries: deque[ActivityEntry] = deque(maxlen=keep)
        self._lock = threading.Lock()
        self._subscribers: list[Callable[[ActivityEntry], None]] = []
        # Looks at .env before every entry (entries are rare): a password changed a moment ago is
        # hidden in the next entry already, and the old one stays hidden.
        self._redactor = LiveRedactor(project.env_file, interval=0.0)
        self.write_error = ""
        #: Called (on the recording thread) when writing starts failing, with the one-line reason:
        #: entries then live in memory only, and whoever runs this says so.
        self.on_write_error: Callable[[str], None] | None = None
        if preload:
            self._entries.extend(read_entries(self.path, keep))

    # -- public -----------------------------------------------------------------------------
    def record(self, kind: str, service: str | None, text: str) -> ActivityEntry:
        """Keep one entry (redacted, one line), append it to the file and tell the subscribers."""
        with self._lock:
            entry = ActivityEntry(
                at=datetime.now(timezone.utc),
                kind=_one_line(kind) or "note",
                service=_one_line(service or ""),
                text=self._redactor(_one_line(text)),
            )
            self._entries.append(entry)
            self._append(entry)
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(entry)
            except Exception:  # noqa: BLE001 - a broken view must not break recording
                pass
        return entry

    def entries(self, n: int | None = None) -> list[ActivityEntry]:
        with self._lock:
            items = list(self._entries)
        return items[-n:] if n else items

    def subscribe(self, callback: Callable[[ActivityEntry], None]) -> Callable[[], None]:
        """Call `callback(entry)` for every new entry; returns a function that unsubscribes."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    # -- internals --------------------------------------------------------------------------
    def _append(self, entry: ActivityEntry) -> None:
        data = (entry.to_line() + "\n").encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                # The CLI and the console may write at once: one lock for append + rotation.
                fcntl.flock(fd, fcntl.LOCK_EX)
                os.write(fd, data)
                if os.fstat(fd).st_size >= self.max_bytes:
                    self._rotate()
            finally:
                os.close(fd)  # also releases the flock
            self.write_error = ""
        except OSError as exc:
            first = not self.write_error
            self.write_error = f"cannot write the activity log {self.path}: {exc.strerror or exc}"
            if first and self.on_write_error is not None:
                try:
                    self.on_write_error(self.write_error)
                except Exception:  # noqa: BLE001
                    pass

    def _rotate(self) -> None:
        for i in range(self.backups, 0, -1):
            src = self.path if i == 1 else self.path.with_name(f"{self.path.name}.{i - 1}")
            dst = self.path.with_name(f"{self.path.name}.{i}")
            if src.exists():
                os.replace(src, dst)
        if self.backups == 0:
            self.path.unlink(missing_ok=True)


def record_quietly(project: Project, service: str, text: str, kind: str = "action") -> str:
    """One entry from a headless command (the log is a record, not a precondition: never raises).
    Returns why it could not be written ('' when it was)."""
    try:
        log = ActivityLog(project, preload=False)
        log.record(kind, service, text)
        return log.write_error
    except Exception as exc:  # noqa: BLE001
        return f"cannot write the activity log: {exc}"


def entry_matches(entry: ActivityEntry, service: str = "", text: str = "") -> bool:
    """The filter of `liar-tui activity SVC --grep TEXT` and of the console's Activity view: the
    service's own entries, holding `text` in any case (its kind and service count as its words)."""
    if service and entry.service != service:
        return False
    if text:
        return text.casefold() in f"{entry.kind} {entry.service or '-'} {entry.text}".casefold()
    return True


def read_entries(path: Path, n: int | None = None, upto: int | None = None) -> list[ActivityEntry]:
    """The last `n` entries of the log (all when None), oldest first; reads the rotated file too
    when the current one holds fewer. `upto`: read the current file only up to that byte offset
    (then follow_entries(offset=upto) continues exactly there: nothing lost, nothing twice)."""
    lines: deque[str] = deque(maxlen=n) if n else deque()
    for p in (path.with_name(f"{path.name}.1"), path):
        try:
            with p.open("rb") as fh:
                data = fh.read(upto) if (p == path and upto is not None) else fh.read()
        except OSError:
            continue
        lines.extend(line for line in data.decode("utf-8", "replace").splitlines(keepends=True) if line.endswith("\n"))
    result = []
    for line in lines:
        entry = ActivityEntry.from_line(line)
        if entry is not None:
            result.append(entry)
    return result


def follow_entries(
    path: Path,
    stop: threading.Event | None = None,
    poll: float = 0.5,
    from_start: bool = False,
    offset: int | None = None,
) -> Iterator[ActivityEntry]:
    """Entries appended after the call, or after byte `offset` (like `tail -f`; survives
    rotation), until `stop` is set."""
    stop = stop or threading.Event()
    fh = None
    inode = None
    buf = b""
    try:
        while not stop.is_set():
            if fh is None:
                try:
                    fh = path.open("rb")
                    inode = os.fstat(fh.fileno()).st_ino
                    if offset is not None and offset <= os.fstat(fh.fileno()).st_size:
                        fh.seek(offset)
                    elif not from_start:
                        fh.seek(0, os.SEEK_END)
                    offset = None
                    from_start = True  # a file that appears or replaces this one is read whole
                    buf = b""
                except OSError:
                    fh = None
                    stop.wait(poll)
                    continue
            chunk = fh.read(65536)
            if chunk:
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for raw in lines:
                    entry = ActivityEntry.from_line(raw.decode("utf-8", "replace"))
                    if entry is not None:
                        yield entry
                continue
            try:
                if os.stat(path).st_ino != inode:  # rotated: continue with the new file
                    fh.close()
                    fh = None
                    continue
            except OSError:
                pass
            stop.wait(poll)
    finally:
        if fh is not None:
            fh.close()


def fan_out(*callbacks: Callable[[Any], None] | None) -> Callable[[Any], None]:
    """One callback that calls several (StackMonitor takes one on_state): the UI relay, the
    ActivityRecorder and the AutoHealer can all follow the same monitor. Errors are contained."""
    targets = [c for c in callbacks if c is not None]

    def call(value: Any) -> None:
        for target in targets:
            try:
                target(value)
            except Exception:  # noqa: BLE001 - one listener must not starve the others
                pass

    return call


def _state_word(st: ServiceState) -> str:
    if st.state == "exited":
        return f"exited ({st.exit_code}{', OOM-killed' if st.oom_killed else ''})"
    return st.state


class ActivityRecorder:
    """Turns the monitor's ServiceState updates and the probes' results into activity entries.

    Only transitions are written: the first state seen of each service is the baseline. Every
    liar-tui watching a project sees the same transitions (a console and a headless autoheal, two
    consoles): one of them writes them, the one holding the recorder lock next to the log (an
    flock, let go when its process ends; another takes it over at its next transition). Actions
    and autoheal steps are each process's own and are always written.
    """

    def __init__(self, log: ActivityLog) -> None:
        self.log = log
        self._states: dict[str, ServiceState] = {}
        self._probe_levels: dict[str, str] = {}
        # Each service's probe level as the log last wrote it: a console opened while nginx still
        # fails wrote "new -> fail" at every launch (QA: a morning's log of the same alarm); now
        # a first result writes only what changed since (e.g. "fail -> ok" when it recovered).
        # the console's log has the file's last entries in memory already; the watcher's
        # (preload=False) reads them here
        path = getattr(log, "path", None)
        self._logged_levels = last_probe_levels(log.entries() or (read_entries(path, 1000) if path is not None else []))
        self._lock = threading.Lock()
        self._recorder_fd: int | None = None
        self._engine_connected: bool | None = None

    def _is_recorder(self) -> bool:
        if self._recorder_fd is not None:
            return True
        if getattr(self.log, "path", None) is None:
            return True  # a log with no file (in memory) shares nothing
        path = self.log.path.with_name(self.log.path.name + ".recorder.lock")
        try:
            fd = locks.take(path)
        except OSError:
            return True  # no lock to be had here: better twice than never
        if fd is None:
            return False  # another liar-tui writes these
        self._recorder_fd = fd
        return True

    def close(self) -> None:
        """Let another liar-tui record the transitions."""
        with self._lock:
            if self._recorder_fd is not None:
                os.close(self._recorder_fd)
                self._recorder_fd = None

    def on_state(self, st: ServiceState) -> None:
        with self._lock:
            prev = self._states.get(st.service)
            self._states[st.service] = st
        if prev is None:
            return
        if (prev.container_id, _state_word(prev), prev.health.status) == (st.container_id, _state_word(st), st.health.status):
            return  # nothing this writes changed (stats, uptime...)
        with self._lock:
            if not self._is_recorder():
                return
        if prev.container_id and st.container_id and prev.container_id != st.container_id:
            self.log.record("state", st.service, f"new container {st.container_id[:12]} ({_state_word(st)})")
        elif _state_word(prev) != _state_word(st):
            self.log.record("state", st.service, f"{_state_word(prev)} -> {_state_word(st)}")
        if st.running and prev.health.status != st.health.status and st.health.status != "none":
            text = f"{prev.health.status if prev.running else 'down'} -> {st.health.status}"
            if st.health.status == "unhealthy":
                text += f" ({st.health.failing_streak} failing checks"
                if st.health.last_output:
                    text += f"; last: {st.health.last_output[:200]}"
                text += ")"
            self.log.record("health", st.service, text)

    def on_engine(self, status: Any) -> bool:
        """The monitor's EngineStatus: the engine's loss and its return are written once each
        (the four containers stopping at once, then starting, say little without them). The
        first status seen is the baseline, unless the engine does not answer then. True when
        an entry was written."""
        with self._lock:
            prev, self._engine_connected = self._engine_connected, bool(status.connected)
            if prev == status.connected or (prev is None and status.connected):
                return False
            if not self._is_recorder():
                return False
        if status.connected:
            info = getattr(status, "info", None)
            version = f" (docker {info.version} at {info.address})" if info is not None else ""
            self.log.record("engine", "", f"the Docker engine answers again{version}")
        else:
            error = status.error or "unreachable"
            if not error.startswith("lost the Docker engine"):
                error = f"{'lost the Docker engine' if prev else 'the Docker engine does not answer'}: {error}"
            self.log.record("engine", "", error)
        return True

    def on_probe(self, result: Any) -> None:
        """A ProbeResult (see probes.py): write when the level changes (the first non-ok too)."""
        with self._lock:
            prev = self._probe_levels.get(result.service)
            self._probe_levels[result.service] = result.level
            if prev is None:
                prev = self._logged_levels.pop(result.service, None)
        if prev == result.level or (prev is None and result.level == "ok"):
            return
        with self._lock:
            if not self._is_recorder():
                return
        self.log.record("probe", result.service, f"{prev or 'new'} -> {result.level}: {result.reason}")


_PROBE_TEXT = re.compile(r"^\S+ -> (ok|warn|fail):")


def last_probe_levels(entries: Iterable[ActivityEntry]) -> dict[str, str]:
    """{service: level} of each service's last probe entry ("x -> level: reason")."""
    levels: dict[str, str] = {}
    for entry in entries:
        if entry.kind == "probe":
            m = _PROBE_TEXT.match(entry.text)
            if m:
                levels[entry.service] = m.group(1)
    return levels


def format_entries(entries: Iterable[ActivityEntry]) -> str:
    return "\n".join(e.format() for e in entries)
