"""BurstHeap: full collections are held back during a log burst and come back after it (pure logic)."""

from __future__ import annotations

import gc

from liar_tui.ui.heap import BurstHeap


class FakeGC:
    def __init__(self, thresholds: tuple[int, int, int] = (700, 10, 10)) -> None:
        self.thresholds = thresholds
        self.collections = 0

    def get_threshold(self) -> tuple[int, int, int]:
        return self.thresholds

    def set_threshold(self, *t: int) -> None:
        self.thresholds = tuple(t)

    def collect(self) -> int:
        self.collections += 1
        return 0

    @property
    def full_held(self) -> bool:
        return self.thresholds[2] >= BurstHeap.HELD_THRESHOLD


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(thresholds: tuple[int, int, int] = (700, 10, 10)) -> tuple[BurstHeap, FakeGC, Clock, list[int]]:
    fake, clock, released = FakeGC(thresholds), Clock(), []
    heap = BurstHeap(max_pause=15.0, clock=clock, collector=fake, release=lambda: released.append(1))
    return heap, fake, clock, released


def test_a_burst_holds_back_full_collections_only_and_settle_brings_them_back() -> None:
    heap, fake, _clock, released = make((500, 7, 12))
    heap.burst()
    assert fake.full_held and heap.paused
    assert fake.thresholds[:2] == (500, 7)  # young generations are still collected
    heap.burst()  # more batches of the same burst change nothing
    assert fake.full_held
    heap.settle()
    assert fake.thresholds == (500, 7, 12) and not heap.paused
    assert released == [1]  # the freed heap goes back to the OS once the burst is over


def test_an_endless_burst_still_gets_a_full_collection_every_max_pause() -> None:
    heap, fake, clock, _ = make()
    heap.burst()
    clock.now += 14.0
    heap.tick()
    assert fake.collections == 0
    clock.now += 1.0
    heap.tick()
    assert fake.collections == 1 and fake.full_held  # collected, still held back
    clock.now += 10.0
    heap.tick()
    assert fake.collections == 1  # the next one max_pause after the last
    clock.now += 5.0
    heap.tick()
    assert fake.collections == 2


def test_no_burst_no_change() -> None:
    heap, fake, clock, released = make()
    clock.now += 60
    heap.tick()
    heap.settle()
    assert fake.thresholds == (700, 10, 10) and fake.collections == 0 and released == [1]


def test_the_real_collector_thresholds_are_held_and_restored() -> None:
    before = gc.get_threshold()
    heap = BurstHeap(release=lambda: None)
    try:
        heap.burst()
        assert gc.get_threshold()[2] == BurstHeap.HELD_THRESHOLD
        assert gc.isenabled()
    finally:
        heap.settle()
    assert gc.get_threshold() == before
