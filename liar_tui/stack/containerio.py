"""Byte streams in and out of a container's process, over the Engine API, without a TTY.

`run_exec` is what `docker exec -i CONTAINER CMD <in >out 2>err` does: the command's stdout is
handed to a callback chunk by chunk (so a multi-GB dump never sits in memory), stderr is kept
separately (a bounded tail, for the error message), stdin is streamed from a file and closed with
a half-close so the command sees EOF. No TTY is allocated: a TTY would mangle binary output
(CR/LF translation) and merge stderr into stdout.

The Engine API multiplexes stdout and stderr on one connection in frames of
[stream id (1 byte), 3 zero bytes, payload length (4 bytes big-endian)] + payload.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from .engineapi import NotFound
from .errors import StackError

CHUNK = 1 << 20
STDERR_KEEP = 64 * 1024


class ExecCancelled(Exception):
    """The caller's cancel event was set while the command ran."""


class ExecFailed(StackError):
    """The engine could not run the command (container gone, not running, ...)."""


@dataclass(frozen=True)
class ExecOutcome:
    exit_code: int
    stderr: str
    stdout_bytes: int
    stdin_bytes: int

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def last_error_line(self) -> str:
        """The most telling line of stderr (the last non-empty one)."""
        lines = [ln.strip() for ln in self.stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error" in ln.lower() or "fatal" in ln.lower()]
        if errors:
            return errors[-1]
        return lines[-1] if lines else f"exit code {self.exit_code}"


def run_exec(
    api: Any,
    container: str,
    cmd: list[str],
    *,
    stdin: BinaryIO | None = None,
    on_stdout: Callable[[bytes], None] | None = None,
    on_stderr: Callable[[bytes], None] | None = None,
    on_stdin_progress: Callable[[int], None] | None = None,
    cancel: threading.Event | None = None,
    user: str = "",
    environment: dict[str, str] | None = None,
    workdir: str | None = None,
) -> ExecOutcome:
    """Run `cmd` in `container`; stream stdin from a file, stdout to `on_stdout`; return the outcome.

    Raises ExecCancelled when `cancel` is set (the connection is closed and the command is
    ended: see end_exec), ExecFailed when the engine refuses the exec.
    """
    from .engineapi import APIError

    try:
        created = api.exec_create(
            container,
            cmd,
            stdin=stdin is not None,
            stdout=True,
            stderr=True,
            tty=False,
            user=user,
            environment=environment,
            workdir=workdir,
        )
        exec_id = created["Id"]
        raw = api.exec_start(exec_id)
    except APIError as exc:
        raise ExecFailed(f"the engine refused to run {cmd[0]} in {container}: {exc.explanation or exc}") from None
    raw.settimeout(0.5)  # wake up regularly to look at `cancel`

    writer_error: list[BaseException] = []
    sent = [0]

    def feed() -> None:
        assert stdin is not None
        try:
            while True:
                if cancel is not None and cancel.is_set():
                    return
                block = stdin.read(CHUNK)
                if not block:
                    break
                view = memoryview(block)
                while view:
                    try:
                        n = raw.send(view)
                    except socket.timeout:
                        if cancel is not None and cancel.is_set():
                            return
                        continue
                    view = view[n:]
                    sent[0] += n
                if on_stdin_progress is not None:
                    on_stdin_progress(sent[0])
            raw.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            return  # the command exited early: its exit code and stderr say why
        except OSError as exc:  # noqa: PERF203
            writer_error.append(exc)

    writer: threading.Thread | None = None
    if stdin is not None:
        writer = threading.Thread(target=feed, name=f"exec-stdin-{cmd[0]}", daemon=True)
        writer.start()

    stderr = bytearray()
    out_total = 0
    pending = bytearray()
    stream_id = 0
    remaining = 0
    try:
        while True:
            try:
                chunk = raw.recv(CHUNK)
            except socket.timeout:
                if cancel is not None and cancel.is_set():
                    raise ExecCancelled() from None
                continue
            if not chunk:
                break
            if cancel is not None and cancel.is_set():
                raise ExecCancelled()
            pending += chunk
            pos = 0
            out_parts: list[bytes] = []
            end = len(pending)
            while pos < end:
                if remaining == 0:
                    if end - pos < 8:
                        break
                    stream_id = pending[pos]
                    remaining = int.from_bytes(pending[pos + 4 : pos + 8], "big")
                    pos += 8
                    continue
                take = min(remaining, end - pos)
                piece = bytes(pending[pos : pos + take])
                pos += take
                remaining -= take
                if stream_id == 2:
                    if on_stderr is not None:
                        on_stderr(piece)
                    stderr += piece
                    if len(stderr) > STDERR_KEEP:
                        del stderr[: len(stderr) - STDERR_KEEP]
                else:
                    out_parts.append(piece)
            del pending[:pos]
            if out_parts:
                data = out_parts[0] if len(out_parts) == 1 else b"".join(out_parts)
                out_total += len(data)
                if on_stdout is not None:
                    on_stdout(data)
    except ExecCancelled:
        try:
            raw.close()
        except OSError:
            pass
        end_exec(api, container, exec_id)
        raise
    finally:
        try:
            raw.close()
        except OSError:
            pass
        if writer is not None:
            writer.join(timeout=5)

    if writer_error:
        raise writer_error[0]
    exit_code = _exit_code(api, exec_id)
    return ExecOutcome(exit_code, stderr.decode("utf-8", "replace"), out_total, sent[0])


def pid_in_container(host_pid: int) -> int:
    """The pid a host process has inside its container's pid namespace (0 when unknown)."""
    try:
        with open(f"/proc/{host_pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except (OSError, ValueError):
        pass
    return 0


#: Seconds end_exec gives a command after SIGTERM before it sends SIGKILL.
END_EXEC_TERM_GRACE = 1.0


def end_exec(api: Any, container: str, exec_id: str, wait: float = 5.0) -> bool:
    """End a command started by run_exec that is still running, and wait (briefly) until it has.

    Closing the exec's connection does not end the command: the engine keeps draining its output,
    so a cancelled pg_dump ran to the end (and held its snapshot) while the console said
    'cancelled'. The engine has no API to signal an exec, so a second exec sends SIGTERM to the
    command's pid inside the container (its host pid, from the engine, mapped through /proc), and
    SIGKILL after END_EXEC_TERM_GRACE when it is still there (a command that ignores SIGTERM). A
    look that fails (the engine slow to answer under load, the pid not known yet) is tried again
    until `wait` is over: CI once saw the command outlive a cancel. True once it has ended."""
    deadline = time.monotonic() + wait
    sent: tuple[str, float] | None = None  # the last signal and when
    while True:
        try:
            info = api.exec_inspect(exec_id)
            if not info.get("Running"):
                return True
            now = time.monotonic()
            signal_name = "TERM" if sent is None else "KILL" if sent[0] == "TERM" and now - sent[1] >= END_EXEC_TERM_GRACE else ""
            cpid = pid_in_container(int(info.get("Pid") or 0)) if signal_name else 0
            if cpid > 0:
                _signal_in(api, container, cpid, signal_name, max(0.5, deadline - now))
                sent = (signal_name, time.monotonic())
        except NotFound:
            return True  # the exec (or its container) is gone
        except OSError:
            return False  # the engine went away: it stops the containers' processes itself
        except Exception:  # noqa: BLE001 - best effort: an engine error (busy, 5xx) is tried again
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _signal_in(api: Any, container: str, pid: int, signal_name: str, timeout: float) -> None:
    """Send a signal to a pid inside a container (as root there), through an exec of `kill`."""
    killer = api.exec_create(container, ["sh", "-c", f"kill -{signal_name} {pid} 2>/dev/null; true"],
                             stdout=True, stderr=True, tty=False, user="0")
    raw = api.exec_start(killer["Id"])
    try:
        raw.settimeout(timeout)
        while raw.recv(CHUNK):
            pass
    finally:
        raw.close()


def _exit_code(api: Any, exec_id: str, timeout: float = 15.0) -> int:
    """The exec's exit code; the engine may need a moment after the stream ends to record it."""
    deadline = time.monotonic() + timeout
    while True:
        info = api.exec_inspect(exec_id)
        if not info.get("Running") and info.get("ExitCode") is not None:
            return int(info["ExitCode"])
        if time.monotonic() > deadline:
            return -1
        time.sleep(0.02)


def exec_capture(api: Any, container: str, cmd: list[str], **kwargs: Any) -> tuple[ExecOutcome, bytes]:
    """run_exec for small outputs: returns the whole stdout."""
    buf = bytearray()
    outcome = run_exec(api, container, cmd, on_stdout=buf.extend, **kwargs)
    return outcome, bytes(buf)
