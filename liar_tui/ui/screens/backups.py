"""Backups in the console: a job modal with progress bars (backup, verify, restore), the Backups
view (`V`) listing the sets with verify and restore, and the typed confirmation a restore needs.

The screens render what the app hands them; the work runs in the app's thread workers through
stack.backup.BackupManager, which reports BackupProgress and takes a cancel Event.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Input, Label, ProgressBar, Static

from ...stack.model import format_bytes
from ..widgets.bars import LineWidget, TextBar
from ..widgets.inputs import OrderedInput
from ..widgets.scrolling import KeyVerticalScroll
from .main import CalmFooter
from .style import Dialog, SaysWhyKeyIsOff, ToastsClearOfDialog, fit_body, modal_css

if TYPE_CHECKING:
    from ..app import LiarApp

_ids = itertools.count(1)



def progress_detail(service: str, p: Any) -> str:
    """What a job row says after its phase: '25.4KiB in 0.4s', '12.0MiB of 40.0MiB · streaming'.
    The row names the service: a note starting with it ('postgres: database liardb recreated')
    does not say it again."""
    size = ""
    if p.bytes_done:
        size = format_bytes(p.bytes_done)
        if p.bytes_total and p.bytes_total != p.bytes_done:
            size += f" of {format_bytes(p.bytes_total)}"
    message = p.message
    if message.startswith(f"{service}: "):
        message = message[len(service) + 2:]
    if size and message.startswith(size):
        return message  # the backup's own done note, 'redis: 25.4KiB in 0.4s', already gives it
    return " · ".join(x for x in (size, message) if x)


@dataclass
class BackupJob:
    """One backup, verify or restore the console runs (at most one at a time)."""

    kind: str  # backup | verify | restore
    services: tuple[str, ...]
    set_id: str = ""
    cancel: threading.Event = field(default_factory=threading.Event)
    id: int = field(default_factory=lambda: next(_ids))
    done: bool = False
    ok: bool = False
    cancelled: bool = False
    unfinished: bool = False  # a verify that could not check every service, and found nothing wrong
    text: str = ""
    details: list[str] = field(default_factory=list)
    skipped: tuple[str, ...] = ()  # services a verify could not check (not running)
    failed: tuple[str, ...] = ()  # services a verify found a problem in

    @property
    def mild(self) -> bool:
        """Ended without success but found nothing wrong (cancelled, or a verify not finished):
        shown as a warning, not a failure."""
        return self.cancelled or self.unfinished

    @property
    def cancellable(self) -> bool:
        # A restore replaces data step by step: stopping half-way leaves a service half restored.
        return self.kind != "restore"

    def title(self, project: str) -> str:
        what = ", ".join(self.services)
        if self.kind == "backup":
            return f"Backing up {what} ({project})"
        if self.kind == "verify":
            return f"Verifying backup {self.set_id}"
        return f"Restoring {what} of project {project} from {self.set_id}"


class JobScreen(ToastsClearOfDialog, ModalScreen[None]):
    """Progress of a backup/verify/restore: one bar per service, the current step; esc cancels
    (backup and verify) while it runs and closes once it is done."""

    DEFAULT_CSS = modal_css("JobScreen", dialog=True) + """
    JobScreen #job-body { height: auto; }
    JobScreen Label.service { margin: 1 0 0 0; }
    JobScreen ProgressBar { width: 100%; }
    JobScreen ProgressBar Bar { width: 1fr; }
    /* its percentage is a Label: the dialogs' `Label { width: 100% }` left the bar 1 cell wide */
    JobScreen ProgressBar PercentageStatus { width: 5; }
    JobScreen #job-result { margin: 1 0 0 0; height: auto; }
    """
    BINDINGS = [
        Binding("escape,ctrl+c", "cancel_or_close", "Cancel / close", id="job.cancel", tooltip="Cancel the backup or verify (a partial set is removed); close when done"),
        Binding("enter", "close", "Close", id="job.close", show=False, tooltip="Close once it is done"),
        # q quits from every other view; here too (it asks while the job runs: app.request_quit)
        Binding("q", "app.quit_console", "Quit", id="job.quit", tooltip="Quit the console (asks first while the job runs)"),
    ]

    def __init__(self, job: BackupJob, project: str) -> None:
        super().__init__()
        self.job = job
        self.project = project
        self._bars: dict[str, ProgressBar] = {}
        self._labels: dict[str, Label] = {}
        self._done: dict[str, str] = {}  # row -> the detail of its "done" report
        self._details: dict[str, str] = {}  # row -> the detail of its last report
        self.quit_pending = False  # the console quits when this job ends (the app sets it)

    def compose(self) -> ComposeResult:
        with Dialog():
            yield Label(self.job.title(self.project), classes="title")
            # the rows and the result scroll (a restore's result at 80x24 does not fit); the
            # title and the hint stay in view
            with KeyVerticalScroll(id="job-body"):
                rows = ("set", *self.job.services) if self.job.kind in ("verify", "restore") else self.job.services
                for service in rows:
                    label = Label(self._label_text(service, "waiting", ""), classes="service")
                    bar = ProgressBar(total=None, show_eta=False, id=f"bar-{service}")
                    self._labels[service], self._bars[service] = label, bar
                    yield label
                    yield bar
                yield Static("", id="job-result")
            yield Label(self._hint(), id="job-hint", classes="hint")

    def on_mount(self) -> None:
        self.call_after_refresh(self._fit_body)

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_body)

    def _fit_body(self) -> None:
        if self.query("#job-body"):
            fit_body(self, self.query_one("#job-body", VerticalScroll), self.query_one(Label), self.query_one("#job-hint", Label))

    @staticmethod
    def _label_text(service: str, phase: str, detail: str, style: str = "cyan") -> Text:
        name = "checksums" if service == "set" else service
        out = Text(f"{name:<10}", style="bold")
        out.append(phase, style=style)
        if detail:
            out.append(f"  {detail}", style="dim")
        return out

    def _hint(self) -> str:
        job = self.job
        if job.done:
            return "esc/enter closes"
        if self.quit_pending:
            if job.cancellable:
                return f"cancelling the {job.kind}, then quitting…"
            return "quitting when the restore ends (it cannot stop half-way) · esc stays"
        if job.cancel.is_set():
            return "cancelling…"
        if job.cancellable:
            return "esc cancels (nothing partial is kept)"
        return "a restore cannot be stopped half-way: wait for it"

    def update_hint(self, style: str = "") -> None:
        if self.is_mounted:
            self.query_one("#job-hint", Label).update(Text(self._hint(), style=style))
            self.call_after_refresh(self._fit_body)  # a hint on two lines leaves the body less room

    def progressed(self, p: Any) -> None:
        """A BackupProgress of this job (bytes_total None: size unknown, the bar pulses)."""
        service = p.service if p.service in self._bars else None
        if service is None:
            return
        bar = self._bars[service]
        if p.phase == "done":
            total = max(1, p.bytes_total or p.bytes_done or 1)
            bar.update(total=total, progress=total)
        elif p.bytes_total:
            bar.update(total=p.bytes_total, progress=min(p.bytes_done, p.bytes_total))
        detail = progress_detail(service, p)
        self._details[service] = detail
        if p.phase == "done":
            self._done[service] = detail
        self._labels[service].update(self._label_text(service, p.phase, detail))

    def _final_phase(self, row: str) -> str:
        """What a row says once the job is over: done, skipped, failed, cancelled or not done."""
        job = self.job
        if row in job.skipped:
            return "skipped"
        if row in job.failed:
            return "failed"
        if row in self._done or job.ok or (job.kind == "verify" and job.unfinished):
            return "done"
        if job.cancelled:
            return "cancelled"
        return "not done"

    def finished(self) -> None:
        job = self.job
        # Every row ends in a final state, and no bar keeps pulsing: progress reports are
        # throttled (the last one of a step may not have come), and a cancel or a failure stops
        # rows that never started.
        for row, bar in self._bars.items():
            phase = self._final_phase(row)
            total = bar.total or 1
            if phase == "done":
                bar.update(total=total, progress=total)
            else:
                bar.update(total=total, progress=min(bar.progress, total))
            detail = self._done.get(row, "") if phase == "done" else ""
            style = {"done": "green", "skipped": "yellow", "cancelled": "yellow"}.get(phase, "red")
            self._labels[row].update(self._label_text(row, phase, detail, style))
        mild = job.mild
        style = "bold green" if job.ok else ("bold yellow" if mild else "bold red")
        head = Text(("✓ " if job.ok else ("■ " if mild else "✗ ")) + job.text, style=style)
        # each detail wraps at words under itself (a hanging indent), not back at the margin
        details = Table.grid(padding=0, expand=True)
        details.add_column(width=2, no_wrap=True)
        details.add_column(ratio=1, overflow="fold")
        for line in job.details:
            details.add_row(Text("· ", style="dim"), Text(line))
        self.query_one("#job-result", Static).update(Group(head, details) if job.details else head)
        self.update_hint()
        body = self.query_one("#job-body", VerticalScroll)
        body.focus()  # ↑/↓/pgup/pgdn scroll it when it does not fit
        self.call_after_refresh(body.scroll_end, animate=False)  # the result is the news

    def action_cancel_or_close(self) -> None:
        if self.job.done:
            self.dismiss(None)
        elif self.job.cancellable:
            self.job.cancel.set()
            self.update_hint()
        elif self.quit_pending:
            self.liar.stay_open()  # the restore goes on; the console stays once it ends
        else:
            # said in the dialog: a toast would cover it
            self.update_hint("bold yellow")

    @property
    def liar(self) -> "LiarApp":
        return self.app  # type: ignore[return-value]

    def action_close(self) -> None:
        if self.job.done:
            self.dismiss(None)


class QuitDuringJobScreen(ToastsClearOfDialog, ModalScreen[bool]):
    """Quit (`q`, `ctrl+q`, the palette) while a backup, verify or restore runs: a restore cannot
    be stopped half-way, so the console quits when it ends; a backup or verify is cancelled first
    (nothing partial is kept). `ctrl+q` again answers yes."""

    DEFAULT_CSS = modal_css("QuitDuringJobScreen", dialog=True)
    BINDINGS = [
        Binding("y", "confirm", "Quit", id="quit.confirm", tooltip="Quit dialog: quit when the restore ends / cancel the backup and quit"),
        Binding("escape,n", "stay", "Stay", id="quit.stay", tooltip="Quit dialog: stay in the console (the job goes on)"),
    ]

    def __init__(self, job: BackupJob, project: str) -> None:
        super().__init__()
        self.job = job
        self.project = project

    def _lines(self) -> tuple[str, str, str]:
        job = self.job
        what = {"backup": "A backup", "verify": "A verify", "restore": "A restore"}[job.kind]
        if job.done:
            return (f"{what} has just ended: quit now?", f"It says: {job.text}", "y: quit   esc/n: stay")
        if not job.cancellable:
            return (f"Quit while {what.lower()} runs?",
                    f"{job.title(self.project)}. A restore cannot be stopped half-way (it would leave a "
                    "service half restored): liar-tui quits as soon as it ends.",
                    "y: quit when it ends   esc/n: stay")
        return (f"Quit while {what.lower()} runs?",
                f"{job.title(self.project)}. Quitting cancels it: nothing partial is kept.",
                f"y: cancel the {job.kind} and quit   esc/n: stay")

    def compose(self) -> ComposeResult:
        title, text, keys = self._lines()
        with Dialog():
            yield Label(title, classes="title", id="quit-title")
            yield Label(text, id="quit-text")
            yield Label(keys, classes="hint", id="quit-keys")

    def job_ended(self) -> None:
        """The job ended while the question was open: the question changes."""
        for selector, value in zip(("#quit-title", "#quit-text", "#quit-keys"), self._lines()):
            self.query_one(selector, Label).update(value)

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_stay(self) -> None:
        self.dismiss(False)


class RestoreConfirmScreen(ToastsClearOfDialog, ModalScreen["tuple[str, ...] | None"]):
    """A restore replaces data: the services to restore, and the project name typed in full."""

    DEFAULT_CSS = modal_css("RestoreConfirmScreen", dialog=True) + """
    RestoreConfirmScreen Label { width: 100%; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="restore.cancel")]

    def __init__(self, bset: Any, project: str) -> None:
        super().__init__()
        self.bset = bset
        self.project = project

    def compose(self) -> ComposeResult:
        b = self.bset
        created = b.created_at.strftime("%Y-%m-%d %H:%M:%S UTC") if b.created_at else "?"
        other = f" — made from project {b.project}" if b.project and b.project != self.project else ""
        with Dialog():
            yield Label(f"Restore {b.id} into {self.project}?", classes="title")
            yield Label(f"Backup of {created}, {format_bytes(b.size)}, {b.status}{other}.")
            yield Label(
                "This REPLACES ALL DATA of the services below in the running stack with the set's "
                "(it is verified first; nothing is changed if that fails).",
                classes="error",
            )
            yield Label("Services (space-separated):", classes="hint")
            yield OrderedInput(value=" ".join(b.services), id="restore-services")
            yield Label(f"type {self.project} to confirm, then enter restores:", classes="hint")
            # no placeholder: a greyed name in the box reads as already typed
            yield OrderedInput(id="restore-name")
            yield Label("", id="restore-error", classes="error")

    def on_mount(self) -> None:
        self.query_one("#restore-name", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        services = tuple(self.query_one("#restore-services", Input).value.split())
        name = self.query_one("#restore-name", Input).value.strip()
        error = self.query_one("#restore-error", Label)
        unknown = [s for s in services if s not in self.bset.services]
        if not services or unknown:
            error.update(f"the set holds {', '.join(self.bset.services)}" + (f", not {', '.join(unknown)}" if unknown else ""))
            return
        if name != self.project:
            error.update("that is not the project name: nothing will be restored")
            return
        down = self.app.not_running_reason(services, "a restore")  # type: ignore[attr-defined]
        if down:
            error.update(down + "; nothing was restored")
            return
        self.dismiss(tuple(s for s in self.bset.services if s in services))

    def action_cancel(self) -> None:
        self.dismiss(None)


#: How each set's status reads in the list: a word and a glyph (NO_COLOR: the glyph still tells them apart).
SET_STATUS = {
    "verified": ("✓ verified", "green"),
    "verify failed": ("✗ verify failed", "bold red"),
    "complete": ("complete", ""),
    "incomplete": ("! incomplete", "yellow"),
    "in progress": ("⟳ in progress", "yellow"),
}


def set_status(bset: Any) -> str:
    return bset.status if bset.complete or bset.in_progress else "incomplete"


def unusable_reason(bset: Any) -> str:
    """Why a set cannot be verified or restored ('' when it can)."""
    if bset.in_progress:
        return f"{bset.id} is being written by a running backup: verify or restore it once it is complete"
    if not bset.complete:
        return (f"{bset.id} is incomplete (no manifest: a backup that did not finish): nothing to verify or restore; "
                "`liar-tui backup prune --keep N` removes it")
    return ""


def _when(t: Any) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S UTC") if t is not None else "-"


def _service_detail(bset: Any, service: str) -> str:
    """What the set holds of `service`, from its manifest (sizes, counts, the tool that made it)."""
    meta = bset.meta.get(service) or {}
    sizes = {f.kind: f.size for f in bset.files_of(service)}
    total = sum(f.size for f in bset.files_of(service))
    parts: list[str] = []
    if service == "postgres":
        dump = f"dump {format_bytes(sizes['dump'])}" if "dump" in sizes else ""
        roles = f"roles {format_bytes(sizes['globals'])}" if "globals" in sizes else ""
        parts.append(" + ".join(p for p in (dump, roles) if p) or format_bytes(total))
        if meta.get("database"):
            parts.append(f"database {meta['database']}" + (f" as {meta['user']}" if meta.get("user") else ""))
        tool = str(meta.get("pg_dump") or bset.tools.get("pg_dump") or "")
        if tool:
            parts.append(tool.split(" (Debian")[0].replace(" (PostgreSQL)", ""))
    elif service == "redis":
        parts.append(f"RDB {format_bytes(sizes.get('rdb', total))}")
        if "keys_after_snapshot" in meta:
            parts.append(f"{meta['keys_after_snapshot']:,} keys")
        if meta.get("redis_version"):
            parts.append(f"Redis {meta['redis_version']}" + (" (AOF on)" if meta.get("appendonly") == "yes" else ""))
    elif service == "minio":
        if "objects" in meta:
            parts.append(f"{meta['objects']:,} objects in {meta.get('buckets', '?')} buckets, {format_bytes(meta.get('bytes', 0))}")
        else:
            parts.append(format_bytes(total))
        if bset.tools.get("s3-server"):
            parts.append(f"from {bset.tools['s3-server']}")
    else:
        parts.append(format_bytes(total))
    return " · ".join(parts)


def set_detail(bset: Any, project: str = "") -> list[tuple[Text, int]]:
    """The selected set in a few lines: where it is, when it was made, what it holds of each
    service, and its last verify (each check's words; what it found wrong). From what the set's
    files say (read by the list's worker): nothing here reads the disk. Each line comes with the
    indent its wrapped rest takes (under the words, not under the service's name)."""
    lines = [(Text.assemble((bset.id, "bold"), "  ", (str(bset.path), "dim")), 2)]
    if not bset.complete:
        made = f"started {_when(bset.created_at)}" if bset.created_at else "start unknown"
        lines.append((Text(f"{made} · {format_bytes(bset.size)} on disk · {bset.problem or 'no manifest'}", style="yellow"), 2))
        return lines
    made = f"made {_when(bset.created_at)}"
    if bset.created_at is not None and bset.finished_at is not None:
        made += f" in {(bset.finished_at - bset.created_at).total_seconds():.1f}s"
    if bset.project and bset.project != project:
        made += f" · from project {bset.project}"
    if bset.tools.get("liar-tui"):
        made += f" · liar-tui {bset.tools['liar-tui']}"
    lines.append((Text(made, style="dim"), 2))
    if bset.problem:
        lines.append((Text(bset.problem, style="yellow"), 2))
    checks = {svc: (ok, summary) for svc, ok, summary in bset.verify_checks}
    width = max((cell_len(svc) for svc in bset.services), default=0)
    for svc in bset.services:
        line = Text(f"{svc:<{width}}  ", style="bold")
        line.append(_service_detail(bset, svc))
        lines.append((line, width + 2))
    if bset.verified is None:
        lines.append((Text("never verified: v checks every checksum and reads each file with its own tool", style="dim"), 2))
        return lines
    head = Text(f"last verify {_when(bset.verified_at)}: ")
    head.append("✓ passed" if bset.verified else "✗ failed", style="green" if bset.verified else "bold red")
    lines.append((head, 2))
    for svc in bset.services:
        if svc in checks:
            ok, summary = checks[svc]
            line = Text(f"  {'✓' if ok else '✗'} {svc:<{width}}  ", style="green" if ok else "red")
            line.append(summary)
            lines.append((line, width + 6))
    for problem in bset.verify_problems:
        if not any(problem == f"{svc}: {checks[svc][1]}" for svc in checks):  # said on its service's line
            lines.append((Text(f"  ✗ {problem}", style="red"), 4))
    return lines


def hanging_wrap(console: Any, line: Text, width: int, hang: int) -> list[Text]:
    """`line` wrapped at words to `width` cells, its second and later rows indented by `hang`."""
    rows = list(line.wrap(console, width))
    if len(rows) <= 1 or hang <= 0 or hang >= width - 10:
        return rows
    rest = Text(" ").join(rows[1:])
    out = [rows[0]]
    for row in rest.wrap(console, width - hang):
        out.append(Text(" " * hang) + row)
    return out


def _content_width(name: str, rows: list[dict[str, Any]]) -> int:
    """Cells of a column `name` of the sets table: the widest, its header included."""
    return max([cell_len(name), *(r[name].cell_len if isinstance(r[name], Text) else cell_len(str(r[name])) for r in rows)])


class SetsTable(DataTable[Any], inherit_bindings=False):  # DataTable's keys, each with an id (help lists every key)
    """The sets, oldest first: home/g and end/G go to the oldest and the newest set, like the log
    (DataTable's own home/end scroll sideways, which this list, sized to fit, never needs)."""

    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", id="backups.up", show=False, tooltip="Backups view: the previous (older) set"),
        Binding("down,j", "cursor_down", "Down", id="backups.down", show=False, tooltip="Backups view: the next (newer) set"),
        Binding("pageup", "page_up", "Page up", id="backups.page-up", show=False, tooltip="Backups view: a page up"),
        Binding("pagedown", "page_down", "Page down", id="backups.page-down", show=False, tooltip="Backups view: a page down"),
        Binding("home,g", "scroll_top", "Oldest", id="backups.oldest", show=False, tooltip="Backups view: the oldest set"),
        Binding("end,G", "scroll_bottom", "Newest", id="backups.newest", show=False, tooltip="Backups view: the newest set"),
    ]


class BackupsScreen(SaysWhyKeyIsOff, Screen[None]):
    """The backup sets of this project, newest last: verify one, restore one, make a new one."""

    DEFAULT_CSS = """
    BackupsScreen { layout: vertical; }
    BackupsScreen > #backups-bar { background: $panel; padding: 0 1; }
    BackupsScreen > DataTable { height: 1fr; min-height: 4; }
    BackupsScreen > #backups-detail { height: auto; max-height: 60%; padding: 0 1; border-top: hkey $panel; }
    BackupsScreen > #backups-status { padding: 0 1; color: $text-muted; height: auto; max-height: 3; }
    """
    BINDINGS = [
        Binding("escape,V,q", "back", "Back", id="backups.back", tooltip="Back to the services"),
        Binding("v", "verify", "Verify", id="backups.verify", tooltip="Verify the selected set: checksums and each artefact read by its tool"),
        Binding("r", "restore", "Restore…", id="backups.restore", tooltip="Restore the selected set into the running stack (asks for the project name)"),
        Binding("n", "new", "New backup", id="backups.new", tooltip="Back up postgres, redis and minio now"),
        Binding("f5", "reload", "Reload", id="backups.reload", show=False, tooltip="Read the backup folder again"),
    ]

    def __init__(self, project: str) -> None:
        super().__init__(id="backups-screen")
        self.project = project
        self.sets: list[Any] = []
        self.backup_dir = ""
        self.error = ""
        self.result: Text | None = None  # the last job's result, shown until the next one
        self.bar = TextBar(Text("BACKUPS", style="bold"), id="backups-bar")
        self.table: SetsTable = SetsTable(cursor_type="row", zebra_stripes=True, id="backups-table")
        self.status = TextBar(Text("reading the backup folder…", style="dim"), id="backups-status")
        self.detail = LineWidget(id="backups-detail")  # the selected set: what it holds, its last verify
        self._marked: str | None = None  # the row showing ▶
        self._status_text = Text()
        self._columns: tuple[str, ...] = ()

    @property
    def liar(self) -> "LiarApp":
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield self.bar
        yield self.table
        yield self.detail
        yield self.status
        yield CalmFooter(compact=True)

    def on_mount(self) -> None:
        self._set_columns(("SET", "SIZE", "STATUS", "SERVICES"))
        self.table.focus()

    def on_resize(self) -> None:
        self._set_status(self._status_text)
        self._show_detail()
        if self.sets:
            self._fill(self.selected.id if self.selected is not None else None)  # CREATED comes and goes with the width

    def _set_columns(self, names: tuple[str, ...], rows: list[dict[str, Any]] | None = None) -> None:
        """Columns as wide as their widest cell, set here rather than measured by DataTable: it
        measures new rows when it is next idle, and cells drawn before that stay cached at their
        headers' widths (QA, about one opening in seven: `202  384.  comple  postgres`)."""
        self.table.clear(columns=True)
        self._columns = names
        self._marked = None
        self.table.add_column("", key="mark", width=1)  # ▶: the selection, not by colour alone
        for name in names:
            self.table.add_column(name, key=name, width=_content_width(name, rows or []))

    def on_unmount(self) -> None:
        self.liar.backups_closed(self)

    def _cells(self, s: Any) -> dict[str, Any]:
        word, style = SET_STATUS.get(set_status(s), (set_status(s), "yellow"))
        return {
            "SET": s.id,
            "CREATED (UTC)": s.created_at.strftime("%Y-%m-%d %H:%M:%S") if s.created_at else "-",
            "SIZE": Text(format_bytes(s.size), justify="right"),
            "STATUS": Text(word, style=style),
            "SERVICES": ",".join(s.services) or "-",
            "PROJECT": s.project or "-",
        }

    def _choose_columns(self, rows: list[dict[str, Any]]) -> tuple[str, ...]:
        """Every column that fits: SET, SIZE, STATUS and SERVICES always (STATUS before SERVICES);
        CREATED when there is room (the set's id is its creation time too); PROJECT only when a
        set comes from another project (it is otherwise always this one's name)."""
        names = ["SET", "CREATED (UTC)", "SIZE", "STATUS", "SERVICES"]
        if any(s.project and s.project != self.project for s in self.sets):
            names.append("PROJECT")

        def width(name: str) -> int:
            return _content_width(name, rows) + 2  # DataTable pads each cell by one on both sides

        room = (self.table.size.width or self.size.width or 80) - 2  # the vertical scrollbar
        need = 3 + sum(width(n) for n in names)
        if need > room:
            names.remove("CREATED (UTC)")
        return tuple(names)

    def show_sets(self, sets: list[Any], backup_dir: str, error: str = "", select: str = "") -> None:
        """The sets, oldest first; the cursor stays on the set it was on (or goes to `select`)."""
        selected = select or (self.selected.id if self.selected is not None else None)
        self.sets = list(sets)
        self.backup_dir = backup_dir
        self.error = error
        self._fill(selected)
        bar = Text("BACKUPS", style="bold")
        bar.append(f"  {self.project}", style="bold cyan")
        bar.append(f"  {len(self.sets)} set{'s' if len(self.sets) != 1 else ''} in {backup_dir}", style="dim")
        self.bar.set_text(bar)
        self._show_status()
        self.refresh_bindings()

    def _fill(self, selected: str | None) -> None:
        """Rebuild the rows; the cursor goes to `selected`, else to the newest set."""
        rows = [self._cells(s) for s in self.sets]
        self._set_columns(self._choose_columns(rows), rows)
        for s, cells in zip(self.sets, rows):
            self.table.add_row("", *(cells[n] for n in self._columns), key=s.id)
        if self.sets:
            ids = [s.id for s in self.sets]
            self.table.move_cursor(row=ids.index(selected) if selected in ids else len(ids) - 1)
        self._mark()

    def _mark(self) -> None:
        s = self.selected
        current = s.id if s is not None else None
        if current == self._marked:
            return
        keys = {str(k.value) for k in self.table.rows}
        if self._marked in keys:
            self.table.update_cell(self._marked, "mark", "")
        if current is not None and current in keys:
            self.table.update_cell(current, "mark", Text("▶", style="bold"))
        self._marked = current

    def _wrap_width(self, widget: Any) -> int:
        """Cells a line of `widget` wraps at: its width, or before its first layout the screen's
        less its padding."""
        if widget.content_size.width:
            return max(20, widget.content_size.width)
        return max(20, (self.size.width or 80) - 2)

    def _show_detail(self) -> None:
        s = self.selected
        self.detail.display = s is not None
        if s is None:
            return
        width = self._wrap_width(self.detail)
        lines = [row for line, hang in set_detail(s, self.project) for row in hanging_wrap(self.app.console, line, width, hang)]
        if self.detail.set_lines(lines):
            self.detail.refresh(layout=True)

    def _show_status(self) -> None:
        self._show_detail()
        s = self.selected
        if self.error:
            self._set_status(Text(f"✗ {self.error}", style="red"))
        elif not self.sets:
            self._set_status(Text("no backup sets yet: n backs up postgres, redis and minio", style="dim"))
        elif s is not None and unusable_reason(s):
            self._set_status(Text(unusable_reason(s), style="yellow"))
        elif self.result is not None:
            self._set_status(self.result)
        else:
            self._set_status(Text("v verify · r restore… · n new backup · esc back", style="dim"))

    def _set_status(self, text: Text) -> None:
        """The status line, wrapped at words to at most three lines (an error names a fix)."""
        self._status_text = text
        width = self._wrap_width(self.status)
        lines = list(text.wrap(self.app.console, width))[:3]
        if self.status.set_lines(lines or [Text()]):
            self.status.refresh(layout=True)

    def show_result(self, text: Text) -> None:
        self.result = text
        self._set_status(text)

    @property
    def selected(self) -> Any:
        if not self.sets or self.table.cursor_row is None or not (0 <= self.table.cursor_row < len(self.sets)):
            return None
        return self.sets[self.table.cursor_row]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("verify", "restore", "new"):
            return None if self.disabled_reason(action) else True
        return True

    def disabled_reason(self, action: str) -> str:
        """Why `action` does not apply now, in one line ('' when it does)."""
        app = self.liar
        if action in ("verify", "restore"):
            s = self.selected
            if s is None:
                return "no backup set to choose: n makes one"
            if unusable_reason(s):
                return unusable_reason(s)
        if action in ("verify", "restore", "new"):
            if app.backup_job is not None:
                return f"a {app.backup_job.kind} is running: one at a time"
            if not app.engine_connected:
                return "the Docker engine is unreachable: backups come back when it does"
            wanted = app.backup_services if action == "new" else tuple(self.selected.services)
            conflict = app.job_conflict(wanted)
            if conflict:
                return conflict
        if action == "new":
            return app.not_running_reason(app.backup_services, "a backup")
        return ""

    def say_disabled(self, key: str, reason: str) -> None:
        """v or r on a set they do not apply to: on the status line, in bold (a toast said it
        again over that line)."""
        self._set_status(Text(f"{key}: {reason}", style="bold yellow"))
        self.app.bell()

    def on_data_table_row_highlighted(self) -> None:
        self._mark()
        self._show_status()
        self.refresh_bindings()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_reload(self) -> None:
        self.liar.list_backups()

    def action_verify(self) -> None:
        s = self.selected
        if s is not None:
            self.liar.start_backup_job("verify", tuple(s.services), s.id)

    def action_new(self) -> None:
        self.liar.start_backup_job("backup", self.liar.backup_services)

    def action_restore(self) -> None:
        s = self.selected
        if s is None:
            return

        def done(services: tuple[str, ...] | None) -> None:
            if services:
                self.liar.start_backup_job("restore", services, s.id)

        self.app.push_screen(RestoreConfirmScreen(s, self.project), done)
