"""Headless backup commands and shells:

    liar-tui backup [SVC...]                 back up postgres, redis, minio (default: all three)
    liar-tui backup list [--json]            the sets: time, size, services, status
    liar-tui backup verify SET               checksums + pg_restore -l / redis-check-rdb / object hashes
    liar-tui backup prune --keep N           keep the N newest good sets of each service, remove the rest, failed and incomplete ones
    liar-tui verify SET                      same as `backup verify`
    liar-tui restore SET [SVC...] [--yes]    verify, confirm, then replace the services' data with the set's
    liar-tui shell SVC                       psql / redis-cli (authenticated) / sh in a service

Every command takes --backup-dir DIR (default: $LIAR_TUI_BACKUP_DIR, else <project>/backups).
SET is a set id (its folder's name), the unique start of one (`20261127T0352`), `latest` or a folder.
Registered from cli.py by `register(sub)`; `handle(stack, args)` runs them.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .stack.model import BACKUP_DIR_ENV, BACKUP_SERVICES, SERVICES, format_bytes
from .term import silence_terminal, table_lines, terminal_width

if TYPE_CHECKING:
    from .stack.backup import BackupManager, BackupProgress, VerifyReport
    from .stack.compose import Stack

# The backup machinery (stack.backup, ~100 ms of imports) loads only when a backup command runs:
# `liar-tui` and its console must not wait for it.

COMMANDS = ("backup", "verify", "restore", "shell")
BACKUP_ACTIONS = ("list", "verify", "prune")


def _add_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backup-dir", metavar="DIR", default=None,
                   help=f"where backup sets live (default: ${BACKUP_DIR_ENV}, else <project>/backups)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "backup",
        help="back up postgres, redis and minio; also `backup list`, `backup verify SET`, `backup prune --keep N`",
        description="Back up the stack's data into a new timestamped set (default services: postgres redis minio), "
        "or: `backup list`, `backup verify SET`, `backup prune --keep N`.",
    )
    p.add_argument("words", nargs="*", metavar="SVC | list | verify SET | prune",
                   help=f"services to back up ({', '.join(BACKUP_SERVICES)}) or an action")
    _add_dir(p)
    p.add_argument("--keep", type=int, metavar="N",
                   help="with prune: how many of the newest good sets to keep for each service (1 or more)")
    p.add_argument("--json", action="store_true", help="machine-readable output (list, verify, backup)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines (for cron)")

    p = sub.add_parser("verify", help="check a backup set: checksums and each artefact readable by its tool")
    p.add_argument("set", metavar="SET", help="set id (see `backup list`) or its unique start, `latest`, or a set folder")
    _add_dir(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("restore", help="replace the data of postgres/redis/minio with a backup set's")
    p.add_argument("set", metavar="SET", help="set id (see `backup list`) or its unique start, `latest` (the newest "
                   "set holding SVC whose last verify did not fail), or a set folder")
    p.add_argument("services", nargs="*", default=[], metavar="SVC", help=f"only these ({', '.join(BACKUP_SERVICES)}); default: all in the set")
    _add_dir(p)
    p.add_argument("--yes", action="store_true", help="do not ask (needed when stdin is not a terminal)")
    p.add_argument("-q", "--quiet", action="store_true")

    p = sub.add_parser("shell", help="psql, redis-cli (authenticated) or sh in a service")
    p.add_argument("service", metavar="SVC", choices=SERVICES)


def _fail(message: str, code: int = 2) -> int:
    print(f"liar-tui: {message}", file=sys.stderr, flush=True)
    return code


def _record(stack: "Stack", services: list[str] | tuple[str, ...], text: str) -> None:
    """Write what a backup command did to the activity log (never fails the command)."""
    from .stack.activity import record_quietly

    from .cli_health import warn_unrecorded

    warn_unrecorded(record_quietly(stack.project, services[0] if len(services) == 1 else "", text))


def _outcome(exc: BaseException) -> str:
    from .stack.backupset import BackupCancelled

    return "cancelled" if isinstance(exc, (KeyboardInterrupt, BackupCancelled)) else f"failed: {exc}"


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is, but ending with 143 (as a process ended by SIGTERM), not
    130: a second one during a backup job, or the first anywhere else (`cli._term_as_interrupt`)."""


@contextmanager
def ctrl_c_cancels(cancel: threading.Event | None, what: str) -> Iterator[None]:
    """Ctrl-C (or SIGTERM) sets `cancel`: the job stops at its next block, cleans up and says what it kept
    (as esc does in the console); a second signal interrupts at once. With no `cancel` (a
    restore, which stopped half-way would leave a service half restored) the first one only
    says so. A job ended by SIGTERM exits 143 (128 + 15, what `timeout` and systemd expect),
    by Ctrl-C 130. SIGHUP (the terminal went away) points the output at /dev/null and cancels
    a backup or verify (exit 129); a restore goes on to its end, a second SIGHUP too: killed
    by the default SIGHUP, `liar-tui restore` over a dropped SSH connection left a database
    half restored.

    A flag, not the default KeyboardInterrupt: an exception raised by a signal handler while the
    main thread happens to run a finalizer (an HTTP connection pool closing) is printed and
    dropped, and the job went on to the end (seen in the test of this)."""
    from .stack.backupset import BackupCancelled

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []  # the first signal (of Ctrl-C and SIGTERM)
    hung_up: list[int] = []

    def on_sigint(signum: int, _frame: object) -> None:
        if signum == signal.SIGHUP:
            # the terminal went away (an SSH connection dropped): nobody to tell, and a print
            # would fail; a backup or verify is cancelled, a restore goes on to its end
            if not hung_up:
                hung_up.append(signum)
                silence_terminal()
                if cancel is not None:
                    cancel.set()
            return
        if got:
            raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        got.append(signum)
        term = signum == signal.SIGTERM
        again = "another SIGTERM or Ctrl-C stops it at once" if term else "Ctrl-C again to stop at once"
        if cancel is not None:
            cancel.set()
            note = f"{'SIGTERM: ' if term else ''}cancelling the {what} ({again})"
        else:
            anyway = "another SIGTERM or Ctrl-C stops it anyway" if term else "Ctrl-C again to stop anyway"
            note = (f"{'SIGTERM: ' if term else ''}the {what} goes on: stopped half-way it would leave a service "
                    f"half restored ({anyway})")
        # os.write: the handler may run inside a sys.stderr write (EINTR), which must not re-enter
        line = f"\r\033[K  {note}\n" if sys.stderr.isatty() else f"liar-tui: {note}\n"
        try:
            os.write(sys.stderr.fileno(), line.encode("utf-8", "replace"))
        except (OSError, ValueError):
            pass

    # SIGTERM (`timeout`, cron, systemd stopping the job) is taken the same way; SIGHUP too,
    # but without a terminal to tell, and never stopping a restore
    previous = {sig: signal.signal(sig, on_sigint) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    except BackupCancelled as exc:
        if got and got[0] == signal.SIGTERM:
            exc.exit_code = 143
        elif hung_up and not got:
            exc.exit_code = 129
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _manager(stack: "Stack", args: argparse.Namespace) -> BackupManager:
    from .stack.backup import BackupManager
    from .stack.backupset import check_backup_dir, resolve_backup_dir

    backup_dir = resolve_backup_dir(stack.project.root, getattr(args, "backup_dir", None))
    check_backup_dir(backup_dir)
    return BackupManager(stack.project, stack, backup_dir)


class _ProgressPrinter:
    """Progress for people: a live line on a terminal (stderr), one line per finished service otherwise."""

    def __init__(self, quiet: bool, show_done: bool = True) -> None:
        self.quiet = quiet
        self.show_done = show_done
        self.live = sys.stderr.isatty() and not quiet
        self._last = 0.0

    def __call__(self, p: BackupProgress) -> None:
        if self.quiet:
            return
        if not self.live:
            return  # cron and pipes get the summary line only
        if p.phase == "done":
            sys.stderr.write("\r\033[K")
            if self.show_done:
                print(f"  {p.message}", file=sys.stderr, flush=True)
            return
        now = time.monotonic()
        if now - self._last < 0.2:
            return
        self._last = now
        total = f"/{format_bytes(p.bytes_total)}" if p.bytes_total else ""
        sys.stderr.write(f"\r\033[K  {p.service}: {p.phase} {format_bytes(p.bytes_done)}{total} {p.message}"[:160])
        sys.stderr.flush()

    def clear(self) -> None:
        if self.live:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def handle(stack: "Stack", args: argparse.Namespace) -> int:
    try:
        return _handle(stack, args)
    except Terminated:
        return _fail("terminated (SIGTERM)", 143)
    except BrokenPipeError:
        # `liar-tui backup list | head`: the reader left; say nothing more.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _handle(stack: "Stack", args: argparse.Namespace) -> int:
    if args.command == "shell":
        return cmd_shell(stack, args)
    if args.command == "verify":
        return cmd_verify(stack, args)
    if args.command == "restore":
        return cmd_restore(stack, args)
    words = list(args.words)
    if words and words[0] in BACKUP_ACTIONS:
        action, rest = words[0], words[1:]
        if action == "list":
            if rest:
                return _fail(f"`backup list` takes no arguments (got {' '.join(rest)})")
            return cmd_list(stack, args)
        if action == "verify":
            if len(rest) != 1:
                return _fail("usage: liar-tui backup verify SET (one set id; see `liar-tui backup list`)")
            args.set = rest[0]
            return cmd_verify(stack, args)
        if action == "prune":
            if rest or args.keep is None:
                return _fail("usage: liar-tui backup prune --keep N (how many of the newest good sets to keep for each service)")
            return cmd_prune(stack, args)
    if args.keep is not None:
        return _fail("--keep goes with `backup prune`")
    return cmd_backup(stack, args, words)


def cmd_backup(stack: "Stack", args: argparse.Namespace, services: list[str]) -> int:
    unknown = [s for s in services if s not in BACKUP_SERVICES]
    if unknown:
        return _fail(f"cannot back up {', '.join(unknown)}: choose from {', '.join(BACKUP_SERVICES)} "
                     f"(or an action: {', '.join(BACKUP_ACTIONS)})")
    stack.check_engine()
    printer = _ProgressPrinter(args.quiet or args.json)
    started = time.monotonic()
    what = ", ".join(services) if services else "all services"
    cancel = threading.Event()
    try:
        # in the try: a backup dir it cannot use is a failed backup in the activity log too
        # (cron's backup failing overnight is what the log is read for in the morning)
        mgr = _manager(stack, args)
        with ctrl_c_cancels(cancel, "backup"):
            bset = mgr.backup(services or None, progress=printer, cancel=cancel)
    except BaseException as exc:
        _record(stack, services, f"backup of {what} {_outcome(exc)}")
        raise
    finally:
        printer.clear()
    if args.json:
        _record(stack, services, f"backup {bset.id} complete ({', '.join(bset.services)})")
        print(json.dumps({**bset.to_dict(), "meta": bset.meta, "tools": bset.tools}, indent=2))
        return 0
    parts = []
    for svc in bset.services:
        size = sum(f.size for f in bset.files_of(svc))
        extra = f" ({bset.meta['minio']['objects']} objects)" if svc == "minio" else ""
        parts.append(f"{svc} {format_bytes(size)}{extra}")
    summary = f"backup {bset.id} complete: {', '.join(parts)} in {time.monotonic() - started:.1f}s"
    _record(stack, services, summary)
    print(summary)
    print(f"  {bset.path}")
    return 0


def cmd_list(stack: "Stack", args: argparse.Namespace) -> int:
    mgr = _manager(stack, args)
    sets = mgr.list()
    if args.json:
        print(json.dumps({"backup_dir": str(mgr.backup_dir), "sets": [s.to_dict() for s in sets]}, indent=2))
        return 0
    if not sets:
        print(f"no backup sets in {mgr.backup_dir}: make one with `liar-tui backup`")
        return 0
    print(f"backup sets in {mgr.backup_dir}")
    print("\n".join(backup_list_lines(sets, stack.project.name, terminal_width())))
    return 0


def backup_list_lines(sets: list[Any], project: str, width: int | None = None) -> list[str]:
    """The sets as a table. `width` (a terminal's): rows that would wrap lose PROJECT when every
    set is this project's, then CREATED (a set's id is its creation time), as the Backups view
    does (QA at 80 columns: every row took two lines)."""
    names = ["SET", "CREATED (UTC)", "SIZE", "SERVICES", "PROJECT", "STATUS"]
    cells = []
    for s in sets:
        created = s.created_at.strftime("%Y-%m-%d %H:%M:%S") if s.created_at else "-"
        status = s.status
        if not s.complete and not s.in_progress:
            status = "incomplete (no manifest)"
        elif s.manifest_id:
            status += f" (copy of {s.manifest_id})"
        cells.append(dict(zip(names, (s.id, created, format_bytes(s.size), ",".join(s.services) or "-", s.project or "-", status))))

    def lines(columns: list[str]) -> list[str]:
        return table_lines([tuple(columns), *(tuple(c[n] for n in columns) for c in cells)])

    out = lines(names)
    if width is not None and max(map(len, out)) > width and all(c["PROJECT"] in (project, "-") for c in cells):
        names.remove("PROJECT")
        out = lines(names)
    if width is not None and max(map(len, out)) > width:
        names.remove("CREATED (UTC)")
        out = lines(names)
    return out


def _print_report(report: VerifyReport) -> None:
    for mark, text in report.check_lines():
        print(f"  {mark:<4}  {text}")
    for problem in report.other_problems():
        print(f"  FAIL  {problem}")


def cmd_verify(stack: "Stack", args: argparse.Namespace) -> int:
    stack.check_engine()
    mgr = _manager(stack, args)
    bset = mgr.get(args.set)
    printer = _ProgressPrinter(getattr(args, "json", False), show_done=False)
    try:
        with ctrl_c_cancels(cancel := threading.Event(), "verify"):
            report = mgr.verify(bset, progress=printer, cancel=cancel)
    finally:
        printer.clear()
    _record(stack, bset.services, f"verify {bset.id}: OK" if report.ok
            else f"verify {bset.id}: {'not finished' if report.unfinished else 'FAILED'} ({'; '.join(report.problems[:3])})")
    if getattr(args, "json", False):
        print(json.dumps({
            "set": bset.id, "ok": report.ok, "unfinished": report.unfinished, "problems": list(report.problems),
            "checks": [{"service": c.service, "ok": c.ok, "summary": c.summary, "details": c.details} for c in report.checks],
        }, indent=2))
        return 0 if report.ok else 1
    print(f"verify {bset.id} ({len(bset.files)} files, {format_bytes(bset.size)})")
    _print_report(report)
    if report.ok:
        print(f"verify {bset.id}: OK in {report.seconds:.1f}s")
        return 0
    if report.unfinished:
        print(f"verify {bset.id}: NOT FINISHED ({report.unchecked_reasons}: content not checked; "
              f"the set is not marked failed): {report.unchecked_fix()}", file=sys.stderr)
        return 1
    print(f"verify {bset.id}: FAILED ({len(report.problems)} problem{'s' if len(report.problems) != 1 else ''})", file=sys.stderr)
    return 1


def cmd_prune(stack: "Stack", args: argparse.Namespace) -> int:
    mgr = _manager(stack, args)
    result = mgr.prune(args.keep)
    if result.removed:
        _record(stack, [], f"prune --keep {args.keep}: removed {', '.join(result.removed)}")
    for name in result.removed:
        print(f"removed {name}" + (" (its last verify failed)" if name in result.bad else ""))
    for name in result.skipped:
        print(f"skipped {name} (a backup is writing it)")
    for svc, ids in result.kept_for:
        print(f"kept for {svc}: {', '.join(ids)}")
    print(f"kept {len(result.kept)} good set(s) (the {args.keep} newest good one{'s' if args.keep != 1 else ''} holding "
          f"each service), removed {len(result.removed)}")
    if result.failed:
        name, why = result.failed[0]
        more = f" (and {len(result.failed) - 1} more)" if len(result.failed) > 1 else ""
        return _fail(f"could not remove {mgr.backup_dir / name}{more}: {why}: check that folder's owner and permissions "
                     f"(a set it could rename reads as incomplete now)", 1)
    return 0


def cmd_restore(stack: "Stack", args: argparse.Namespace) -> int:
    unknown = [s for s in args.services if s not in BACKUP_SERVICES]
    if unknown:
        return _fail(f"cannot restore {', '.join(unknown)}: choose from {', '.join(BACKUP_SERVICES)}")
    interactive = sys.stdin.isatty()
    if not args.yes and not interactive:
        return _fail("restore replaces the stack's data and stdin is not a terminal: add --yes to confirm")
    stack.check_engine()
    stack.check_env()  # before a verify that may take minutes
    mgr = _manager(stack, args)
    # One restore of the project at a time, from before its verify to its end (a second one
    # says who holds it instead of fighting over the same containers).
    with mgr.restore_lock():
        return _restore_locked(stack, args, mgr, interactive)


def _restore_locked(stack: "Stack", args: argparse.Namespace, mgr: "BackupManager", interactive: bool) -> int:
    from .stack.backup import unverified_message
    from .stack.backupset import BackupError

    bset = mgr.get(args.set, restorable=True, services=args.services)
    if not bset.complete:
        raise BackupError(f"backup set {bset.id} is incomplete ({bset.problem}): it cannot be restored")
    services = [s for s in BACKUP_SERVICES if s in args.services] or list(bset.services)
    missing = [s for s in services if s not in bset.services]
    if missing:
        raise BackupError(f"backup set {bset.id} has no {', '.join(missing)} backup (it holds {', '.join(bset.services)})")
    states = stack.states()
    stopped = [s for s in services if not (states.get(s) and states[s].running)]
    if stopped:  # before the verify, whose content check would call a good set "failing" for it
        names = " ".join(stopped)
        return _fail(f"{', '.join(stopped)} not running: a restore loads into the running service; "
                     f"start it with `liar-tui up {names}`", 1)
    printer = _ProgressPrinter(args.quiet, show_done=False)
    if not args.quiet:
        print(f"verifying {bset.id} ...", flush=True)
    with ctrl_c_cancels(cancel := threading.Event(), "verify"):
        report = mgr.verify(bset, progress=printer, services=services, cancel=cancel)
    printer.clear()
    if not report.ok:
        _print_report(report)
        message = unverified_message(bset.id, report)
        _record(stack, services, f"restore {bset.id} refused: {message}")
        return _fail(message, 1)
    if not args.quiet:
        _print_report(report)
    project = stack.project
    if not args.yes:
        other = f" (made from project {bset.project})" if bset.project and bset.project != project.name else ""
        created = bset.created_at.strftime("%Y-%m-%d %H:%M:%S UTC") if bset.created_at else "?"
        try:
            answer = input(
                f"Replace ALL data of {', '.join(services)} in project {project.name} with backup {bset.id} "
                f"({created}){other}? Type the project name to confirm: "
            )
        except EOFError:  # Ctrl-D: end the prompt's line before saying anything
            print(flush=True)
            answer = ""
        if answer.strip() != project.name:
            return _fail("not confirmed: nothing was changed", 1)
    _record(stack, services, f"restore {bset.id} of {', '.join(services)} started")
    try:
        with ctrl_c_cancels(None, "restore"):
            result = mgr.restore(bset, services, progress=printer, verified=report)
    except BaseException as exc:
        _record(stack, services, f"restore {bset.id} {_outcome(exc)}")
        raise
    finally:
        printer.clear()
    _record(stack, services, f"restore {bset.id} done in {result.seconds:.1f}s")
    print(f"restore {bset.id} done in {result.seconds:.1f}s")
    for r in result.services:
        print(f"  {r.summary}")
    return 0


def cmd_shell(stack: "Stack", args: argparse.Namespace) -> int:
    from .stack.activity import record_quietly
    from .stack.shell import SHELL_LABELS, ShellHungUp, hung_up_note, run_shell

    stack.check_engine()
    state = stack.states().get(args.service)
    if state is None or not state.running:
        word = state.status_word if state is not None else "missing"
        return _fail(f"{args.service} is not running ({word}): start it with `liar-tui up`", 1)
    label = SHELL_LABELS[args.service]
    _record(stack, [args.service], f"{label} opened ({'interactive' if sys.stdin.isatty() else 'fed from stdin'}; liar-tui shell)")
    sys.stdout.flush()
    sys.stderr.flush()
    # liar-tui stays the shell's parent (no exec): when the terminal goes away it ends what the
    # shell left running in the container (see stack/shell.py)
    try:
        return run_shell(stack.project, args.service, tty=sys.stdin.isatty())
    except OSError as exc:
        return _fail(f"cannot run docker: {exc.strerror}: is the docker CLI installed?")
    except ShellHungUp as hup:
        record_quietly(stack.project, args.service, hung_up_note(label, hup))  # no terminal to warn on
        hup.die()
        return 128 + hup.signum  # pragma: no cover - die() does not return
