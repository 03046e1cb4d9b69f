"""Hands stack callbacks to the app once it is mounted (no Textual import here).

The console starts the monitor *before* importing Textual, so the engine's state is already known
when the first frame is drawn; until the app attaches, callbacks are dropped (the app reads
`monitor.states()` and `monitor.engine_status` when it mounts).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Callback = Callable[[Any], None]


class MonitorRelay:
    """on_state / on_engine for StackMonitor (and on_step for the AutoHealer), forwarded to the
    attached target. No stats: the monitor keeps their history and the panes read it on the
    refresh tick."""

    def __init__(self) -> None:
        self._state: Callback | None = None
        self._engine: Callback | None = None
        self._step: Callback | None = None

    def attach(self, on_state: Callback, on_engine: Callback, on_step: Callback | None = None) -> None:
        self._state, self._engine, self._step = on_state, on_engine, on_step

    def detach(self) -> None:
        self._state = self._engine = self._step = None

    def on_state(self, value: Any) -> None:
        cb = self._state
        if cb is not None:
            cb(value)

    def on_engine(self, value: Any) -> None:
        cb = self._engine
        if cb is not None:
            cb(value)

    def on_step(self, value: Any) -> None:
        cb = self._step
        if cb is not None:
            cb(value)

    def callbacks(self) -> dict[str, Callback]:
        return {"on_state": self.on_state, "on_engine": self.on_engine}
