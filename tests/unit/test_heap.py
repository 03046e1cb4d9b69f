"""BurstHeap: the cyclic collector pauses during a log burst and comes back after it (pure logic)."""

from __future__ import annotations

import gc

from liar_tui.ui.heap import BurstHeap


class FakeGC:
    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.collections = 0

    def isenabled(self) -> bool:
        return self.enabled

    def disable(self) -> None:
        self.enabled = False

    def enable(self) -> None:
        self.enabled = True

    def collect(self) -> int:
        self.collections += 1
        return 0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(enabled: bool = True) -> tuple[BurstHeap, FakeGC, Clock, list[int]]:
    fake, clock, released = FakeGC(enabled), Clock(), []
    heap = BurstHeap(max_pause=15.0, clock=clock, collector=fake, release=lambda: released.append(1))
    return heap, fake, clock, released


def test_a_burst_pauses_the_collector_and_settle_brings_it_back() -> None:
    heap, fake, _clock, released = make()
    heap.burst()
    assert not fake.enabled and heap.paused
    heap.burst()  # more batches of the same burst change nothing
    assert not fake.enabled
    heap.settle()
    assert fake.enabled and not heap.paused
    assert released == [1]  # the freed heap goes back to the OS once the burst is over


def test_an_endless_burst_still_gets_a_full_collection_every_max_pause() -> None:
    heap, fake, clock, _ = make()
    heap.burst()
    clock.now += 14.0
    heap.tick()
    assert fake.collections == 0
    clock.now += 1.0
    heap.tick()
    assert fake.collections == 1 and not fake.enabled  # collected, still paused
    clock.now += 10.0
    heap.tick()
    assert fake.collections == 1  # the next one max_pause after the last
    clock.now += 5.0
    heap.tick()
    assert fake.collections == 2


def test_a_collector_someone_else_disabled_stays_disabled() -> None:
    heap, fake, clock, _ = make(enabled=False)
    heap.burst()
    clock.now += 60
    heap.tick()
    heap.settle()
    assert not fake.enabled and fake.collections == 0


def test_no_burst_no_change() -> None:
    heap, fake, clock, released = make()
    clock.now += 60
    heap.tick()
    heap.settle()
    assert fake.enabled and fake.collections == 0 and released == [1]


def test_the_real_collector_is_paused_and_restored() -> None:
    assert gc.isenabled()
    heap = BurstHeap(release=lambda: None)
    try:
        heap.burst()
        assert not gc.isenabled()
    finally:
        heap.settle()
    assert gc.isenabled()
