"""The console's compose actions, run by a helper process: python-on-whales stays out of the console.

A Stack (python-on-whales and pydantic) costs ~12 MB of RSS that a process keeps for good, and
~0.2 s of imports holding the interpreter the console's UI thread shares. The console's
actions (restart, stop, start, recreate, up, down, autoheal's restarts) go instead to a helper:
`python -m liar_tui.stack.actionhost`, started at the first action and ended after `idle`
seconds without one, so the console settles back to its idle figure. The first action after a
quiet spell pays the helper's start (~0.35 s here); the next ones reuse it.

Wire format, one JSON object per line. Parent -> helper: first {"root", "name"} (the project),
then requests {"id", "call", "args", "kwargs"}. Helper -> parent: {"id", "progress": event},
then {"id", "result": ActionResult} or {"id", "error": {"type", "message"}}. Requests run side by
side (one thread each), as the console's workers ran them. No secret crosses: the helper reads
`.env` itself, as Stack does. The helper runs in a session of its own (a Ctrl-C meant for a
shell the console opened cannot reach it) and ends when its stdin closes (the console quit or
died), after its running requests; a compose it runs is the console's grandchild, so the
console's cleanup at quit still stops it.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from . import errors
from .errors import StackError
from .model import ActionResult, ProgressEvent
from .project import Project

#: Calls the helper serves: the Stack methods the console uses.
CALLS = frozenset({"preflight", "restart", "stop", "start", "recreate", "up_service", "down", "up_events"})

ProgressFn = Callable[[ProgressEvent], None]


class ActionHostFailed(StackError):
    """The helper ended (or could not start) before answering."""


# -- wire format -------------------------------------------------------------------------------
def encode_error(exc: BaseException) -> dict[str, str]:
    return {"type": type(exc).__name__, "message": str(exc), "stack_error": "1" if isinstance(exc, StackError) else ""}


def decode_error(data: dict[str, str]) -> BaseException:
    """The helper's exception, as the console would have caught it: the same StackError class
    (its one line, shown as is); anything else as 'Type: message', as the console shows it."""
    cls = getattr(errors, data.get("type", ""), None)
    if isinstance(cls, type) and issubclass(cls, StackError):
        return cls(data.get("message", ""))
    return ActionHostFailed(f"{data.get('type', 'Error')}: {data.get('message', '')}")


def decode_result(data: dict[str, Any]) -> ActionResult:
    return ActionResult(**{**data, "services": tuple(data.get("services", ()))})


# -- the helper --------------------------------------------------------------------------------
def serve(requests: IO[str], replies: IO[str]) -> None:
    """Answer requests until `requests` ends, then wait for the running ones."""
    hello = json.loads(requests.readline() or "{}")
    project = Project(root=Path(hello["root"]), name=hello["name"])
    write_lock = threading.Lock()
    stack_lock = threading.Lock()
    made: list[Any] = []

    def send(message: dict[str, Any]) -> None:
        line = json.dumps(message) + "\n"
        with write_lock:
            try:
                replies.write(line)
                replies.flush()
            except (BrokenPipeError, ValueError):
                pass  # the console is gone: finish quietly

    def stack() -> Any:
        with stack_lock:
            if not made:
                from .compose import Stack

                made.append(Stack(project))
            return made[0]

    def handle(request: dict[str, Any]) -> None:
        rid = request.get("id")
        call = request.get("call", "")
        args = request.get("args", [])
        kwargs = request.get("kwargs", {})

        def progress(event: ProgressEvent) -> None:
            send({"id": rid, "progress": dataclasses.asdict(event)})

        try:
            if call not in CALLS:
                raise ActionHostFailed(f"the action helper has no call {call!r}")
            if call == "preflight":
                stack().preflight(*args, **kwargs)
                send({"id": rid, "result": None})
            elif call == "up_events":
                for item in stack().up_events(*args, **kwargs):
                    if isinstance(item, ActionResult):
                        send({"id": rid, "result": dataclasses.asdict(item)})
                    else:
                        progress(item)
            else:
                result = getattr(stack(), call)(*args, on_progress=progress, **kwargs)
                send({"id": rid, "result": dataclasses.asdict(result)})
        except BaseException as exc:  # noqa: BLE001 - every failure goes back as data
            send({"id": rid, "error": encode_error(exc)})

    threads = []
    for line in requests:
        if not line.strip():
            continue
        t = threading.Thread(target=handle, args=(json.loads(line),), name="action", daemon=False)
        t.start()
        threads.append(t)
        threads = [t for t in threads if t.is_alive()]
    for t in threads:
        t.join()


def main() -> None:
    # the protocol owns stdout: anything printed by mistake goes to stderr instead
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    serve(sys.stdin, replies)


# -- the console's side ------------------------------------------------------------------------
class _Helper:
    """One helper process: its pipes, and where its stderr goes (why it ended)."""

    def __init__(self, proc: subprocess.Popen[str], stderr: IO[bytes]) -> None:
        self.proc = proc
        self.stderr = stderr

    def last_words(self) -> str:
        """Its last stderr line, or its exit status."""
        try:
            self.stderr.seek(0)
            text = self.stderr.read()[-4000:].decode("utf-8", "replace")
        except (OSError, ValueError):
            text = ""
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        return lines[-1] if lines else f"exit status {self.proc.returncode}"


class HostedStack:
    """The Stack's console actions (same names and arguments), run by the helper process.

    Blocking calls, one per worker thread; progress callbacks run on the calling thread."""

    def __init__(self, project: Project, *, idle: float = 60.0, python: str | None = None) -> None:
        self.project = project
        self.idle = idle
        self._python = python or sys.executable
        self._lock = threading.Lock()
        self._helper: _Helper | None = None
        self._pending: dict[int, tuple[_Helper, queue.Queue[dict[str, Any]]]] = {}
        self._ids = itertools.count(1)
        self._idle_timer: threading.Timer | None = None
        self._closed = False

    # the console's calls
    def preflight(self, **kwargs: Any) -> None:
        for _ in self._call("preflight", [], kwargs):
            pass

    def restart(self, service: str, *, timeout: int | None = None, on_progress: ProgressFn | None = None) -> ActionResult:
        return self._action("restart", [service], {"timeout": timeout}, on_progress)

    def stop(self, service: str, *, on_progress: ProgressFn | None = None) -> ActionResult:
        return self._action("stop", [service], {}, on_progress)

    def start(self, service: str, *, on_progress: ProgressFn | None = None) -> ActionResult:
        return self._action("start", [service], {}, on_progress)

    def recreate(self, service: str, *, on_progress: ProgressFn | None = None) -> ActionResult:
        return self._action("recreate", [service], {}, on_progress)

    def up_service(self, service: str, *, on_progress: ProgressFn | None = None) -> ActionResult:
        return self._action("up_service", [service], {}, on_progress)

    def down(self, *, volumes: bool = False, on_progress: ProgressFn | None = None) -> ActionResult:
        return self._action("down", [], {"volumes": volumes}, on_progress)

    def up_events(self, services: list[str] | None = None, **kwargs: Any) -> Iterator[ProgressEvent | ActionResult]:
        yield from self._call("up_events", [services], kwargs)

    @property
    def pid(self) -> int | None:
        """The helper's pid while one is running (or finishing its last requests)."""
        helper = self._helper
        return helper.proc.pid if helper is not None and helper.proc.poll() is None else None

    def close(self) -> None:
        """End the helper (after its running requests); later calls start none."""
        with self._lock:
            self._closed = True
            self._let_helper_go()

    # internals
    def _action(self, call: str, args: list[Any], kwargs: dict[str, Any], on_progress: ProgressFn | None) -> ActionResult:
        result: ActionResult | None = None
        for item in self._call(call, args, kwargs):
            if isinstance(item, ActionResult):
                result = item
            elif on_progress is not None:
                on_progress(item)
        if result is None:
            raise ActionHostFailed(f"the action helper gave no result for {call}")
        return result

    def _call(self, call: str, args: list[Any], kwargs: dict[str, Any]) -> Iterator[ProgressEvent | ActionResult]:
        answers: queue.Queue[dict[str, Any]] = queue.Queue()
        with self._lock:
            if self._closed:
                raise ActionHostFailed("the console is ending: no new actions")
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
            helper = self._running_helper()
            rid = next(self._ids)
            self._pending[rid] = (helper, answers)
            try:
                assert helper.proc.stdin is not None
                helper.proc.stdin.write(json.dumps({"id": rid, "call": call, "args": args, "kwargs": kwargs}) + "\n")
                helper.proc.stdin.flush()
            except (OSError, ValueError):
                pass  # it has ended: its reader answers every request it left
        try:
            while True:
                message = answers.get()
                if "ended" in message:
                    raise ActionHostFailed(f"the action helper ended before {call} finished: {message['ended']}")
                if "progress" in message:
                    yield ProgressEvent(**message["progress"])
                    continue
                if "error" in message:
                    raise decode_error(message["error"])
                if message.get("result") is not None:
                    yield decode_result(message["result"])
                return
        finally:
            with self._lock:
                self._pending.pop(rid, None)
                if not self._pending and not self._closed and self._helper is not None:
                    self._idle_timer = threading.Timer(self.idle, self._idle_out)
                    self._idle_timer.daemon = True
                    self._idle_timer.start()

    def _running_helper(self) -> _Helper:
        """The helper that takes requests, started when there is none (under self._lock)."""
        if self._helper is not None and self._helper.proc.poll() is None:
            return self._helper
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        stderr = tempfile.TemporaryFile()
        try:
            proc = subprocess.Popen(
                [self._python, "-m", "liar_tui.stack.actionhost"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                text=True, encoding="utf-8", env=env, start_new_session=True, close_fds=True,
            )
        except OSError as exc:
            stderr.close()
            raise ActionHostFailed(f"cannot start the action helper ({self._python}): {exc}") from None
        helper = _Helper(proc, stderr)
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps({"root": str(self.project.root), "name": self.project.name}) + "\n")
            proc.stdin.flush()
        except (OSError, ValueError):
            pass  # ended at once: the reader says why
        self._helper = helper
        threading.Thread(target=self._read, args=(helper,), name="actionhost-reader", daemon=True).start()
        return helper

    def _read(self, helper: _Helper) -> None:
        """Hand each of the helper's answers to its request; when it ends, tell the requests it
        did not answer why."""
        assert helper.proc.stdout is not None
        for line in helper.proc.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                entry = self._pending.get(message.get("id"))
            if entry is not None:
                entry[1].put(message)
        helper.proc.wait()
        words = helper.last_words()
        with self._lock:
            if self._helper is helper:
                self._helper = None
            left = [answers for owner, answers in self._pending.values() if owner is helper]
        for answers in left:
            answers.put({"ended": words})
        helper.stderr.close()

    def _idle_out(self) -> None:
        with self._lock:
            if not self._pending:
                self._let_helper_go()

    def _let_helper_go(self) -> None:
        """Close the helper's stdin: it ends once its running requests have; the next request
        starts a new one (under self._lock)."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        helper, self._helper = self._helper, None
        if helper is not None and helper.proc.stdin is not None:
            try:
                helper.proc.stdin.close()
            except OSError:
                pass


if __name__ == "__main__":
    main()
