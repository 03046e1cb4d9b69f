"""AutoHealer's decisions with a fake engine: when it restarts, when it waits, when it gives up,
and what it never touches."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any
from pathlib import Path

from liar_tui.stack.autoheal import AutoHealer, AutohealPolicy, AutohealStep
from liar_tui.stack.model import ActionResult, HealthInfo, ServiceState

FAST = AutohealPolicy(checks=3, max_attempts=2, backoff=0.3, max_backoff=1.0, recheck=0.05, stable=0.5, stop_timeout=1)


class FakeStack:
    """Holds the 'engine' state of each service; restart() runs `on_restart` to decide the new state."""

    def __init__(self) -> None:
        self.states: dict[str, ServiceState] = {}
        self.restarts: list[str] = []
        self.refreshes: list[str] = []
        self.on_restart: Callable[[str], ServiceState] | None = None
        self.healer: AutoHealer | None = None
        self.lock = threading.Lock()

    def set(self, st: ServiceState) -> None:
        with self.lock:
            self.states[st.service] = st
        if self.healer is not None:
            self.healer.on_state(st)

    def refresh(self, service: str) -> ServiceState:
        self.refreshes.append(service)
        with self.lock:
            return self.states.get(service, ServiceState(service))

    def restart(self, service: str) -> ActionResult:
        self.restarts.append(service)
        if self.on_restart is not None:
            self.set(self.on_restart(service))
        return ActionResult("restart", (service,), True, "", 0.01)


def st(service: str, health: str = "healthy", streak: int = 0, state: str = "running", cid: str = "c1") -> ServiceState:
    return ServiceState(service, state=state, container_id=cid, health=HealthInfo(health, streak))


def make(policy: AutohealPolicy = FAST) -> tuple[FakeStack, AutoHealer, list[AutohealStep]]:
    fake = FakeStack()
    steps: list[AutohealStep] = []
    healer = AutoHealer(fake.restart, fake.refresh, policy=policy, on_step=steps.append)
    fake.healer = healer
    healer.start()
    return fake, healer, steps


def wait_until(pred: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


def test_restarts_after_the_streak_reaches_checks_and_recovers() -> None:
    fake, healer, steps = make()
    try:
        fake.set(st("redis"))
        fake.set(st("redis", "unhealthy", 2))  # Docker flags unhealthy at retries=2: not yet
        wait_until(lambda: bool(fake.refreshes))  # below the threshold it re-inspects (no event per failing check)
        time.sleep(0.1)
        assert fake.restarts == []
        fake.on_restart = lambda s: st(s, "starting")
        with fake.lock:
            fake.states["redis"] = st("redis", "unhealthy", 3)  # the next check failed too: no event
        wait_until(lambda: fake.restarts == ["redis"])
        fake.set(st("redis", "healthy"))
        wait_until(lambda: any(s.action == "recovered" for s in steps))
        assert [s.action for s in steps] == ["restarting", "restarted", "recovered"]
        assert "unhealthy for 3 checks" in steps[0].text and "attempt 1 of 2" in steps[0].text
    finally:
        healer.stop()


def test_never_touches_healthy_stopped_or_paused_services() -> None:
    fake, healer, steps = make()
    try:
        fake.set(st("postgres", "healthy"))
        fake.set(st("redis", "unhealthy", 9, state="exited"))  # stopped by the user
        fake.set(st("minio", "unhealthy", 9, state="paused"))
        fake.set(st("nginx", "starting"))
        time.sleep(0.4)
        assert fake.restarts == [] and steps == []
    finally:
        healer.stop()


def test_a_failing_check_below_dockers_retries_is_not_a_reason() -> None:
    """Healthy with FailingStreak 1 (Docker has not given up on it): never touched, even with checks=1."""
    fake, healer, steps = make(AutohealPolicy(checks=1, max_attempts=2, backoff=0.1, recheck=0.05))
    try:
        fake.set(st("postgres", "healthy", 1))
        time.sleep(0.3)
        assert fake.restarts == [] and steps == []
    finally:
        healer.stop()


def test_leaves_it_alone_when_the_user_stops_it_before_the_restart() -> None:
    fake, healer, _steps = make()
    try:
        # the event says unhealthy, but a fresh inspect (just before acting) says stopped
        with fake.lock:
            fake.states["redis"] = st("redis", "unhealthy", 5, state="exited")
        healer.on_state(st("redis", "unhealthy", 5))
        time.sleep(0.3)
        assert fake.restarts == []
    finally:
        healer.stop()


def test_backoff_then_gives_up_after_the_cap() -> None:
    fake, healer, steps = make()
    fake.on_restart = lambda s: st(s, "unhealthy", 3)  # the restart does not help
    try:
        started = time.monotonic()
        fake.set(st("nginx", "unhealthy", 3))
        wait_until(lambda: any(s.action == "gave-up" for s in steps))
        took = time.monotonic() - started
        assert fake.restarts == ["nginx", "nginx"], "max_attempts=2"
        assert took >= FAST.backoff, "the second restart waits out the backoff"
        time.sleep(0.5)
        assert fake.restarts == ["nginx", "nginx"], "nothing after giving up"
        assert healer.status()["nginx"].gave_up
        actions = [s.action for s in steps]
        assert actions == ["restarting", "restarted", "backoff", "restarting", "restarted", "gave-up"]
    finally:
        healer.stop()


def test_backoff_doubles_and_is_capped() -> None:
    p = AutohealPolicy(backoff=10, max_backoff=25)
    assert [p.delay_after(k) for k in (1, 2, 3, 4)] == [10, 20, 25, 25]


def test_a_new_container_resets_the_count() -> None:
    fake, healer, steps = make()
    fake.on_restart = lambda s: st(s, "unhealthy", 3)
    try:
        fake.set(st("nginx", "unhealthy", 3))
        wait_until(lambda: any(s.action == "gave-up" for s in steps))
        fake.on_restart = lambda s: st(s, "healthy", 0, cid="c2")
        fake.set(st("nginx", "unhealthy", 3, cid="c2"))  # the user recreated it; still broken
        wait_until(lambda: len(fake.restarts) == 3)
        assert any(s.action == "reset" for s in steps)
    finally:
        healer.stop()


def test_disabled_does_nothing_until_enabled() -> None:
    fake, healer, steps = make()
    try:
        healer.disable()
        fake.set(st("redis", "unhealthy", 5))
        time.sleep(0.3)
        assert fake.restarts == []
        healer.enable()
        wait_until(lambda: fake.restarts == ["redis"])
        assert steps[0].action == "disabled" and steps[1].action == "enabled"
    finally:
        healer.stop()


def two_healers(lease: Path, hold_off: Path) -> tuple[FakeStack, list[AutoHealer], list[list[AutohealStep]]]:
    """Two healers of one project (a console and a headless `liar-tui autoheal`) over one fake
    engine, sharing the project's autoheal and restore lock files (real flocks)."""
    fake = FakeStack()
    healers, steps = [], []
    for _ in range(2):
        mine: list[AutohealStep] = []
        healer = AutoHealer(fake.restart, fake.refresh, policy=FAST, on_step=mine.append, lease=lease, hold_off=hold_off)
        healers.append(healer.start())
        steps.append(mine)
    fake.healer = None
    return fake, healers, steps


def feed(healers: list[AutoHealer], state: ServiceState, fake: FakeStack) -> None:
    with fake.lock:
        fake.states[state.service] = state
    for healer in healers:
        healer.on_state(state)


def test_two_healers_of_one_project_restart_once_and_the_other_takes_over(tmp_path: Path) -> None:
    """Both saw the same unhealthy streak and both restarted: every restart and every cap doubled."""
    fake, healers, steps = two_healers(tmp_path / "autoheal.lock", tmp_path / "restore.lock")
    # the restart does not help, and keeps the container (a restart of c2 made it c1 again: a race)
    fake.on_restart = lambda s: st(s, "unhealthy", 3, cid=fake.states[s].container_id)
    try:
        # on from the start: one holds the lock, the other says at once that it stands by
        wait_until(lambda: healers[0].standby or healers[1].standby)
        assert not (healers[0].standby and healers[1].standby)
        feed(healers, st("nginx", "unhealthy", 3), fake)
        wait_until(lambda: any(s.action == "gave-up" for h in steps for s in h))
        time.sleep(0.3)
        assert fake.restarts == ["nginx", "nginx"], "max_attempts=2 for the project, not per healer"
        acting = 0 if healers[0].restarts else 1
        idle = 1 - acting
        assert healers[idle].restarts == []
        standby = [s for s in steps[idle] if s.action == "standby"]
        assert len(standby) == 1, steps[idle]  # said once
        assert f"another liar-tui heals this project (pid {os.getpid()})" in standby[0].text
        # nginx is recreated by hand (still broken), then the acting one turns autoheal off: the
        # other takes over at its next look. (The engine holds the new container before the off:
        # the other's rechecks every 0.05 s found the given-up one in between, now and then.)
        with fake.lock:
            fake.states["nginx"] = st("nginx", "unhealthy", 3, cid="c2")
        healers[acting].disable()
        feed(healers, st("nginx", "unhealthy", 3, cid="c2"), fake)
        wait_until(lambda: len(fake.restarts) == 3)
        assert len(healers[idle].restarts) == 1
        actions = [s.action for s in steps[idle]]
        after = actions[actions.index("resumed") + 1:]
        if after[:2] == ["inherited", "reset"]:
            # it took the lock before it had seen c2 (its lock recheck came between the off and the
            # new container's event): it carried on from c1's count, then the new container reset it
            told = {s.action: s.text for s in steps[idle]}
            assert "it gave up on nginx" in told["inherited"] and "has a new container" in told["reset"], steps[idle]
            after = after[2:]
        assert after[:1] == ["restarting"], actions
        assert "heals the project now" in next(s.text for s in steps[idle] if s.action == "resumed")
        assert not healers[idle].standby
    finally:
        for healer in healers:
            healer.stop()


def test_the_one_taking_over_carries_on_from_the_counts_of_the_one_before(tmp_path: Path) -> None:
    """The cap is the project's across a takeover too: the healer that took over when the other
    stopped restarted the container that one had given up on, max_attempts times more. It now
    carries on from the tally the holder keeps next to the lock (and a new container, as ever,
    starts a new count)."""
    fake, healers, steps = two_healers(tmp_path / "autoheal.lock", tmp_path / "restore.lock")
    # the restart does not help, and keeps the container (a restart of c2 made it c1 again: a race)
    fake.on_restart = lambda s: st(s, "unhealthy", 3, cid=fake.states[s].container_id)
    try:
        wait_until(lambda: healers[0].standby or healers[1].standby)
        feed(healers, st("nginx", "unhealthy", 3), fake)
        wait_until(lambda: any(s.action == "gave-up" for h in steps for s in h))
        acting = 0 if healers[0].restarts else 1
        idle = 1 - acting
        assert (tmp_path / "autoheal.json").exists()
        healers[acting].stop()  # the console that healed quits; the container is the same
        wait_until(lambda: any(s.action == "inherited" for s in steps[idle]), 10)  # its next look (5 s)
        feed(healers[idle:idle + 1], st("nginx", "unhealthy", 4), fake)
        time.sleep(0.5)
        assert fake.restarts == ["nginx", "nginx"], "restarted again what the other had given up on"
        said = [s for s in steps[idle] if s.action == "inherited"]
        assert len(said) == 1 and "it gave up on nginx" in said[0].text, said
        actions = [s.action for s in steps[idle]]
        assert actions.index("resumed") < actions.index("inherited"), actions
        # recreated by hand, still broken: a new container, a new count
        with fake.lock:
            fake.states["nginx"] = st("nginx", "unhealthy", 3, cid="c2")
        feed(healers[idle:idle + 1], st("nginx", "unhealthy", 3, cid="c2"), fake)
        wait_until(lambda: len(fake.restarts) == 3)
    finally:
        for healer in healers:
            healer.stop()


def test_no_restart_while_a_restore_of_the_project_runs(tmp_path: Path) -> None:
    from liar_tui.stack import locks

    restore_lock = tmp_path / "restore.lock"
    fd = locks.take(restore_lock)  # as BackupManager.restore_lock() does
    assert fd is not None and locks.held(restore_lock)
    fake, healers, steps = two_healers(tmp_path / "autoheal.lock", restore_lock)
    healers[1].stop()
    try:
        feed(healers[:1], st("redis", "unhealthy", 3), fake)
        wait_until(lambda: any(s.action == "restore" for s in steps[0]))
        time.sleep(0.3)
        assert fake.restarts == []
        assert f"a restore of this project is running (pid {os.getpid()})" in steps[0][0].text
        assert [s.action for s in steps[0]] == ["restore"], "said once, however often it looks"
        os.close(fd)
        assert not locks.held(restore_lock)
        wait_until(lambda: fake.restarts == ["redis"])
        assert [s.action for s in steps[0]][:3] == ["restore", "resumed", "restarting"]
        assert steps[0][1].text.startswith("the restore ended")
    finally:
        healers[0].stop()


def test_locks_held_looks_without_keeping(tmp_path: Path) -> None:
    from liar_tui.stack import locks

    path = tmp_path / "x.lock"
    assert not locks.held(path) and not path.exists(), "a look creates nothing"
    fd = locks.take(path)
    assert fd is not None and locks.held(path) and locks.holder(path) == f" (pid {os.getpid()})"
    assert locks.take(path) is None, "a second open of the same file is refused, even in one process"
    os.close(fd)
    assert not locks.held(path)
    fd = locks.take(path, wait=0.5)
    assert fd is not None
    os.close(fd)
    try:
        locks.take(tmp_path / "missing" / "y.lock", parents=False)
    except FileNotFoundError:
        pass
    else:
        raise AssertionError("parents=False makes no folder")


def test_the_holders_pid_is_read_even_just_after_it_took_the_lock(tmp_path: Path) -> None:
    """A holder writes its pid just after its flock: a look in between found the file empty and
    named no pid (seen once in CI)."""
    from liar_tui.stack import locks

    path = tmp_path / "x.lock"
    path.write_text("")
    writer = threading.Timer(0.02, lambda: path.write_text("4242\n"))
    writer.start()
    try:
        assert locks.holder(path) == " (pid 4242)"
    finally:
        writer.join()


def test_a_standing_by_healer_takes_over_when_the_holder_ends(tmp_path: Path, monkeypatch: Any) -> None:
    """The header said 'autoheal standby' until a service next needed a restart, long after the
    other liar-tui had gone: a standing-by healer looks at the lock again now and then."""
    from liar_tui.stack import autoheal

    monkeypatch.setattr(autoheal, "LEASE_RECHECK", 0.1)
    fake, healers, steps = two_healers(tmp_path / "autoheal.lock", tmp_path / "restore.lock")
    try:
        wait_until(lambda: healers[0].standby or healers[1].standby)
        idle = 0 if healers[0].standby else 1
        healers[1 - idle].stop()  # the holder ends (its lock goes with it)
        wait_until(lambda: not healers[idle].standby, timeout=2)
        assert [s.action for s in steps[idle]] == ["standby", "resumed"], steps[idle]
        assert "heals the project now (the one that did stopped)" in steps[idle][1].text
        assert fake.restarts == []
    finally:
        for healer in healers:
            healer.stop()


def test_no_restart_while_compose_acts_on_the_service() -> None:
    """A recreate or an up of the service (this console's, or another liar-tui's) holds its compose
    turn: a restart then was refused and counted as a failed attempt. It waits, counting nothing."""
    fake = FakeStack()
    steps: list[AutohealStep] = []
    acting = {"redis": "another liar-tui is acting on redis (pid 1): wait for it to finish"}
    healer = AutoHealer(fake.restart, fake.refresh, policy=FAST, on_step=steps.append, busy=lambda s: acting.get(s, ""))
    fake.healer = healer
    healer.start()
    try:
        fake.set(st("redis", "unhealthy", 3))
        wait_until(lambda: len(fake.refreshes) >= 3)  # it looks again and again
        assert fake.restarts == [] and not [s for s in steps if s.action == "restarting"]
        acting.clear()
        wait_until(lambda: fake.restarts == ["redis"])
        assert [s for s in steps if s.action == "restarting"][0].attempt == 1
    finally:
        healer.stop()
