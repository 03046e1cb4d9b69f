"""Snapshots of the main views with fixed data (FakeMonitor, fixed clock and host figures): no engine,
so they do not change between runs. Update after an intended change with `--snapshot-update`."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input
from uikit import (
    FakeProbeRunner,
    MemoryActivity,
    make_snapshot_app,
    sample_activity,
    sample_drift,
    sample_log_lines,
    sample_probes,
    wait_until,
)

from liar_tui.stack.monitor import EngineStatus
from liar_tui.ui.messages import DriftChecked, EngineStatusChanged, ServiceProbed
from liar_tui.ui.screens.activity import ActivityScreen

WIDE = (160, 48)
NARROW = (80, 24)


async def _with_logs(pilot: Any) -> None:
    app = pilot.app
    app.main.log_view.add_lines(sample_log_lines())
    await pilot.pause(0.2)


def test_main_view_wide(snap_compare: Any) -> None:
    """Four full panes (healthy, unhealthy x3, exited 137, healthy) with sparklines, logs below."""
    app, _ = make_snapshot_app()
    assert snap_compare(app, terminal_size=WIDE, run_before=_with_logs)


def test_main_view_compact_80x24(snap_compare: Any) -> None:
    """At 80x24 the panes collapse into a compact table and logs keep most of the screen."""
    app, _ = make_snapshot_app()
    assert snap_compare(app, terminal_size=NARROW, run_before=_with_logs)


def test_all_services_logs_with_search_filter(snap_compare: Any) -> None:
    """Interleaved view coloured by service, timestamps on, search 'error' (case-insensitive) and
    only matching lines."""
    app, _ = make_snapshot_app()

    async def run_before(pilot: Any) -> None:
        await _with_logs(pilot)
        main = pilot.app.main
        main.log_view.set_options(show_ts=True, show_service=True)
        main.logs.target = "all services"
        main.logs.search.add_class("-active")
        main.logs.search.query_one(Input).value = "error"
        await pilot.pause(0.1)
        main.logs.search.flush()  # typing recounts once it pauses: search now
        await pilot.pause(0.1)
        main.log_view.focus()
        await pilot.press("o", "n")
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=WIDE, run_before=run_before)


def test_help_lists_keys_80x24(snap_compare: Any) -> None:
    app, _ = make_snapshot_app()
    assert snap_compare(app, terminal_size=NARROW, press=["question_mark"])


def test_health_details_of_an_unhealthy_service(snap_compare: Any) -> None:
    """Enter on redis before any probe result: Docker's failing streak and the last check outputs."""
    app, _ = make_snapshot_app()
    assert snap_compare(app, terminal_size=NARROW, press=["2", "enter", "_"])


def test_engine_unreachable_80x24(snap_compare: Any) -> None:
    """The engine went away: a banner says so, panes dim and show unknown, actions grey out."""
    app, _ = make_snapshot_app()

    async def run_before(pilot: Any) -> None:
        await _with_logs(pilot)
        pilot.app.post_message(
            EngineStatusChanged(
                EngineStatus(
                    connected=False,
                    error="Docker engine is not running (no /var/run/docker.sock): start it with `sudo systemctl start docker`",
                )
            )
        )
        # handled (and its toast posted) before the toasts are cleared, however loaded the machine
        await wait_until(pilot, lambda: pilot.app.engine_status is not None and not pilot.app.engine_status.connected, 5,
                         what="the engine's loss handled")
        await pilot.pause(0.2)
        pilot.app.clear_notifications()
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=NARROW, run_before=run_before)


# -- deep health: probe and drift markers, the health view, the activity view --------------------
async def _deep_health(pilot: Any) -> None:
    """Fixed probe results (postgres warn, redis fail, nginx fail, minio ok) and redis drifted."""
    app = pilot.app
    await _with_logs(pilot)
    await wait_until(pilot, lambda: app._probe_runner, 5, what="the (fake) probe runner")
    for result in sample_probes().values():
        app.post_message(ServiceProbed(result))
    app.post_message(DriftChecked(sample_drift()))
    await wait_until(pilot, lambda: len(app.probes) == len(sample_probes()) and app.drift, 5, what="probes and drift handled")
    await pilot.pause(0.2)
    app.clear_notifications()
    await pilot.pause(0.1)


def test_main_view_with_probe_and_drift_markers_wide(snap_compare: Any) -> None:
    """Probe levels in the cards' bottom borders; redis's image line says drift: recreate to apply (R)."""
    app, _ = make_snapshot_app(probe_factory=FakeProbeRunner)
    assert snap_compare(app, terminal_size=WIDE, run_before=_deep_health)


def test_main_view_with_probe_and_drift_markers_80x24(snap_compare: Any) -> None:
    """The compact table's PROBE and DRIFT columns."""
    app, _ = make_snapshot_app(probe_factory=FakeProbeRunner)
    assert snap_compare(app, terminal_size=NARROW, run_before=_deep_health)


def test_health_view_of_a_failing_drifted_service_80x24(snap_compare: Any) -> None:
    """H on redis: the four probes at a glance, redis's red probe and why, its drift and autoheal."""
    app, _ = make_snapshot_app(probe_factory=FakeProbeRunner)

    async def run_before(pilot: Any) -> None:
        await _deep_health(pilot)
        await pilot.press("2", "H")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=NARROW, run_before=run_before)


def test_health_view_with_figures_wide(snap_compare: Any) -> None:
    """H on postgres at 160x48: its figures, drift, autoheal, then Docker's health and last checks."""
    app, _ = make_snapshot_app(probe_factory=FakeProbeRunner)

    async def run_before(pilot: Any) -> None:
        await _deep_health(pilot)
        await pilot.press("1", "H")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=WIDE, run_before=run_before)


def _activity_before(pilot: Any) -> Any:
    async def run_before(pilot: Any) -> None:
        await pilot.press("A")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ActivityScreen) and pilot.app.screen.loaded, 5, what="history")
        await pilot.pause(0.2)

    return run_before


def test_activity_view_80x24(snap_compare: Any) -> None:
    """A: every kind of entry, newest last, wrapped under its own column."""
    app, _ = make_snapshot_app(activity=MemoryActivity(sample_activity()))
    assert snap_compare(app, terminal_size=NARROW, run_before=_activity_before(None))


def test_activity_view_wide(snap_compare: Any) -> None:
    app, _ = make_snapshot_app(activity=MemoryActivity(sample_activity()))
    assert snap_compare(app, terminal_size=WIDE, run_before=_activity_before(None))
