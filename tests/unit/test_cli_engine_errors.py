"""An engine error in the middle of a headless command: one line with the engine's own words, no
traceback (the engine refusing a request, or going away)."""

from __future__ import annotations

from pathlib import Path

import pytest

from liar_tui import cli
from liar_tui.stack.engineapi import APIError


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    (tmp_path / "compose").mkdir()
    (tmp_path / "compose" / "docker-compose.yml").write_text("services: {}\n")
    return tmp_path


@pytest.mark.parametrize("exc, words", [
    (APIError(409, "Container 3f2a is paused, unpause the container before exec"), "the Docker engine refused: Container 3f2a is paused"),
    (ConnectionResetError(104, "Connection reset by peer"), "dropped the connection mid-command: run the command again"),
])
def test_engine_errors_during_a_command_are_one_line(monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
                                                     project_dir: Path, exc: BaseException, words: str) -> None:
    def fail(*_: object) -> int:
        raise exc

    # an engine socket that exists, whatever this machine runs: with none, the dropped connection
    # is rightly told as the engine not running (this test failed on a machine with no engine)
    import socket

    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(project_dir / "engine.sock"))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{project_dir / 'engine.sock'}")
    monkeypatch.setattr(cli, "cmd_status", fail)
    try:
        code = cli.main(["--project-dir", str(project_dir), "status"])
    finally:
        sock.close()
    err = capfd.readouterr().err
    assert code == 1
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("liar-tui: ") and words in err, err
