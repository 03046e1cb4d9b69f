"""Headless commands: `liar-tui up|down|status|restart|stop|start|recreate|logs|setup`.

Every failure the user can fix prints one line (`liar-tui: ...`) and exits non-zero; no traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import queue
import re
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import __version__, cli_backup, cli_health
from .stack.engineapi import APIError
from .stack.errors import StackError
from .stack.model import SERVICES, ActionResult, ProgressEvent, ServiceState, format_duration
from .stack.project import DEFAULT_PROJECT_NAME, Project, discover
from .term import table_lines, terminal_width

if TYPE_CHECKING:  # python-on-whales (pydantic) costs ~200 ms: the console imports it on first use
    from .stack.compose import Stack


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="liar-tui",
        description="Terminal console for the liar-game Docker Compose stack (PostgreSQL, Redis, Nginx, MinIO). "
        "With no command it opens the console.",
    )
    parser.add_argument("--version", action="version", version=f"liar-tui {__version__}")
    parser.add_argument("--project-dir", metavar="DIR", help="the liar-game checkout (holds compose/ and nginx/)")
    parser.add_argument("--project-name", metavar="NAME", help="compose project name (default liar-game)")
    console = parser.add_argument_group("console options (liar-tui with no command)")
    console.add_argument("--no-up", dest="up", action="store_const", const=False, default=None,
                         help="do not bring the stack up on launch (just watch it)")
    console.add_argument("--no-mouse", dest="mouse", action="store_const", const=False, default=None,
                         help="do not capture the mouse (plain terminal selection, e.g. over SSH)")
    console.add_argument("--refresh", type=float, metavar="SECONDS", default=None,
                         help="seconds between pane repaints (default 1; state changes show at once)")
    console.add_argument("--log-lines", dest="log_lines", type=int, metavar="N", default=None,
                         help="lines kept in the log buffer (default 5000)")
    console.add_argument("--log-tail", dest="log_tail", type=int, metavar="N", default=None,
                         help="lines of backlog fetched when a log opens (default 200; b changes it in the console)")
    console.add_argument("--theme", metavar="NAME", default=None, help="Textual theme (default textual-dark)")
    console.add_argument("--keys", metavar="ID=KEY;...", default=None,
                         help="remap keys by binding id, e.g. 'service.restart=ctrl+r;stack.down=X' (? lists the ids)")
    console.add_argument("--autoheal", dest="autoheal", action="store_const", const=True, default=None,
                         help="start with autoheal on (restart a service that stays unhealthy; ctrl+a toggles it)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # `liar-tui status --project-dir X` works as well as `liar-tui --project-dir X status`: every
    # subcommand also takes the two project options (SUPPRESS: given before, they are not reset).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--project-dir", metavar="DIR", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    common.add_argument("--project-name", metavar="NAME", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    add_parser = sub.add_parser

    def add_parser_with_common(*a: Any, **kw: Any) -> argparse.ArgumentParser:
        return add_parser(*a, parents=[common, *kw.pop("parents", [])], **kw)

    sub.add_parser = add_parser_with_common  # type: ignore[method-assign]

    # cron: an action meeting another liar-tui's (a console's up, another job) waits instead of failing
    turn = argparse.ArgumentParser(add_help=False)
    turn.add_argument("--wait-turn", dest="wait_turn", type=cli_health.whole(0), metavar="SECONDS", default=None,
                      help="when another liar-tui runs compose on the stack, wait up to SECONDS for it "
                           "(default: refuse after a second)")

    p = sub.add_parser("up", help="create and start the stack", parents=[turn])
    p.add_argument("services", nargs="*", metavar="SVC")
    p.add_argument("--wait", action="store_true", help="wait until every service is healthy")
    p.add_argument("--timeout", type=cli_health.whole(1), default=300, help="seconds --wait waits (default 300)")

    p = sub.add_parser("down", help="stop and remove the containers (data kept)", parents=[turn])
    p.add_argument("--volumes", action="store_true", help="also delete the data in docker/volumes/")
    p.add_argument("--yes", action="store_true", help="do not ask before deleting data")

    p = sub.add_parser("status", help="state and health of each service, probes and drift")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--no-probes", dest="probes", action="store_false",
                   help="skip the service probes (no connection to the services)")
    p.add_argument("--no-drift", dest="drift", action="store_false",
                   help="skip the drift check against the compose file and .env")
    p.add_argument("--check", action="store_true",
                   help="exit 1 when a service is not running and healthy or a probe fails (for cron and monitoring)")

    for name, text in (
        ("restart", "restart a service"),
        ("stop", "stop a service"),
        ("start", "start a stopped service"),
        ("recreate", "recreate a service's container (picks up compose file and .env changes)"),
    ):
        p = sub.add_parser(name, help=text, parents=[turn])
        p.add_argument("service", metavar="SVC", choices=SERVICES)

    p = sub.add_parser("logs", help="print the services' logs (all interleaved, or the ones named)")
    p.add_argument("services", nargs="*", metavar="SVC", help="only these (default: every service, each line prefixed with its name)")
    p.add_argument("-f", "--follow", action="store_true", help="keep following")
    p.add_argument("-n", "--tail", type=cli_health.whole(0), default=200, help="lines from the end of each log (default 200)")
    p.add_argument("-t", "--timestamps", action="store_true")

    cli_health.add_parsers(sub)

    sub.add_parser("setup", help="prepare this host: engine, compose plugin, .env, offline images")
    cli_backup.register(sub)
    return parser


def _say(text: str) -> None:
    print(text, flush=True)


def _fail(message: str, code: int = 2) -> int:
    print(f"liar-tui: {message}", file=sys.stderr, flush=True)
    return code


def _health(state: ServiceState) -> str:
    if not state.running:
        return "-"
    if state.health.status == "none":
        return "no check"
    if state.health.status == "unhealthy":
        return f"unhealthy ({state.health.failing_streak} failing)"
    return state.health.status


def format_status_table(
    project: Project,
    states: dict[str, ServiceState],
    now: datetime | None = None,
    probes: dict | None = None,
    drift: dict | None = None,
    width: int | None = None,
) -> str:
    """The status table; with `probes`/`drift` (cli_health.status_extras) a DRIFT column and a
    probe line per service below it. `width` (a terminal's, not a pipe's): rows that would wrap
    lose the IMAGE column (the console and --json have it) and say a drift's fix in one word (the
    DRIFT lines below give the reason), then ports lose their shared bind address (named once
    above); the lines below wrap under their text (QA at 80 columns)."""
    now = now or datetime.now(timezone.utc)
    sts = [states.get(name, ServiceState(service=name)) for name in SERVICES]
    addresses = {p.host_ip for st in sts for p in st.ports}

    def rows(image: bool, address: bool) -> list[tuple[str, ...]]:
        head = ["SERVICE", "STATE", "HEALTH", "UPTIME", "RESTARTS", "PORTS"] + (["IMAGE"] if image else [])
        out = [tuple(head + (["DRIFT"] if drift else []))]
        for st in sts:
            cells = [
                st.service,
                st.state if st.state != "exited" else f"exited ({st.exit_code})",
                _health(st),
                format_duration(st.uptime_seconds(now)),
                str(st.restart_count),
                ", ".join(f"{p.host_ip}:{p.host_port}->{p.container_port}" if address else f"{p.host_port}->{p.container_port}"
                          for p in st.ports) or "-",
            ] + ([st.image or "-"] if image else [])
            if drift:
                info = drift.get(st.service)
                fix = info.fix if info and info.drifted else ""
                cells.append(("-" if not fix else fix) if not image else (f"yes: {fix} to apply" if fix else "-"))
            out.append(tuple(cells))
        return out

    header = f"project {project.name} ({project.root})"
    lines = table_lines(rows(True, True))
    if width is not None and max(map(len, lines)) > width:
        lines = table_lines(rows(False, True))
        if max(map(len, lines)) > width and len(addresses) == 1:
            header += f", ports on {next(iter(addresses))}"
            lines = table_lines(rows(False, False))
    extra = cli_health.probe_lines(probes, drift)
    if width is not None:
        extra = [wrapped for line in extra for wrapped in _wrap_under(line, width)]
    return "\n".join([header, *lines, *extra])


def _wrap_under(line: str, width: int) -> list[str]:
    """A probe or drift line (`  name  level  text`) wrapped at `width`, continuing under its text."""
    if len(line) <= width or not line.startswith("  "):
        return [line]
    lead = _LINE_LEAD.match(line)
    indent = len(lead.group(0)) if lead else 4
    indent = indent if indent < width // 2 else 4
    return textwrap.wrap(line, width, subsequent_indent=" " * indent, break_on_hyphens=False) or [line]


# '  postgres  ok    ' (a probe line), '  redis     ' (a drift line): where the text starts
_LINE_LEAD = re.compile(rf"  (?:{'|'.join(SERVICES)}) +(?:(?:ok|warn|fail) +)?")


def status_json(stack: Stack, states: dict[str, ServiceState], probes: dict | None = None, drift: dict | None = None) -> dict:
    info = stack.engine.info()
    now = datetime.now(timezone.utc)
    redact = stack.project.redactor()
    services = []
    for name in SERVICES:
        data = states.get(name, ServiceState(service=name)).to_dict(now)
        for entry in data["health_log"]:
            entry["output"] = redact(entry["output"])
        if probes is not None and name in probes:
            data["probe"] = probes[name].to_dict()
        if drift is not None and name in drift:
            data["drift"] = drift[name].drifted
            data["drift_detail"] = drift[name].to_dict()
        services.append(data)
    return {
        "project": stack.project.name,
        "project_dir": str(stack.project.root),
        "engine": {"address": info.address, "version": info.version},
        "healthy": all(s["state"] == "running" and s["health"] in ("healthy", "none") for s in services),
        # the worst probe level (ok/warn/fail): Docker's "healthy" above can hide a failing probe
        "probe_level": _worst_level(probes),
        "services": services,
    }


def _worst_level(probes: dict[str, Any] | None) -> str | None:
    worst = None
    for result in (probes or {}).values():
        if result.worse_than(worst):
            worst = result
    return worst.level if worst is not None else None


def _print_result(result: ActionResult) -> int:
    if result.ok:
        _say(result.summary())
        return 0
    return _fail(result.summary(), result.exit_code)


def _progress(event: ProgressEvent) -> None:
    text = f"  {event.resource}  {event.status}".rstrip()
    if event.text and event.text != event.status:
        text += f"  {event.text}"
    print(text, flush=True)


def wait_turn(stack: Stack, seconds: int | None) -> None:
    """--wait-turn: how long the action waits for another liar-tui's compose to finish; without
    it a refusal names the option."""
    if seconds is None:
        stack.busy_hint = "; or let it wait: --wait-turn SECONDS"
        return
    stack.turn_wait = float(seconds)
    stack.on_turn_wait = lambda why: _say(f"waiting for its turn (up to {seconds}s): {why}")


def cmd_up(stack: Stack, args: argparse.Namespace) -> int:
    stack.validate_services(args.services)
    stack.preflight(ports=True, services=args.services or None)
    _say(f"starting {stack.project.name} from {stack.project.rel(stack.project.compose_file)}")
    with _recorded_if_interrupted(stack, "up", args.services):
        result = stack.up(args.services, wait=args.wait, wait_timeout=args.timeout if args.wait else None, on_progress=_progress)
    if not result.ok and args.wait and "not healthy after" in result.message:
        # compose's "application not healthy after 2s" names neither the service nor a fix
        states = stack.states()
        slow = [s for s in (args.services or SERVICES) if s in states and states[s].health.status not in ("healthy", "")]
        if slow:
            result = dataclasses.replace(result, message=(
                f"{result.message}: not healthy yet: {', '.join(f'{s} ({states[s].health.status})' for s in slow)}; "
                f"`liar-tui status` shows why, or wait longer with --timeout"))
    cli_health.record_action(stack, result)
    code = _print_result(result)
    if result.ok and (not args.services or "minio" in args.services):
        cli_health.bootstrap_buckets(stack, _say, lambda text: print(f"liar-tui: {text}", file=sys.stderr, flush=True))
    print(format_status_table(stack.project, stack.states(), width=terminal_width()), flush=True)
    return code


def cmd_down(stack: Stack, args: argparse.Namespace) -> int:
    stack.preflight(env=False)
    if args.volumes and not args.yes:
        if not sys.stdin.isatty():
            return _fail("down --volumes deletes all data in docker/volumes/: add --yes to confirm when not on a terminal")
        try:
            answer = input(f"Delete all data of {stack.project.name} in {stack.project.data_dir}? Type the project name to confirm: ")
        except EOFError:
            answer = ""
            print()
        if answer.strip() != stack.project.name:
            return _fail("not confirmed: nothing was removed", 1)
    with _recorded_if_interrupted(stack, "down (data deleted)" if args.volumes else "down", []):
        result = stack.down(volumes=args.volumes)
    cli_health.record_action(stack, result)
    return _print_result(result)


def cmd_status(stack: Stack, args: argparse.Namespace) -> int:
    stack.check_engine()
    states = stack.states()
    probes, drift = cli_health.status_extras(
        stack, states, probes=getattr(args, "probes", True), drift=getattr(args, "drift", True)
    )
    elsewhere = stack.made_elsewhere(states)
    if args.json:
        data = status_json(stack, states, probes, drift)
        data["made_elsewhere"] = str(elsewhere) if elsewhere is not None else None
        print(json.dumps(data, indent=2))
    else:
        print(format_status_table(stack.project, states, probes=probes, drift=drift, width=terminal_width()))
        if elsewhere is not None:
            print(f"note: {stack.project.elsewhere_message(elsewhere)}", flush=True)
    if getattr(args, "check", False):
        bad = status_problems(states, probes)
        if bad:
            return _fail(f"not healthy: {'; '.join(bad)}", 1)
    return 0


def status_problems(states: dict[str, ServiceState], probes: dict | None) -> list[str]:
    """What `status --check` fails on: a service not running and healthy, or a failing probe."""
    bad = []
    for name in SERVICES:
        st = states.get(name, ServiceState(service=name))
        if not st.running or st.health.status not in ("healthy", "none"):
            bad.append(f"{name} {st.status_word}")
        elif probes is not None and name in probes and probes[name].level == "fail":
            reason = probes[name].reason
            bad.append(f"{name} probe: {reason if len(reason) <= 150 else reason[:149] + '…'}")
    return bad


def cmd_service_action(stack: Stack, args: argparse.Namespace) -> int:
    # the action checks its own ports (stack.start, restart, recreate); stopping needs no .env
    stack.preflight(env=args.command != "stop")
    with _recorded_if_interrupted(stack, args.command, [args.service]):
        result = getattr(stack, args.command)(args.service)
    cli_health.record_action(stack, result)
    return _print_result(result)


@contextlib.contextmanager
def _recorded_if_interrupted(stack: Stack, action: str, services: Sequence[str]) -> Iterator[None]:
    """Ctrl-C or SIGTERM during an action: the activity log says it was cut short (it said
    nothing, and a log read in the morning showed no trace of a half-done up)."""
    started = time.monotonic()
    try:
        yield
    except KeyboardInterrupt as exc:
        how = "SIGTERM" if isinstance(exc, cli_backup.Terminated) else "Ctrl-C"
        seconds = time.monotonic() - started
        cli_health.record_action(stack, ActionResult(
            action, tuple(services), False, f"interrupted by {how} after {seconds:.1f}s; run it again", seconds))
        raise


def cmd_logs(stack: Stack, args: argparse.Namespace) -> int:
    stack.validate_services(args.services)
    stack.check_engine()
    states = stack.states()
    wanted = list(dict.fromkeys(args.services)) or list(SERVICES)
    present = [s for s in wanted if states.get(s) is not None and states[s].container_id]
    if not present:
        which = wanted[0] if len(wanted) == 1 else "no service"
        return _fail(f"{which} has no container: start the stack with `liar-tui up`", 1)
    for missing in (s for s in wanted if s not in present):
        print(f"liar-tui: {missing} has no container: not in this log", file=sys.stderr, flush=True)
    from .stack.logs import LogNotice, service_log

    prefixed = len(wanted) > 1  # as `docker compose logs`: every line says whose it is
    width = max(map(len, present))
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")

    def label(service: str) -> str:
        if not prefixed:
            return ""
        text = f"{service:<{width}} | "
        return f"\033[{LOG_COLOURS.get(service, 0)}m{text}\033[0m" if colour else text

    def lines(service: str, batch: list[tuple[str, str]]) -> str:
        head = label(service)
        return "".join(f"{head}{ts} {text}\n" if args.timestamps and ts else f"{head}{text}\n" for ts, text in batch)

    redact = stack.project.redactor()
    logs = {s: service_log(stack.engine, stack.project.name, s, states[s].container_id, tail=args.tail,
                           follow=args.follow, redact=redact, started_at=states[s].started_at) for s in present}
    try:
        if len(logs) == 1 or args.follow:
            _print_logs_as_they_come(logs, lines)
        else:
            # Each service's last lines, merged by the engine's timestamps (compose prints them
            # container after container).
            merged = sorted(((ts, i, s, text) for i, (s, log) in enumerate(logs.items())
                             for batch in log if not isinstance(batch, LogNotice) for ts, text in batch),
                            key=lambda row: (row[0], row[1]))
            sys.stdout.write("".join(lines(s, [(ts, text)]) for ts, _i, s, text in merged))
            sys.stdout.flush()
    except cli_backup.Terminated:
        raise  # SIGTERM ends a follower with 143 (Ctrl-C with 0, as before)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        return 0
    finally:
        if len(logs) == 1 or not args.follow:
            for log in logs.values():
                log.close()  # closes the stream it was reading
    return 0


#: ANSI colours of the services' names in `liar-tui logs` (the console's: bright blue, red, green, magenta)
LOG_COLOURS = {"postgres": 94, "redis": 91, "nginx": 92, "minio": 95}


def _print_logs_as_they_come(logs: dict[str, Any], lines: Callable[[str, list[tuple[str, str]]], str]) -> None:
    """Each log's batches as they come; several followed at once are read by a thread each (a
    daemon: a stream blocked on an idle service ends with the process) into one bounded queue."""
    from .stack.logs import LogNotice

    def emit(service: str, item: Any) -> None:
        if isinstance(item, LogNotice):
            print(f"liar-tui: {item.text}", file=sys.stderr, flush=True)  # stdout stays the log
        else:
            sys.stdout.write(lines(service, item))
            sys.stdout.flush()

    if len(logs) == 1:
        (service, log), = logs.items()
        for item in log:
            emit(service, item)
        return
    items: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=64)
    done = object()

    def read(service: str, log: Any) -> None:
        try:
            for item in log:
                items.put((service, item))
        except Exception as exc:  # noqa: BLE001 - the engine went away: ends the command as with one log
            items.put((service, exc))
        items.put((service, done))

    for service, log in logs.items():
        threading.Thread(target=read, args=(service, log), name=f"logs-{service}", daemon=True).start()
    running = len(logs)
    while running:
        try:
            service, item = items.get(timeout=0.5)  # wakes for Ctrl-C and SIGTERM
        except queue.Empty:
            continue
        if item is done:
            running -= 1
        elif isinstance(item, Exception):
            raise item  # one line naming the fix (cli._main), as a single followed log says it
        else:
            emit(service, item)


def cmd_setup(project: Project, args: argparse.Namespace) -> int:
    from .stack.hostsetup import setup_host

    setup_host(project, _say)
    named = f" --project-name {project.name}" if project.name != DEFAULT_PROJECT_NAME else ""
    _say(f"ready: start the stack with `liar-tui --project-dir {project.root}{named} up --wait`")
    return 0


@contextlib.contextmanager
def _term_as_interrupt(headless: bool) -> Iterator[None]:
    """SIGTERM (`timeout`, cron, systemd stopping a job) ends a headless command the way Ctrl-C
    does: a backup is cancelled and keeps nothing, instead of dying with a partial set left."""
    if not headless or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum: int, frame: object) -> None:
        raise cli_backup.Terminated

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with _term_as_interrupt(args.command is not None):
        return _main(args)


def _main(args: argparse.Namespace) -> int:
    try:
        project = discover(args.project_dir, args.project_name)
        if args.command == "setup":
            return cmd_setup(project, args)
        if args.command is None:
            return open_console(project, args)
        from .stack.compose import Stack

        stack = Stack(project)
        if hasattr(args, "wait_turn"):
            wait_turn(stack, args.wait_turn)
        if args.command in cli_backup.COMMANDS:
            return cli_backup.handle(stack, args)
        handlers = {
            "up": cmd_up,
            "down": cmd_down,
            "status": cmd_status,
            "restart": cmd_service_action,
            "stop": cmd_service_action,
            "start": cmd_service_action,
            "recreate": cmd_service_action,
            "logs": cmd_logs,
            "activity": cli_health.cmd_activity,
            "autoheal": cli_health.cmd_autoheal,
        }
        return handlers[args.command](stack, args)
    except StackError as exc:
        return _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt as exc:
        if isinstance(exc, cli_backup.Terminated):
            return _fail("terminated (SIGTERM)", 143)
        return _fail("interrupted", 130)
    except BrokenPipeError:
        # the reader went away (`liar-tui status | head -1`, `| grep -q`): nothing more to say
        _quiet_stdout()
        return 0
    except APIError as exc:
        # The engine refused a request (a container removed meanwhile, a name in use): its words.
        return _fail(f"the Docker engine refused: {exc.explanation} (try again; `liar-tui status` shows the stack now)", 1)
    except (ConnectionError, TimeoutError) as exc:
        # the engine went away in the middle of a command: why, and what to do
        from .stack.engine import explain_connection_error

        return _fail(explain_connection_error(exc), 1)
    except OSError as exc:
        # e.g. a folder this user may not write: one line naming it, not a traceback
        where = f" ({exc.filename})" if exc.filename else ""
        return _fail(f"{exc.strerror or exc}{where}: check that folder's owner and permissions (or run with sudo)", 1)


def open_console(project: Project, args: argparse.Namespace) -> int:
    """The Textual console on the stack. Settings: flags > LIAR_TUI_* > config file > defaults."""

    from .config import load_settings

    # Exported COLUMNS/LINES would override the real terminal size (Textual asks
    # shutil.get_terminal_size), drawing a 200x50 screen into an 80x24 terminal.
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)
    # Textual paints a requested refresh at its next frame tick: at 60 per second a key's effect
    # waits up to 17 ms for it, at 120 up to 8 (measured during log bursts: key median 40 -> 32 ms).
    # Frames are only drawn when something changed, so idle costs the same.
    os.environ.setdefault("TEXTUAL_FPS", "120")

    settings = load_settings(
        {name: getattr(args, name, None)
         for name in ("up", "mouse", "refresh", "log_lines", "log_tail", "theme", "autoheal", "keys")}
    )
    if settings.keys:  # only then: the screens' bindings load before the first frame
        from .config import ConfigError, check_key_ids
        from .ui.keys import check_keymap, known_binding_ids

        check_key_ids(settings.keys, known_binding_ids())
        problem = check_keymap(settings.keys)
        if problem:
            raise ConfigError(problem)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        # QA: `liar-tui | cat` painted frames into the pipe without end (65k lines in 10 s)
        which = "input" if not sys.stdin.isatty() else "output"
        return _fail(f"the console needs a terminal and its {which} is not one: run liar-tui in a terminal "
                     "(over SSH: ssh -t); scripts use `liar-tui status [--json]`", 2)
    from .ui.heap import limit_malloc_arenas

    limit_malloc_arenas()  # before the monitor's threads start
    # Start following the engine now: its state arrives while Textual is being imported (~150 ms).
    # The monitor's state also feeds the activity log and the (opt-in) autohealer: see ui/wiring.py.
    from .ui.wiring import ConsoleWiring

    wiring = ConsoleWiring(project, settings)
    monitor = wiring.make_monitor().start()
    # The engine answers long before Textual has loaded: draw that answer at once (ui/prepaint.py).
    from .ui.prepaint import PrePaint

    prepaint = PrePaint.for_terminal(monitor, project.name)
    if prepaint is not None:
        prepaint.start()
    from .ui.app import LiarApp

    painted = prepaint is not None and prepaint.handover()
    try:
        if painted and prepaint is not None:
            driver_class = prepaint.driver_class()
        else:
            from .ui.driver import QuietInputDriver as driver_class
        app = LiarApp(project, settings, wiring=wiring, driver_class=driver_class)
        try:
            app.run(mouse=settings.mouse)
        finally:
            app.cleanup()
    finally:
        if prepaint is not None:
            prepaint.restore()
    return app.return_code or 0


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush does not fail on a closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def exit_with(code: int) -> None:
    """Exit; a Ctrl-C arriving while the interpreter shuts down ends it without a traceback."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(code)


def run() -> None:
    """Console-script entry point."""
    exit_with(main())
