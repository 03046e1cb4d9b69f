"""Ctrl-C in the headless backup commands: a flag first (the job cleans up), an interrupt second."""

from __future__ import annotations

import signal
import threading

import pytest

from liar_tui.cli_backup import ctrl_c_cancels


def test_first_ctrl_c_cancels_the_job_second_interrupts(capfd: pytest.CaptureFixture[str]) -> None:
    before = signal.getsignal(signal.SIGINT)
    cancel = threading.Event()
    with ctrl_c_cancels(cancel, "backup"):
        signal.raise_signal(signal.SIGINT)
        assert cancel.is_set()
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before
    assert "cancelling the backup (Ctrl-C again to stop at once)" in capfd.readouterr().err


def test_a_restore_is_not_stopped_half_way_by_one_ctrl_c(capfd: pytest.CaptureFixture[str]) -> None:
    with ctrl_c_cancels(None, "restore"):
        signal.raise_signal(signal.SIGINT)  # no exception: the restore goes on
        err = capfd.readouterr().err
        assert "the restore goes on" in err and "Ctrl-C again to stop anyway" in err
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)


def test_sigterm_ends_any_headless_command_with_143(tmp_path: object) -> None:
    """`timeout 5 liar-tui status` against an engine that never answers: SIGTERM ends it the way
    Ctrl-C would, but the status says SIGTERM (143, as `timeout` and systemd expect), not 130."""
    import os
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(tmp_path) / "p"
    (root / "compose").mkdir(parents=True)
    repo = Path(__file__).resolve().parents[2]
    (root / "compose" / "docker-compose.yml").write_text((repo / "compose" / "docker-compose.yml").read_text())
    sock_path = str(Path(tmp_path) / "silent.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(sock_path)
    server.listen()  # accepts, never answers
    try:
        proc = subprocess.Popen([sys.executable, "-m", "liar_tui", "--project-dir", str(root), "status"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "DOCKER_HOST": f"unix://{sock_path}"})
        server.settimeout(30)
        conn, _ = server.accept()  # the CLI asks the engine: it is past its start, handlers set
        time.sleep(0.5)  # well inside the engine client's 10 s timeout
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        conn.close()
        assert proc.returncode == 143, (proc.returncode, err)
        assert err.strip() == "liar-tui: terminated (SIGTERM)", err
    finally:
        server.close()


def test_sigterm_ends_a_log_follower_with_143(tmp_path: object) -> None:
    """`timeout -s TERM 2 liar-tui activity -f`: a follower ended by SIGTERM says so (it exited 0
    as if the reader had finished); Ctrl-C still ends it quietly with 0."""
    import os
    import select
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(tmp_path) / "p"
    (root / "compose").mkdir(parents=True)
    repo = Path(__file__).resolve().parents[2]
    (root / "compose" / "docker-compose.yml").write_text((repo / "compose" / "docker-compose.yml").read_text())
    from liar_tui.stack.activity import ActivityLog
    from liar_tui.stack.project import Project

    ActivityLog(Project(root)).record("note", "", "follower marker")
    for sig, code in ((signal.SIGTERM, 143), (signal.SIGINT, 0)):
        proc = subprocess.Popen([sys.executable, "-m", "liar_tui", "--project-dir", str(root), "activity", "-n", "1", "-f"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        ready, _, _ = select.select([proc.stdout], [], [], 30)  # (no hang if it never prints)
        assert ready and "follower marker" in proc.stdout.readline()  # type: ignore[union-attr]  # following now
        time.sleep(0.3)
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=20)
        assert proc.returncode == code, (sig, proc.returncode, err)
