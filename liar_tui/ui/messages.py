"""Facts that thread workers and stream threads post to the app (past tense: they happened).

Workers never touch widgets: they post one of these, and a handler on the app thread renders it.
"""

from __future__ import annotations

from pathlib import Path

from textual.message import Message

from ..stack.logs import LogBatch
from ..stack.model import ActionResult, ProgressEvent, ServiceState, StatsSample
from ..stack.monitor import EngineStatus


class ServiceStateChanged(Message):
    """A service's container changed (state, health, restart count, ...)."""

    def __init__(self, state: ServiceState) -> None:
        super().__init__()
        self.state = state


class StatsSampled(Message):
    """A new stats frame of a service; queued duplicates of one service collapse into the newest."""

    def __init__(self, sample: StatsSample) -> None:
        super().__init__()
        self.sample = sample

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StatsSampled) and message.sample.service == self.sample.service


class EngineStatusChanged(Message):
    """The engine went away or came back."""

    def __init__(self, status: EngineStatus) -> None:
        super().__init__()
        self.status = status


class LogLinesArrived(Message):
    """A batch of log lines for the log view (the follower waits for its ack before the next)."""

    def __init__(self, batch: LogBatch) -> None:
        super().__init__()
        self.batch = batch


class ActionProgressed(Message):
    """compose reported progress of a running action (e.g. `Container x Started`)."""

    def __init__(self, action: str, event: ProgressEvent) -> None:
        super().__init__()
        self.action = action
        self.event = event


class ActionFinished(Message):
    """A lifecycle action ended; `result.message` is compose's own text when it failed."""

    def __init__(self, result: ActionResult) -> None:
        super().__init__()
        self.result = result


class HealthInspected(Message):
    """A fresh inspect of one service (failing streak and last check outputs)."""

    def __init__(self, state: ServiceState) -> None:
        super().__init__()
        self.state = state


class LogSaved(Message):
    """The visible log was written to a file (or writing failed: `error`)."""

    def __init__(self, path: Path, lines: int, error: str = "") -> None:
        super().__init__()
        self.path = path
        self.lines = lines
        self.error = error
