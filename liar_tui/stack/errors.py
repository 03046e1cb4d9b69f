"""Errors that name their fix: one line for a person, no traceback."""

from __future__ import annotations


class StackError(Exception):
    """A problem the user can fix; str() is a single line saying what is wrong and what to do."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class EngineMissing(StackError):
    """The docker CLI / engine is not installed."""


class EngineUnreachable(StackError):
    """The engine is installed but not answering."""


class EngineLost(EngineUnreachable):
    """The engine went away while a command was using it (a followed log)."""

    exit_code = 1


class ComposeMissing(StackError):
    """`docker compose` (v2 plugin) is not available."""


class EnvFileMissing(StackError):
    """compose/.env does not exist."""


class PortInUse(StackError):
    """A host port the stack publishes is taken by something else."""


class NoContainer(StackError):
    """An action on a service whose container does not exist (never created, or removed by down)."""

    exit_code = 1  # as an action that finds it while running (restart, recreate...) exits


class InvalidComposeFile(StackError):
    """compose rejected the compose file."""


class BadBindAddress(StackError):
    """BIND_ADDRESS is not an address of this host."""


class SecretMissing(StackError):
    """A compose secret's variable is not set in .env."""


class ProjectElsewhere(StackError):
    """The project name's containers were made from another copy of the project."""

    exit_code = 1  # the actions (up, restart...) report it as their failure; backup and restore too


class ComposeBusy(StackError):
    """Another liar-tui runs compose on the same services (or the whole stack), or a restore runs."""

    exit_code = 1


class ProjectNotFound(StackError):
    """No compose/docker-compose.yml where we looked."""


class UnknownService(StackError):
    """A service name that is not in the stack."""
