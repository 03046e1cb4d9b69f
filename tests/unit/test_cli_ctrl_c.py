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
