"""The stall detector the consumers use to rebuild a kafka-python consumer stuck without a group
coordinator or without partitions (found by the broker- and database-restart drills). Pure: a fake
consumer and a fake clock."""

from __future__ import annotations

from shared.kafka import CoordinatorWatch


class FakeCoordinator:
    def __init__(self) -> None:
        self.unknown = False
        self.rejoin_needed = False  # kafka-python: a group join is due or in flight

    def coordinator_unknown(self) -> bool:
        return self.unknown


class FakeConsumer:
    def __init__(self) -> None:
        self._coordinator = FakeCoordinator()
        self.partitions = {"p0"}

    def assignment(self) -> set[str]:
        return self.partitions


def test_a_consumer_without_a_coordinator_for_longer_than_the_limit_is_reported_once() -> None:
    now = [0.0]
    watch = CoordinatorWatch(after=15, clock=lambda: now[0])
    consumer = FakeConsumer()
    assert not watch.stalled(consumer)
    consumer._coordinator.unknown = True
    assert not watch.stalled(consumer)  # the clock starts
    now[0] = 14.9
    assert not watch.stalled(consumer)
    now[0] = 15.0
    assert watch.stalled(consumer)
    assert not watch.stalled(consumer)  # a rebuilt consumer gets its own 15 seconds


def test_finding_the_coordinator_again_resets_the_clock() -> None:
    now = [0.0]
    watch = CoordinatorWatch(after=15, clock=lambda: now[0])
    consumer = FakeConsumer()
    consumer._coordinator.unknown = True
    watch.stalled(consumer)
    now[0] = 10.0
    consumer._coordinator.unknown = False
    assert not watch.stalled(consumer)
    consumer._coordinator.unknown = True
    now[0] = 20.0
    assert not watch.stalled(consumer)
    now[0] = 34.0
    assert not watch.stalled(consumer)
    now[0] = 35.0
    assert watch.stalled(consumer)


def test_a_consumer_left_without_partitions_is_reported_after_the_limit() -> None:
    now = [0.0]
    watch = CoordinatorWatch(after=15, clock=lambda: now[0])
    consumer = FakeConsumer()
    consumer.partitions = set()
    assert not watch.stalled(consumer)
    now[0] = 15.0
    assert watch.stalled(consumer)


def test_a_consumer_that_breaks_the_watch_is_never_called_stalled() -> None:
    watch = CoordinatorWatch(after=0, clock=lambda: 100.0)
    assert not watch.stalled(object())  # type: ignore[arg-type]


def test_a_consumer_waiting_for_its_group_join_is_not_stalled_however_long_it_waits() -> None:
    now = [0.0]
    watch = CoordinatorWatch(after=15, clock=lambda: now[0])
    consumer = FakeConsumer()
    consumer.partitions = set()
    consumer._coordinator.rejoin_needed = True  # joining: the other members have not rejoined yet
    assert not watch.stalled(consumer)
    now[0] = 60.0
    assert not watch.stalled(consumer)
    consumer._coordinator.rejoin_needed = False  # joined, and still no partitions: stuck from now on
    assert not watch.stalled(consumer)
    now[0] = 75.0
    assert watch.stalled(consumer)
