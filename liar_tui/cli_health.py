"""Headless deep-health commands and hooks: probes and drift for `status`, bucket bootstrap after
`up`, the activity log of actions, `liar-tui activity` and `liar-tui autoheal`.

Kept apart from cli.py so that file only wires these in. Heavy imports (psycopg, redis, minio)
happen inside the functions: `liar-tui --help` stays fast.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

from .stack.model import SERVICES, ActionResult
from .cli_backup import Terminated

if TYPE_CHECKING:
    from .stack.compose import Stack
    from .stack.drift import DriftInfo
    from .stack.probes import ProbeResult

#: Overall deadline of the probes in `status` (each network step times out after 2 s).
STATUS_PROBE_DEADLINE = 3.0


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("activity", help="print the activity log (actions, state changes, probe alarms, autoheal)")
    p.add_argument("service", nargs="?", choices=SERVICES, metavar="SVC", help="only this service's entries")
    p.add_argument("--grep", default="", metavar="TEXT", help="only entries holding TEXT (any case; kind and service count)")
    p.add_argument("-n", "--lines", type=whole(0), default=50, metavar="N", help="entries from the end (default 50; 0: all), after the filters")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new entries")

    p = sub.add_parser(
        "autoheal",
        help="watch the stack and restart a service that stays unhealthy (foreground; Ctrl-C stops)",
        description="Docker never restarts an unhealthy container. This does, carefully: only a running "
        "service whose healthcheck failed CHECKS times in a row, at most MAX_ATTEMPTS times with a "
        "doubling backoff; healthy and stopped services are never touched. Every step goes to the "
        "activity log, with the state and health changes and (unless --no-probes) the probe alarms, "
        "so a night's watch can be read in the morning.",
    )
    p.add_argument("--checks", type=int, metavar="N", default=3, help="failing healthchecks in a row before a restart, counted once Docker marks the service unhealthy (default 3)")
    p.add_argument("--max-attempts", type=int, metavar="N", default=3, help="restarts per service before giving up (default 3)")
    p.add_argument("--backoff", type=seconds, metavar="SECONDS", default=30.0,
                   help="seconds after a restart before another; doubles each time (default 30)")
    p.add_argument("--max-backoff", type=seconds, metavar="SECONDS", default=600.0, help="longest backoff in seconds (default 600)")
    p.add_argument("--recheck", type=seconds, metavar="SECONDS", default=5.0,
                   help="seconds between re-inspections while a service is unhealthy (default 5)")
    p.add_argument("--stop-timeout", type=int, metavar="SECONDS", default=5,
                   help="seconds between SIGTERM and SIGKILL when restarting (default 5)")
    p.add_argument("--no-probes", dest="probes", action="store_false",
                   help="do not probe the services (no probe alarms in the activity log)")
    p.add_argument("--probe-interval", type=seconds, metavar="SECONDS", default=10.0,
                   help="seconds between probe rounds (default 10)")


def whole(minimum: int) -> Any:
    """An argparse type: a whole number of at least `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is less than {minimum}")
        return value

    return parse


def seconds(text: str) -> float:
    """An argparse type: a positive, finite number of seconds (`--recheck 0` made a busy loop,
    `--backoff nan` printed 'nans doubling')."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


# -- status ------------------------------------------------------------------------------------
def status_extras(
    stack: "Stack", states: dict[str, Any], *, probes: bool = True, drift: bool = True
) -> tuple[dict[str, "ProbeResult"] | None, dict[str, "DriftInfo"] | None]:
    """Probes (parallel, bounded by STATUS_PROBE_DEADLINE) and drift, computed at the same time."""
    probe_results: dict[str, ProbeResult] | None = None
    drift_results: dict[str, DriftInfo] | None = None
    drift_thread = None
    box: dict[str, Any] = {}
    if drift:
        from .stack.drift import detect_drift

        def work() -> None:
            box["drift"] = detect_drift(stack, states)

        drift_thread = threading.Thread(target=work, name="drift", daemon=True)
        drift_thread.start()
    if probes:
        from .stack.probes import run_probes

        probe_results = run_probes(stack.project, states, deadline=STATUS_PROBE_DEADLINE)
    if drift_thread is not None:
        drift_thread.join(25)
        drift_results = box.get("drift")
    return probe_results, drift_results


def probe_lines(probes: dict[str, "ProbeResult"] | None, drift: dict[str, "DriftInfo"] | None) -> list[str]:
    """The lines under the status table: one probe line per service, one drift line per drifted one."""
    lines: list[str] = []
    if probes:
        lines.append("")
        lines.append("PROBE (from the host through the published ports)")
        for name in SERVICES:
            r = probes.get(name)
            if r is not None:
                lines.append(f"  {name:<8}  {r.level:<4}  {r.reason}")
    if drift:
        drifted = [d for d in drift.values() if d.drifted]
        errors = {d.error for d in drift.values() if d.unchecked}
        if drifted or errors:
            lines.append("")
            lines.append("DRIFT (container differs from the compose file / .env)")
            for d in drifted:
                lines.append(f"  {d.service:<8}  {'; '.join(d.reasons)}: {d.fix} to apply (`liar-tui {d.fix} {d.service}`)")
            for e in sorted(errors):
                lines.append(f"  not checked: {e}")
    return lines


# -- activity of actions -------------------------------------------------------------------------
def record_action(stack: "Stack", result: ActionResult) -> None:
    """Write what an action did to the activity log (never fails the action)."""
    from .stack.activity import record_quietly

    warn_unrecorded(record_quietly(stack.project, result.services[0] if len(result.services) == 1 else "", result.summary()))


def warn_unrecorded(error: str) -> None:
    """The command did its work but its activity entry could not be written: say so, once."""
    if error:
        print(f"liar-tui: note: {error}: not recorded there (check that path's owner and permissions)",
              file=sys.stderr, flush=True)


def bootstrap_buckets(stack: "Stack", say: Any, warn: Any, wait: float = 60.0) -> bool:
    """After a successful `up`: create the expected MinIO buckets that are missing, and say so."""
    from .stack.activity import ActivityLog
    from .stack.buckets import ensure_buckets

    log = ActivityLog(stack.project, preload=False)

    def created(name: str) -> None:
        say(f"created bucket {name}")
        log.record("bucket", "minio", f"created bucket {name}")

    report = ensure_buckets(stack.project, wait=wait, on_created=created)
    if not report.ok:
        warn(f"buckets: {report.error}")
        log.record("bucket", "minio", f"could not check the buckets: {report.error}")
    return report.ok


# -- liar-tui activity ---------------------------------------------------------------------------
def cmd_activity(stack: "Stack", args: argparse.Namespace) -> int:
    from .stack.activity import activity_path, entry_matches, follow_entries, read_entries

    path = activity_path(stack.project)
    if path.exists() and not path.is_file():
        print(f"liar-tui: the activity log {stack.project.rel(path)} is not a file: move it aside "
              f"(the next entry starts a new log)", file=sys.stderr)
        return 1
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    service, text = args.service or "", args.grep
    filtered = bool(service or text)
    # up to `size`, then follow from `size`: an entry written meanwhile is printed once
    entries = read_entries(path, None if filtered else (args.lines or None), upto=size)
    if filtered:
        entries = [e for e in entries if entry_matches(e, service, text)]
        if args.lines:
            entries = entries[-args.lines:]
    if not entries and not args.follow:
        if filtered:
            what = " ".join(x for x in (service, f"holding {text!r}" if text else "") if x)
            print(f"no activity entries {'of ' if service else ''}{what} ({stack.project.rel(path)})", file=sys.stderr)
        else:
            print(f"no activity yet ({stack.project.rel(path)})", file=sys.stderr)
        return 0
    try:
        for e in entries:
            print(e.format(), flush=True)
        if args.follow:
            for e in follow_entries(path, offset=size):
                if entry_matches(e, service, text):
                    print(e.format(), flush=True)
    except Terminated:
        raise  # SIGTERM: 143, as every headless command
    except (KeyboardInterrupt, BrokenPipeError):
        pass
    return 0


# -- liar-tui autoheal ---------------------------------------------------------------------------
def cmd_autoheal(stack: "Stack", args: argparse.Namespace) -> int:
    from .stack.activity import ActivityLog, ActivityRecorder, fan_out
    from .stack.autoheal import AutoHealer, AutohealPolicy
    from .stack.monitor import StackMonitor

    stack.check_engine()
    for name in ("checks", "max_attempts", "stop_timeout"):
        if getattr(args, name) < 1:
            print(f"liar-tui: --{name.replace('_', '-')} must be at least 1", file=sys.stderr)
            return 2
    policy = AutohealPolicy(
        checks=args.checks,
        max_attempts=args.max_attempts,
        backoff=args.backoff,
        max_backoff=args.max_backoff,
        recheck=args.recheck,
        stop_timeout=args.stop_timeout,
    )
    log = ActivityLog(stack.project, preload=False)
    log.on_write_error = lambda error: print(
        f"liar-tui: {error}: the watch goes on, but its steps are not saved (check that path's owner and permissions)",
        file=sys.stderr, flush=True)
    log.subscribe(lambda e: print(e.format(), flush=True))
    recorder = ActivityRecorder(log)
    healer = AutoHealer.for_stack(stack, policy=policy, activity=log)
    lost = [False]

    def on_engine(status: Any) -> None:
        # Written to the activity log (and so printed, as every entry is) by the one liar-tui
        # recording this project; said on stderr when that is another one.
        if not recorder.on_engine(status):
            if not status.connected:
                print(f"liar-tui: {status.error}", file=sys.stderr, flush=True)
            elif lost[0]:
                print("liar-tui: the Docker engine answers again: watching on", file=sys.stderr, flush=True)
        lost[0] = not status.connected

    monitor = StackMonitor(
        stack.project.name,
        on_state=fan_out(recorder.on_state, healer.on_state),
        on_engine=on_engine,
        stats=False,
    )
    probes = None
    if args.probes:
        from .stack.probes import ProbeRunner

        # the same probes as the console's Health view; only level changes are written
        probes = ProbeRunner(stack.project, interval=max(1.0, args.probe_interval), states=monitor.states,
                             on_result=recorder.on_probe)
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()  # a watcher stopped by systemd or kill ends cleanly: exit 0, "autoheal off" recorded

    previous = signal.signal(signal.SIGTERM, on_signal)
    log.record("autoheal", "", healer.describe() + f" ({stack.project.name}; Ctrl-C stops)")
    monitor.start()
    healer.start()
    if probes is not None:
        monitor.initial.wait(10)  # probes of services not yet inspected would say "no container"
        probes.start()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if probes is not None:
            probes.stop()
        healer.stop()
        monitor.stop()
        recorder.close()
        signal.signal(signal.SIGTERM, previous)
        log.record("autoheal", "", "autoheal off")
    return 0
