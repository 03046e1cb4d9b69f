"""Shared fixtures. `running_stack` is one real, isolated liar-game stack for the whole session."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Started from a script's background job (`cmd &` without job control), the suite inherits
# SIGINT ignored, and so would every liar-tui it starts: the Ctrl-C tests' followers then never
# see their Ctrl-C (a full run started that way failed five of them). Python gives its children
# SIGINT's default again when this process handles it.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "e2e"))

#: `tmux` (a private tmux server per test) for every test that drives the installed console.
pytest_plugins = ["tmuxkit"]

import stackkit  # noqa: E402

from liar_tui.stack.compose import Stack  # noqa: E402
from liar_tui.stack.engine import Engine  # noqa: E402
from liar_tui.stack.errors import StackError  # noqa: E402
from liar_tui.stack.project import Project  # noqa: E402


@pytest.fixture(scope="session")
def engine_ready() -> None:
    """Fail (not skip) without an engine or images: these tests exist to run the real thing."""
    try:
        Engine(timeout=5).ping()
    except StackError as exc:
        pytest.fail(f"tests need a running Docker engine: {exc}")
    missing = stackkit.missing_images()
    if missing:
        pytest.fail(f"images missing: {', '.join(missing)}: run `bash compose/images/build.sh` (or `liar-tui setup`)")


@pytest.fixture(scope="session")
def api_port() -> int:
    """The port of the stand-in host API nginx proxies to (see tests/stack/test_nginx.py)."""
    return stackkit.free_port()


@pytest.fixture(scope="session")
def running_stack(engine_ready: None, tmp_path_factory: pytest.TempPathFactory, api_port: int) -> Iterator[Project]:
    """One healthy stack under its own project name, ports and data folder; removed afterwards."""
    root = tmp_path_factory.mktemp("stack")
    project = stackkit.make_project(root, api_port=api_port)
    stackkit.destroy(project)
    result = Stack(project).up(wait=True, wait_timeout=240)
    try:
        assert result.ok, result.message
        stackkit.wait_all_healthy(project)
        yield project
    finally:
        stackkit.destroy(project)
