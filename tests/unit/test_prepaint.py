"""The pre-paint: the engine's answer drawn before Textual has loaded (liar_tui/ui/prepaint.py).

Pure parts: the frame's text (read back with the same screen reader the tmux tests use), the
painter's handover rule (a pipe stands in for the terminal), and the driver's one dropped
"enter alternate screen". The real terminal path is in tests/e2e/test_tmux.py."""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))

import liarscreen  # noqa: E402

from liar_tui.stack.model import HealthInfo, ServiceState  # noqa: E402
from liar_tui.ui import prepaint  # noqa: E402
from liar_tui.ui.prepaint import ALT_SCREEN_ON, PrePaint, render_frame  # noqa: E402

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=timezone.utc)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def states() -> dict[str, ServiceState]:
    def st(service: str, **kw: object) -> ServiceState:
        base: dict = dict(service=service, state="running", container_id="ab" * 32, health=HealthInfo("healthy", 0, ()),
                          started_at=NOW - timedelta(minutes=5))
        base.update(kw)
        return ServiceState(**base)

    return {
        "postgres": st("postgres"),
        "redis": st("redis", health=HealthInfo("unhealthy", 3, ())),
        "nginx": st("nginx", state="exited", exit_code=137),
        "minio": ServiceState(service="minio"),  # no container
    }


def test_the_frame_shows_each_service_status_as_the_console_does() -> None:
    lines = render_frame("liar-game", "docker 20.10.24", states(), 80, colour=False, now=NOW)
    screen = "\n".join(lines)
    assert lines[0].startswith(" liar-tui │ liar-game │ docker 20.10.24")
    assert liarscreen.statuses(screen) == {
        "postgres": "healthy", "redis": "unhealthy ×3", "nginx": "exited (137)", "minio": "no container",
    }
    assert "up 5m00s" in lines[2]
    assert not ANSI.search(screen)  # NO_COLOR: plain text


def test_colour_does_not_change_the_text_and_lines_fit_the_width() -> None:
    painted = render_frame("liar-game", "docker 20.10.24", states(), 80, colour=True, now=NOW)
    plain = render_frame("liar-game", "docker 20.10.24", states(), 80, colour=False, now=NOW)
    assert any(ANSI.search(line) for line in painted)
    assert [ANSI.sub("", line) for line in painted] == plain
    for width in (20, 40):
        for line in render_frame("a-long-project-name", "docker 20.10.24", states(), width, now=NOW):
            assert len(ANSI.sub("", line)) <= width


class FakeMonitor:
    def __init__(self) -> None:
        self.initial = threading.Event()
        self.engine_status = None

    def states(self) -> dict[str, ServiceState]:
        return states()


def read_all(fd: int) -> bytes:
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return b""


def test_paints_once_the_engine_answered_on_the_alternate_screen(monkeypatch) -> None:
    monkeypatch.setattr(os, "get_terminal_size", lambda fd: os.terminal_size((80, 24)))
    r, w = os.pipe()
    monitor = FakeMonitor()
    pp = PrePaint(monitor, "liar-game", w, colour=False).start()
    time.sleep(0.05)
    assert read_all(r) == b"" and not pp.painted  # nothing before the engine's answer
    monitor.initial.set()
    deadline = time.monotonic() + 5
    while not pp.painted and time.monotonic() < deadline:
        time.sleep(0.01)
    out = read_all(r).decode()
    assert out.startswith(ALT_SCREEN_ON)
    assert liarscreen.all_healthy(ANSI.sub("", out).replace("\r\n", "\n")) is False  # the statuses as given
    assert "● exited (137)" in out
    assert pp.handover() is True


def test_nothing_is_written_after_the_handover(monkeypatch) -> None:
    monkeypatch.setattr(os, "get_terminal_size", lambda fd: os.terminal_size((80, 24)))
    r, w = os.pipe()
    monitor = FakeMonitor()
    pp = PrePaint(monitor, "liar-game", w, colour=False).start()
    assert pp.handover() is False  # the console was first
    monitor.initial.set()
    pp._thread.join(2)
    assert read_all(r) == b"" and not pp.painted
    pp.restore()  # nothing to undo
    assert read_all(r) == b""


def test_restore_leaves_the_alternate_screen_when_the_console_never_took_it(monkeypatch) -> None:
    monkeypatch.setattr(os, "get_terminal_size", lambda fd: os.terminal_size((80, 24)))
    r, w = os.pipe()
    monitor = FakeMonitor()
    monitor.initial.set()
    pp = PrePaint(monitor, "liar-game", w, colour=False).start()
    pp._thread.join(2)
    assert pp.handover() is True
    read_all(r)
    pp.restore()
    assert read_all(r).endswith(prepaint.ALT_SCREEN_OFF.encode())


class FakeWriter:
    def __init__(self) -> None:
        self.data: list[str] = []

    def write(self, data: str) -> None:
        self.data.append(data)


def test_the_console_driver_enters_the_alternate_screen_once() -> None:
    pp = PrePaint(FakeMonitor(), "liar-game", -1)
    cls = pp.driver_class()
    driver = cls.__new__(cls)
    driver._writer_thread = FakeWriter()
    driver.write(ALT_SCREEN_ON)  # Textual's own: the pre-paint made that switch already
    driver.write("frame")
    driver.write(ALT_SCREEN_ON)  # after a suspend (a shell), the switch back is needed again
    assert driver._writer_thread.data == ["", "frame", ALT_SCREEN_ON]
    assert pp.taken_over
