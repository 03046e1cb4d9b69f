"""Facts that thread workers and stream threads post to the app (past tense: they happened).

Workers never touch widgets: they post one of these, and a handler on the app thread renders it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.message import Message

from ..stack.logs import LogBatch
from ..stack.model import ActionResult, ContainerConfig, ProcessRow, ProgressEvent, ServiceState
from ..stack.monitor import EngineStatus


class TerminalGone(Message):
    """The console's terminal went away (its input ended: an SSH connection dropped)."""

    def __init__(self, why: str) -> None:
        super().__init__()
        self.why = why


class ServiceStateChanged(Message):
    """A service's container changed (state, health, restart count, ...)."""

    def __init__(self, state: ServiceState) -> None:
        super().__init__()
        self.state = state


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
    """A fresh inspect of one service (failing streak and last check outputs), its processes
    (None: no running container, or the engine could not say) and how its container was made."""

    def __init__(self, state: ServiceState, processes: list[ProcessRow] | None = None,
                 config: ContainerConfig | None = None) -> None:
        super().__init__()
        self.state = state
        self.processes = processes
        self.config = config


class LogSaved(Message):
    """The visible log was written to a file, or not: `exists` (the file is there and overwriting
    was not asked for) or `error` (why writing failed). `dialog` is the save dialog that asked, if
    any: it stays open until the save is done."""

    def __init__(self, path: Path, lines: int, error: str = "", *, exists: bool = False, dialog: Any = None) -> None:
        super().__init__()
        self.path = path
        self.lines = lines
        self.error = error
        self.exists = exists
        self.dialog = dialog


# -- deep health: probes, drift, buckets, autoheal, activity -------------------------------------
class DeepHealthStarted(Message):
    """The recorder and the autohealer run (made after the first frame): probes and drift may start."""


class ServiceProbed(Message):
    """A probe result of one service (probes.ProbeResult); a queued older one of the same service
    is replaced."""

    def __init__(self, result: Any) -> None:
        super().__init__()
        self.result = result

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ServiceProbed) and message.result.service == self.result.service


class DriftChecked(Message):
    """A drift check finished: DriftInfo per service (drift.detect_drift)."""

    def __init__(self, drift: dict[str, Any]) -> None:
        super().__init__()
        self.drift = drift


class BucketCreated(Message):
    """The bucket bootstrap after `up` created one missing bucket."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


class BucketsEnsured(Message):
    """The bucket bootstrap after `up` finished (buckets.BucketReport)."""

    def __init__(self, report: Any) -> None:
        super().__init__()
        self.report = report


class AutohealStepped(Message):
    """Autoheal did or decided something (autoheal.AutohealStep)."""

    def __init__(self, step: Any) -> None:
        super().__init__()
        self.step = step


class ActivityRecorded(Message):
    """An activity entry was written (by this console, or by a CLI process: read from the file)."""

    def __init__(self, entry: Any) -> None:
        super().__init__()
        self.entry = entry


class ActivityHistoryLoaded(Message):
    """The activity file's last entries, read when the activity view opened."""

    def __init__(self, entries: list[Any], generation: int) -> None:
        super().__init__()
        self.entries = entries
        self.generation = generation


# -- backups ---------------------------------------------------------------------------------------
class BackupProgressed(Message):
    """A backup/verify/restore reported progress (backup.BackupProgress); a queued older report of
    the same job, service and phase is replaced."""

    def __init__(self, job_id: int, progress: Any) -> None:
        super().__init__()
        self.job_id = job_id
        self.progress = progress

    def can_replace(self, message: Message) -> bool:
        return (
            isinstance(message, BackupProgressed)
            and message.job_id == self.job_id
            and message.progress.service == self.progress.service
            and message.progress.phase == self.progress.phase
            and self.progress.phase != "done"
        )


class BackupJobFinished(Message):
    """A backup/verify/restore ended (the job carries ok / cancelled / its text)."""

    def __init__(self, job: Any) -> None:
        super().__init__()
        self.job = job


class BackupSetsListed(Message):
    """The backup folder was read: its sets (oldest first), or why it could not be."""

    def __init__(self, sets: list[Any], backup_dir: str, error: str = "", select: str = "") -> None:
        super().__init__()
        self.sets = sets
        self.backup_dir = backup_dir
        self.error = error
        self.select = select  # put the cursor on this set (a backup just made)
