"""Service-aware interactive shells: psql, redis-cli (authenticated), sh.

`shell_command(project, service)` is the argv to hand the terminal to; `run_shell` runs it as a
child (from the CLI's `shell`, and from the console inside Textual's App.suspend()). No secret is
on any command line, ours or the container's:
- psql connects over the container's local socket, which the images trust, as POSTGRES_USER to
  POSTGRES_DB (both read from the container's own environment, not from ours);
- redis-cli gets the password from /run/secrets/redis_password *inside* the container, through
  REDISCLI_AUTH (an environment variable of the redis-cli process only), and keeps no history
  file (REDISCLI_HISTFILE=/dev/null: an `AUTH ...` typed at the prompt must not land on disk).

A shell whose terminal goes away (an SSH connection dropped, the terminal window closed) must not
live on in the container: Docker does not end an exec'd program when its client dies (the
container's pseudo-terminal stays open in the engine), so a psql left like that keeps its
connection, and any transaction it had open, with its locks, for ever. `run_shell` marks the
shell's processes with a token in their environment (LIAR_TUI_SHELL) and, when its client is hung
up or killed, ends the processes carrying that token with SIGHUP, as a terminal's hangup would.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import termios
from types import FrameType

from .model import SERVICES
from .project import Project

#: The environment variable that marks a shell's processes inside the container.
SHELL_MARK = "LIAR_TUI_SHELL"

#: Sent SIGHUP: every process of the container whose environment holds `LIAR_TUI_SHELL=<$1>`
#: (the shell and whatever it started, which inherit its environment). Prints how many. Plain sh
#: and cat only (the images have no pkill); `$(cat environ)` drops the NUL separators, and the
#: token is random, so the match cannot come from a joined pair of variables.
SWEEP_SCRIPT = (
    "n=0; for d in /proc/[0-9]*; do "
    'case "$(cat "$d/environ" 2>/dev/null)" in '
    f'*"{SHELL_MARK}=$1"*) kill -HUP "${{d#/proc/}}" 2>/dev/null && n=$((n+1)) ;; '
    "esac; done; echo \"$n\""
)

#: What runs inside each service's container; `$VAR`s are expanded by the container's sh.
SHELL_PROGRAMS: dict[str, list[str]] = {
    "postgres": ["sh", "-c", 'exec psql -U "$POSTGRES_USER" -d "$POSTGRES_DB"'],
    "redis": [
        "sh",
        "-c",
        'REDISCLI_AUTH="$(cat /run/secrets/redis_password)" || exit 1; export REDISCLI_AUTH; '
        "REDISCLI_HISTFILE=/dev/null; export REDISCLI_HISTFILE; exec redis-cli --no-auth-warning",
    ],
    "nginx": ["sh"],
    "minio": ["sh"],
}

#: What a person calls each shell.
SHELL_LABELS: dict[str, str] = {"postgres": "psql", "redis": "redis-cli", "nginx": "sh", "minio": "sh"}


def compose_prefix(project: Project) -> list[str]:
    """`docker compose` with the project's name, files and env file (as the stack layer uses them)."""
    args = ["docker", "compose", "-p", project.name, "--project-directory", str(project.compose_dir)]
    for f in project.compose_files():
        args += ["-f", str(f)]
    if project.env_file.exists():
        args += ["--env-file", str(project.env_file)]
    return args


def shell_command(project: Project, service: str, *, tty: bool = True, mark: str = "",
                  size: tuple[int, int] | None = None) -> list[str]:
    """The argv of an interactive shell in `service`. `tty=False` (stdin is a pipe or file)
    adds `-T` so scripts can feed it: `echo 'SELECT 1' | liar-tui shell postgres`. `mark` puts
    LIAR_TUI_SHELL=<mark> in the shell's environment (see `run_shell`). `size` (rows, columns):
    the container's terminal is set to it before the program starts (see `sized`)."""
    if service not in SERVICES:
        raise ValueError(f"no service named {service!r}")
    program = SHELL_PROGRAMS[service]
    if service == "postgres" and not tty:
        # a script fed to psql stops at its first error and exits non-zero (psql's default goes on
        # and exits 0, so `... | liar-tui shell postgres` would report success after a failure)
        program = ["sh", "-c", 'exec psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB"']
    if tty and size is not None:
        program = sized(program, *size)
    marked = ["-e", f"{SHELL_MARK}={mark}"] if mark else []
    return [*compose_prefix(project), "exec", *([] if tty else ["-T"]), *marked, service, *program]


def sized(program: list[str], rows: int, columns: int) -> list[str]:
    """`program`, started after the container's terminal is set to rows x columns.

    compose sets the exec's terminal size with a request sent once the exec has started; the
    engine drops it when it comes before the process is registered (moby's known race), and the
    terminal stays 0x0 until the window changes. psql then pages every result, even one row
    (seen once in CI: `(END)` after a one-row SELECT). Set here, the size is right from the
    start; compose's own resizes (and those after a window change) still apply. An image
    without stty keeps compose's behaviour."""
    rows, columns = int(rows), int(columns)
    if rows <= 0 or columns <= 0:
        return program
    return ["sh", "-c", f'stty rows {rows} cols {columns} 2>/dev/null; exec "$@"', "sh", *program]


def terminal_size() -> tuple[int, int] | None:
    """This process's terminal (rows, columns), or None without one."""
    for fd in (1, 0, 2):
        try:
            size = os.get_terminal_size(fd)
        except OSError:
            continue
        return size.lines, size.columns
    return None


class ShellHungUp(Exception):
    """The shell's terminal went away (SIGHUP) or liar-tui was told to end (SIGTERM) while the
    shell ran. Its processes in the container have been sent SIGHUP (`ended` of them). The caller
    notes it, then ends: `die()` ends it as the signal would have (the console instead ends as a
    quit does, finishing a restore first)."""

    def __init__(self, signum: int, ended: int | None) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.ended = ended

    def die(self) -> None:
        signal.signal(self.signum, signal.SIG_DFL)
        os.kill(os.getpid(), self.signum)


def hung_up_note(label: str, hup: ShellHungUp) -> str:
    """The activity log's line for a shell whose terminal went away."""
    name = signal.Signals(hup.signum).name
    if hup.signum == signal.SIGHUP:
        name += " (its terminal went away)"
    if hup.ended is None:
        return f"{label} shell ended by {name}; its processes in the container could not be reached to end them"
    return f"{label} shell ended by {name}; {hup.ended} of its processes in the container ended"


class _Signalled(Exception):
    def __init__(self, signum: int) -> None:
        self.signum = signum


def sweep_shell(project: Project, service: str, mark: str, timeout: float = 10) -> int | None:
    """SIGHUP to the processes of `service`'s container marked with `mark`; how many, or None when
    that could not be done (no engine, container gone: then nothing of the shell is left either).
    Needs no terminal: it runs after a hangup."""
    argv = [*compose_prefix(project), "exec", "-T", service, "sh", "-c", SWEEP_SCRIPT, "sh", mark]
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = done.stdout.strip()
    return int(out) if done.returncode == 0 and out.isdigit() else None


def run_shell(project: Project, service: str, *, tty: bool = True) -> int:
    """Run `service`'s shell on this process's terminal and return its exit code (128+N when its
    client was killed by signal N). Call from the main thread (it sets signal handlers).

    While it runs, SIGHUP and SIGTERM end the client and the shell's processes in the container,
    then raise ShellHungUp. A client killed otherwise has its container processes ended too, and
    the terminal's mode is put back as it was."""
    mark = secrets.token_hex(8)
    argv = shell_command(project, service, tty=tty, mark=mark, size=terminal_size() if tty else None)

    def signalled(signum: int, frame: FrameType | None) -> None:
        raise _Signalled(signum)

    caught = (signal.SIGHUP, signal.SIGTERM)
    mode = _terminal_mode()
    before = {s: signal.signal(s, signalled) for s in caught}
    try:
        code = subprocess.run(argv).returncode  # on _Signalled, run() kills and reaps the client
    except _Signalled as exc:
        for s in caught:  # a hangup often comes twice (the terminal, then sshd): sweep anyway
            signal.signal(s, signal.SIG_IGN)
        raise ShellHungUp(exc.signum, sweep_shell(project, service, mark)) from None
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
        _set_terminal_mode(mode)
    if code < 0:
        sweep_shell(project, service, mark)
        return 128 - code
    return code


def _terminal_mode() -> list | None:
    try:
        return termios.tcgetattr(0)
    except (termios.error, OSError):
        return None  # stdin is not a terminal


def _set_terminal_mode(mode: list | None) -> None:
    """Put the terminal back as it was: a docker client that was killed leaves it raw (no echo,
    Enter not ending a line), and a prompt read after it would never see its line."""
    if mode is None:
        return
    try:
        termios.tcsetattr(0, termios.TCSADRAIN, mode)
    except (termios.error, OSError):
        pass  # the terminal is gone
