"""Opt-in autoheal: restart a service that stays unhealthy, with backoff and a cap.

Docker never restarts an unhealthy container: restart policies act only when the process exits.
AutoHealer fills that gap, carefully:

- it acts only on a running container whose health is `unhealthy` with a FailingStreak of at
  least `checks` (Docker itself flags unhealthy after the healthcheck's `retries` failures);
- it re-inspects the container just before acting, so a service the user stopped, paused, fixed or
  recreated meanwhile is left alone; healthy services and stopped ones are never touched;
- one healer acts per project: the one holding the project's autoheal lock
  (docker/liar-tui-autoheal-NAME.lock, taken when it is turned on and kept while it is on); another
  liar-tui with autoheal on (a second console, a headless `liar-tui autoheal`) stands by, says so
  once, and takes over when the holder turns autoheal off or ends. Two healers restarting the same
  service doubled every restart and every cap. The holder keeps its counts in a tally next to the
  lock (docker/liar-tui-autoheal-NAME.json); the one taking over carries on from them for the
  same containers, so the cap stays the project's (a healer that took over restarted a service
  the other had given up on, `max_attempts` times more);
- it holds off while a restore of the project runs (its restore lock is held): a restore stops and
  starts services, and a restart in the middle of one would break it;
- after restart number k it waits backoff x 2^(k-1) seconds (capped) before it may act again, and
  after `max_attempts` restarts it gives up on that service and says so. The count resets once the
  service has stayed healthy for `stable` seconds, or when its container is replaced.

It is event-driven: feed it the monitor's ServiceState updates (`on_state`, e.g. through
activity.fan_out). Docker emits an event when health status changes, not for every failing
check, so while a service is unhealthy but below `checks`, or waiting out a backoff, one timer
re-inspects that service. Nothing polls while everything is healthy.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import locks
from .backupset import write_json_file
from .model import LABEL_PROJECT, LABEL_SERVICE, SERVICES, ActionResult, ServiceState, parse_inspect

if TYPE_CHECKING:
    from .activity import ActivityLog
    from .compose import Stack
    from .engine import Engine
    from .monitor import StackMonitor


#: Seconds between looks at the autoheal lock while another liar-tui holds it.
LEASE_RECHECK = 5.0


@dataclass(frozen=True)
class AutohealPolicy:
    """When and how often autoheal restarts a service."""

    checks: int = 3  # FailingStreak (failed healthchecks in a row) before a restart
    max_attempts: int = 3  # restarts before giving up on the service
    backoff: float = 30.0  # seconds after the first restart before another; doubles each time
    max_backoff: float = 600.0
    recheck: float = 5.0  # seconds between re-inspections while a service is unhealthy
    stable: float = 120.0  # healthy this long after a restart: the attempt count resets
    stop_timeout: int = 5  # seconds between SIGTERM and SIGKILL on restart (a hung process ignores TERM)

    def delay_after(self, attempt: int) -> float:
        return min(self.backoff * 2 ** max(0, attempt - 1), self.max_backoff)


@dataclass(frozen=True)
class AutohealStep:
    """One thing autoheal did or decided, for the console (the activity log gets the same text)."""

    service: str
    action: str  # restarting | restarted | restart-failed | backoff | gave-up | recovered | reset | enabled | disabled
    # | standby (another liar-tui heals) | restore (one runs) | resumed (after either) | inherited (the
    # counts of the liar-tui that healed before)
    attempt: int
    text: str
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


@dataclass(frozen=True)
class AutohealStatus:
    """Autoheal's view of one service, for a status line."""

    service: str
    attempts: int
    gave_up: bool
    next_allowed_in: float  # seconds until another restart may happen (0: now)
    waiting_for_recovery: bool


@dataclass
class _Track:
    container_id: str = ""
    attempts: int = 0
    next_allowed: float = 0.0
    gave_up: bool = False
    pending_recovery: bool = False
    healthy_since: float | None = None
    announced_backoff: bool = False


def inspect_service(engine: "Engine", project_name: str, service: str) -> ServiceState:
    """The service's current container state (the running/newest one), straight from the engine."""
    rows = engine.api.containers(
        all=True, filters={"label": [f"{LABEL_PROJECT}={project_name}", f"{LABEL_SERVICE}={service}"]}
    )
    for row in sorted(rows, key=lambda r: (r.get("State") == "running", r.get("Created", 0)), reverse=True):
        data = engine.inspect(row["Id"])
        if data is not None:
            return parse_inspect(data, service)
    return ServiceState(service=service)


class AutoHealer:
    """Restarts services that stay unhealthy (see the module docstring). Off until `start()`;
    `enabled` toggles it without losing its counts (the console's switch)."""

    def __init__(
        self,
        restart: Callable[[str], ActionResult],
        refresh: Callable[[str], ServiceState],
        *,
        policy: AutohealPolicy | None = None,
        activity: "ActivityLog | None" = None,
        on_step: Callable[[AutohealStep], None] | None = None,
        services: tuple[str, ...] = SERVICES,
        enabled: bool = True,
        redact: Callable[[str], str] | None = None,
        lease: Path | None = None,
        hold_off: Path | None = None,
        busy: Callable[[str], str] | None = None,
    ) -> None:
        self.policy = policy or AutohealPolicy()
        self._redact = redact or (lambda text: text)
        self.services = services
        self._restart = restart
        self._refresh = refresh
        self._activity = activity
        self._on_step = on_step
        self._enabled = enabled
        self._cond = threading.Condition()
        self._dirty = False
        self._states: dict[str, ServiceState] = {}
        self._tracks: dict[str, _Track] = {s: _Track() for s in services}
        self._due: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="autoheal", daemon=True)
        self.restarts: list[tuple[str, float]] = []  # (service, wall time) of every restart made
        self._lease = lease  # the project's autoheal lock: only its holder restarts
        self._lease_fd: int | None = None
        self._lease_lock = threading.Lock()
        self._hold_off = hold_off  # the project's restore lock: no restart while it is held
        # why compose runs on a service now ('' when not): a restart then would be refused, and
        # counted as a failed attempt (the user's recreate, an up, another liar-tui's action)
        self._busy = busy
        self._announced_wait = ""  # "standby" or "restore" once said (see _waiting_for)
        self._claim_pending = enabled  # take the autoheal lock (or say who has it) when the thread runs
        # the lock holder's counts, for the one that takes over (see the module docstring)
        self._tally = lease.with_suffix(".json") if lease is not None else None
        self._inherited: dict[str, dict[str, Any]] = {}  # read at takeover: {service: its tally}
        self._inherited_notes: list[tuple[str, int, str]] = []  # said after "resumed"

    @classmethod
    def for_stack(
        cls, stack: "Stack", monitor: "StackMonitor | None" = None, **kwargs: Any
    ) -> "AutoHealer":
        """Restart through compose (`restart -t stop_timeout`); re-inspect through the monitor when
        given (so its view updates too), else through the engine directly."""
        policy = kwargs.get("policy") or AutohealPolicy()
        kwargs["policy"] = policy
        kwargs.setdefault("redact", stack.project.redactor())
        kwargs.setdefault("lease", stack.project.lock_path("autoheal"))
        kwargs.setdefault("hold_off", stack.project.lock_path("restore"))
        kwargs.setdefault("busy", lambda service: locks.compose_busy(stack.project, [service]))
        if monitor is not None:
            refresh: Callable[[str], ServiceState] = monitor.refresh
        else:
            from .engine import Engine

            engine = Engine(timeout=10)
            name = stack.project.name

            def refresh(service: str) -> ServiceState:
                return inspect_service(engine, name, service)

        def restart(service: str) -> ActionResult:
            return stack.restart(service, timeout=policy.stop_timeout)

        return cls(restart, refresh, **kwargs)

    # -- public -----------------------------------------------------------------------------
    def start(self) -> "AutoHealer":
        self._thread.start()
        self._wake()  # on from the start: it claims the autoheal lock before any state comes
        return self

    def stop(self, join: float = 2.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(join)
        self._let_lease_go()

    @property
    def enabled(self) -> bool:
        return self._enabled

    def enable(self) -> None:
        if not self._enabled:
            self._enabled = True
            self._claim_pending = True
            self._step("-", "enabled", 0, self._describe())
        self._wake()

    def disable(self) -> None:
        if self._enabled:
            self._enabled = False
            self._let_lease_go()  # another liar-tui with autoheal on takes over
            self._announced_wait = ""  # turned on again, it looks (and says) again
            self._step("-", "disabled", 0, "autoheal off: unhealthy services are left alone")

    def on_state(self, st: ServiceState) -> None:
        """Feed every ServiceState update here (runs on the caller's thread; returns at once)."""
        if st.service not in self._tracks:
            return
        with self._cond:
            self._states[st.service] = st
            self._dirty = True
            self._cond.notify_all()

    def status(self) -> dict[str, AutohealStatus]:
        now = time.monotonic()
        with self._cond:
            return {
                s: AutohealStatus(
                    s, t.attempts, t.gave_up, max(0.0, t.next_allowed - now) if t.attempts else 0.0, t.pending_recovery
                )
                for s, t in self._tracks.items()
            }

    def describe(self) -> str:
        return self._describe()

    # -- internals --------------------------------------------------------------------------
    def _describe(self) -> str:
        p = self.policy
        return (
            f"autoheal on: restart a service Docker marks unhealthy (after its healthcheck's own retries) once "
            f"{p.checks}+ checks in a row have failed, at most {'once' if p.max_attempts == 1 else f'{p.max_attempts} times'} "
            f"(backoff {p.backoff:g}s doubling, max {p.max_backoff:g}s)"
        )

    def _wake(self) -> None:
        with self._cond:
            self._dirty = True
            self._cond.notify_all()

    def _step(self, service: str, action: str, attempt: int, text: str) -> None:
        text = self._redact(text)
        step = AutohealStep(service, action, attempt, text)
        if self._activity is not None:
            self._activity.record("autoheal", service if service != "-" else "", text)
        if self._on_step is not None:
            try:
                self._on_step(step)
            except Exception:  # noqa: BLE001
                pass

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                if not self._dirty:
                    due = min(self._due.values(), default=None)
                    timeout = None if due is None else max(0.0, due - time.monotonic())
                    self._cond.wait(timeout)
                self._dirty = False
                if self._stop.is_set():
                    return
                now = time.monotonic()
                expired = [s for s, t in self._due.items() if t <= now]
                for s in expired:
                    del self._due[s]
                if "-" in expired:
                    self._claim_pending = True  # standing by: is the autoheal lock free now?
                states = dict(self._states)
            if not self._enabled:
                continue
            if self._claim_pending:
                self._claim()
            for service in self.services:
                st = states.get(service)
                if service in expired:
                    st = self._safe_refresh(service) or st  # a timer fired: look again
                if st is not None:
                    try:
                        self._evaluate(service, st)
                    except Exception as exc:  # noqa: BLE001 - keep healing the others
                        self._step(service, "error", 0, f"autoheal error on {service}: {exc}")

    def _let_lease_go(self) -> None:
        with self._lease_lock:
            if self._lease_fd is not None:
                os.close(self._lease_fd)  # also lets the flock go
                self._lease_fd = None

    def _waiting_for(self) -> tuple[str, str]:
        """Why this healer may not restart now, as (kind, line): ("restore", ...) while a restore
        of the project runs, ("standby", ...) while another liar-tui holds the autoheal lock, else
        ("", ""). Takes the lock when it is free."""
        if self._hold_off is not None and locks.held(self._hold_off):
            return "restore", (f"a restore of this project is running{locks.holder(self._hold_off)}: autoheal "
                               f"restarts nothing until it ends")
        waiting = self._lease_wait()
        return ("standby", waiting) if waiting else ("", "")

    def _claim(self) -> None:
        """Turned on: take the project's autoheal lock now, or say at once that another liar-tui
        holds it (not only when a service first needs a restart)."""
        self._claim_pending = False
        waiting = self._lease_wait()
        if waiting:
            if self._announced_wait != "standby":
                self._announced_wait = "standby"
                self._step("-", "standby", 0, waiting)
            # look again now and then: the header says standby only while it is so
            self._schedule("-", time.monotonic() + LEASE_RECHECK)
        elif self._announced_wait == "standby":
            self._announced_wait = ""
            self._step("-", "resumed", 0, "this liar-tui heals the project now (the one that did stopped)")
        self._tell_inherited()

    @property
    def standby(self) -> bool:
        """On, but another liar-tui heals this project (as of this healer's last look)."""
        return self._enabled and self._announced_wait == "standby"

    def _lease_wait(self) -> str:
        if self._lease is None:
            return ""
        with self._lease_lock:
            if self._lease_fd is not None:
                return ""
            try:
                fd = locks.take(self._lease, parents=False)  # docker/ holds the project's data: it exists
            except OSError:
                return ""  # no lock to be had here: heal rather than never
            if fd is None:
                return (f"another liar-tui heals this project{locks.holder(self._lease)}: this one stands by "
                        f"and takes over when that one stops")
            self._lease_fd = fd
        self._take_over_tally()
        return ""

    # -- the project's tally: the lock holder's counts, for the next holder --------------------
    def _save_tally(self) -> None:
        if self._tally is None or self._lease_fd is None:
            return  # only the holder's counts are the project's
        now, wall = time.monotonic(), time.time()
        data = {
            s: {"container_id": t.container_id, "attempts": t.attempts, "gave_up": t.gave_up,
                "next_allowed_at": wall + max(0.0, t.next_allowed - now)}
            for s, t in self._tracks.items() if t.container_id and (t.attempts or t.gave_up)
        }
        try:
            write_json_file(self._tally, data)
        except OSError:
            pass  # a read-only docker/ folder: each healer counts for itself, as before

    def _take_over_tally(self) -> None:
        """Just took the autoheal lock: carry on from the counts of the one that held it."""
        try:
            data = json.loads(self._tally.read_text(encoding="utf-8")) if self._tally is not None else {}
        except (OSError, ValueError):
            return
        if not isinstance(data, dict):
            return
        self._inherited = {s: t for s, t in data.items() if s in self._tracks and isinstance(t, dict)}
        for service, tr in self._tracks.items():
            if tr.container_id:
                self._inherit(service, tr)

    def _tell_inherited(self) -> bool:
        """Say what was carried on from the tally (after "resumed"); whether there was any."""
        notes, self._inherited_notes = self._inherited_notes, []
        for service, attempts, text in notes:
            self._step(service, "inherited", attempts, text)
        return bool(notes)

    def _inherit(self, service: str, tr: _Track) -> None:
        """The tally's counts for this service, when they are of the container tracked now."""
        t = self._inherited.pop(service, None)
        if not t or t.get("container_id") != tr.container_id:
            return
        try:
            attempts = int(t.get("attempts") or 0)
            wait = float(t.get("next_allowed_at") or 0.0) - time.time()
        except (TypeError, ValueError):
            return  # a tally edited by hand: counted afresh
        gave_up = bool(t.get("gave_up"))
        if attempts <= tr.attempts and (tr.gave_up or not gave_up):
            return
        tr.attempts, tr.gave_up = max(attempts, tr.attempts), gave_up or tr.gave_up
        tr.next_allowed = max(tr.next_allowed, time.monotonic() + max(0.0, wait))
        told = (f"it gave up on {service}: fix it, then `liar-tui restart {service}`" if tr.gave_up
                else f"{tr.attempts} of {self.policy.max_attempts} restarts made")
        self._inherited_notes.append(
            (service, tr.attempts, f"{service}: carrying on from the liar-tui that healed before ({told})"))

    def _safe_refresh(self, service: str) -> ServiceState | None:
        try:
            st = self._refresh(service)
        except Exception:  # noqa: BLE001 - engine gone: try again at the next event
            return None
        with self._cond:
            self._states[service] = st
        return st

    def _schedule(self, service: str, at: float) -> None:
        with self._cond:
            current = self._due.get(service)
            if current is None or at < current:
                self._due[service] = at

    def _evaluate(self, service: str, st: ServiceState) -> None:
        p = self.policy
        tr = self._tracks[service]
        now = time.monotonic()
        if st.container_id and st.container_id != tr.container_id:
            counted = bool(tr.container_id and (tr.attempts or tr.gave_up))
            if counted:
                self._step(service, "reset", 0, f"{service} has a new container: autoheal count reset")
            self._tracks[service] = tr = _Track(container_id=st.container_id)
            self._inherit(service, tr)
            self._tell_inherited()
            if counted:
                self._save_tally()  # the old container's count goes from the tally too
        if not st.running:
            # Stopped by the user, or exited (Docker's restart policy owns exits): hands off.
            with self._cond:
                self._due.pop(service, None)
            return
        health = st.health.status
        if health == "healthy":
            if tr.pending_recovery:
                tr.pending_recovery = False
                self._step(service, "recovered", tr.attempts, f"{service} is healthy again after autoheal restart {tr.attempts}")
            if tr.healthy_since is None:
                tr.healthy_since = now
            if tr.attempts or tr.gave_up:
                if now - tr.healthy_since >= p.stable:
                    self._step(service, "reset", 0, f"{service} stayed healthy {p.stable:g}s: autoheal count reset")
                    self._tracks[service] = _Track(container_id=tr.container_id)
                    self._save_tally()
                else:
                    self._schedule(service, tr.healthy_since + p.stable)
            return
        tr.healthy_since = None
        if health != "unhealthy":
            return  # starting (a fresh restart) or no healthcheck: nothing to judge
        if tr.gave_up:
            return
        if st.health.failing_streak < p.checks:
            self._schedule(service, now + p.recheck)
            return
        if tr.attempts >= p.max_attempts:
            tr.gave_up = True
            tr.pending_recovery = False
            self._save_tally()
            self._step(
                service, "gave-up", tr.attempts,
                f"giving up on {service}: still unhealthy after {tr.attempts} autoheal restart"
                f"{'s' if tr.attempts != 1 else ''} ({_last_output(st)}); fix it, then `liar-tui restart {service}`",
            )
            return
        if now < tr.next_allowed:
            if not tr.announced_backoff:
                tr.announced_backoff = True
                self._step(
                    service, "backoff", tr.attempts,
                    f"{service} still unhealthy: next restart in {tr.next_allowed - now:.0f}s (backoff)",
                )
            self._schedule(service, tr.next_allowed)
            return
        fresh = self._safe_refresh(service)
        if (
            fresh is None
            or not fresh.running
            or fresh.health.status != "unhealthy"
            or fresh.health.failing_streak < p.checks
            or fresh.container_id != st.container_id
        ):
            if fresh is not None and fresh.running:
                self._schedule(service, now + p.recheck)
            return
        if self._busy is not None and self._busy(service):
            self._schedule(service, now + p.recheck)  # look again once it is done (it may fix it)
            return
        kind, waiting = self._waiting_for()
        if kind:
            if self._announced_wait != kind:  # once for the project, not at every look
                self._announced_wait = kind
                self._step(service, kind, tr.attempts, waiting)
            self._schedule(service, now + p.recheck)
            return
        if self._announced_wait:
            said = "the restore ended" if self._announced_wait == "restore" else "this liar-tui heals the project now"
            self._announced_wait = ""
            self._step(service, "resumed", tr.attempts, f"{said}: it acts on {service} again")
        if self._tell_inherited() and (tr.gave_up or tr.attempts >= p.max_attempts or now < tr.next_allowed):
            self._schedule(service, now + p.recheck)  # the counts it carries on from say wait (or give up)
            return
        tr.attempts += 1
        tr.announced_backoff = False
        self._step(
            service, "restarting", tr.attempts,
            f"{service} unhealthy for {fresh.health.failing_streak} checks in a row ({_last_output(fresh)}): "
            f"restarting (attempt {tr.attempts} of {p.max_attempts})",
        )
        result = self._restart(service)
        self.restarts.append((service, time.time()))
        tr.next_allowed = time.monotonic() + p.delay_after(tr.attempts)
        tr.pending_recovery = result.ok
        self._save_tally()
        if result.ok:
            self._step(service, "restarted", tr.attempts, f"restarted {service} in {result.seconds:.1f}s")
        else:
            self._step(service, "restart-failed", tr.attempts, f"restart of {service} failed: {result.message}")
        self._schedule(service, tr.next_allowed)


def _last_output(st: ServiceState) -> str:
    out = st.health.last_output
    if not out:
        code = st.health.log[-1].exit_code if st.health.log else None
        return f"last check exit code {code}" if code is not None else "no check output"
    return "last check: " + " ".join(out.split())[:160]
