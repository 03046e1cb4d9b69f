"""Service-aware interactive shells: psql, redis-cli (authenticated), sh.

`shell_command(project, service)` is the argv to hand the terminal to (os.execvp from the CLI,
subprocess inside Textual's App.suspend() from the console). No secret is on any command line,
ours or the container's:
- psql connects over the container's local socket, which the images trust, as POSTGRES_USER to
  POSTGRES_DB (both read from the container's own environment, not from ours);
- redis-cli gets the password from /run/secrets/redis_password *inside* the container, through
  REDISCLI_AUTH (an environment variable of the redis-cli process only), and keeps no history
  file (REDISCLI_HISTFILE=/dev/null: an `AUTH ...` typed at the prompt must not land on disk).
"""

from __future__ import annotations

from .model import SERVICES
from .project import Project

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


def shell_command(project: Project, service: str, *, tty: bool = True) -> list[str]:
    """The argv of an interactive shell in `service`. `tty=False` (stdin is a pipe or file)
    adds `-T` so scripts can feed it: `echo 'SELECT 1' | liar-tui shell postgres`."""
    if service not in SERVICES:
        raise ValueError(f"no service named {service!r}")
    program = SHELL_PROGRAMS[service]
    if service == "postgres" and not tty:
        # a script fed to psql stops at its first error and exits non-zero (psql's default goes on
        # and exits 0, so `... | liar-tui shell postgres` would report success after a failure)
        program = ["sh", "-c", 'exec psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB"']
    return [*compose_prefix(project), "exec", *([] if tty else ["-T"]), service, *program]
