"""The consumer's loop with a fake Kafka consumer, processor and publisher (no I/O): when offsets are
committed, what a failed commit does, and how often figures are published under a backlog."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kafka import TopicPartition
from kafka.errors import CommitFailedError
from prometheus_client import CollectorRegistry

from services.indicators.consumer import EventsConsumer
from services.indicators.metrics import IndicatorsMetrics
from services.indicators.processor import BatchResult

TP0 = TopicPartition("t", 0)


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None = None
    value: bytes | None = b"{}"
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class FakeKafka:
    """One partition of ``end`` records, served ``per_poll`` at a time from the position."""

    def __init__(self, end: int, per_poll: int, *, commits_fail: bool = False, arriving: int = 0) -> None:
        self.end = end
        self.arriving = arriving  # records produced before each poll (a live stream)
        self.position_ = 0
        self.per_poll = per_poll
        self.commits_fail = commits_fail
        self.async_commits: list[int] = []  # the position each async commit carried
        self.sync_commits: list[int] = []
        self.closed = False

    def poll(self, timeout_ms: int = 0, max_records: int = 0) -> dict[TopicPartition, list[Record]]:
        self.end += self.arriving
        count = min(self.per_poll, self.end - self.position_)
        if count <= 0:
            return {}
        polled = {TP0: [Record("t", 0, o) for o in range(self.position_, self.position_ + count)]}
        self.position_ += count
        return polled

    def assignment(self) -> set[TopicPartition]:
        return {TP0}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.position_ = offset

    def commit_async(self, offsets: Any = None, callback: Callable[[Any, Any], None] | None = None) -> None:
        self.async_commits.append(self.position_)
        if callback is not None:  # kafka-python calls it from a later poll; at once is enough here
            callback({TP0: self.position_}, CommitFailedError("rebalanced") if self.commits_fail else object())

    def commit(self, offsets: Any = None, timeout_ms: int | None = None) -> None:
        self.sync_commits.append(self.position_)

    def close(self, autocommit: bool = True) -> None:
        self.closed = True

    def highwater(self, tp: TopicPartition) -> int:
        return self.end

    def position(self, tp: TopicPartition, timeout_ms: int = 0) -> int:
        return self.position_


class FakeProcessor:
    """Applies every batch (its first call fails if ``fail_first``); each batch touches one figure."""

    def __init__(self, *, fail_first: bool = False, hold_first: bool = False) -> None:
        self.fail_first = fail_first
        self.hold_first = hold_first  # the first batch commits but keeps its offsets (dead letters refused)
        self.applied: list[int] = []

    def process(self, messages: list[Record], commit_offsets: Callable[[], None]) -> BatchResult:
        if self.fail_first:
            self.fail_first = False
            raise RuntimeError("database went away")
        self.applied.extend(m.offset for m in messages)
        if self.hold_first:
            self.hold_first = False
        else:
            commit_offsets()
        return BatchResult(messages=len(messages), touched={("agri", "320000", None): [f"e{messages[0].offset}"]})


class FakePublisher:
    def __init__(self) -> None:
        self.publishes = 0
        self.added = 0

    def add(self, touched: object) -> None:
        self.added += 1

    def publish(self) -> None:
        self.publishes += 1


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(kafka: FakeKafka, processor: FakeProcessor, publisher: FakePublisher | None = None,
         clock: Clock | None = None, registry: CollectorRegistry | None = None) -> EventsConsumer:
    consumer = EventsConsumer(lambda: kafka, "t", processor, publisher,  # type: ignore[arg-type]
                              IndicatorsMetrics(registry or CollectorRegistry()), max_records=10,
                              publish_interval=0.2, backlog_publish_interval=1.0, monotonic=clock or Clock())
    consumer.loop.consumer = kafka  # type: ignore[assignment]
    return consumer


def test_each_applied_batch_commits_the_offsets_after_it_and_closing_commits_and_waits() -> None:
    kafka, processor = FakeKafka(end=25, per_poll=10), FakeProcessor()
    consumer = make(kafka, processor)
    for _ in range(4):
        consumer.loop.step()
    assert processor.applied == list(range(25))
    assert kafka.async_commits == [10, 20, 25]
    consumer.loop.close()
    assert kafka.sync_commits == [25] and kafka.closed


def test_a_failed_batch_is_rewound_and_nothing_is_committed_for_it() -> None:
    kafka, processor = FakeKafka(end=10, per_poll=10), FakeProcessor(fail_first=True)
    consumer = make(kafka, processor)
    try:
        consumer.loop.step()
        raise AssertionError("the failing batch should raise")
    except RuntimeError:
        pass
    assert kafka.async_commits == [] and kafka.position_ == 0
    consumer.loop.step()
    assert processor.applied == list(range(10)) and kafka.async_commits == [10]


def test_a_batch_that_kept_its_offsets_comes_again_and_its_result_still_counts() -> None:
    kafka, processor, publisher = FakeKafka(end=10, per_poll=10), FakeProcessor(hold_first=True), FakePublisher()
    consumer = make(kafka, processor, publisher)
    consumer.loop.step()
    assert kafka.async_commits == [] and kafka.position_ == 0  # rewound: the next poll reads it again
    assert publisher.added == 1  # its figures went to the publisher all the same
    consumer.loop.step()
    assert processor.applied == [*range(10), *range(10)] and kafka.async_commits == [10]


def test_a_failed_offset_commit_is_counted_and_the_applied_batch_stays_applied() -> None:
    registry = CollectorRegistry()
    kafka, processor = FakeKafka(end=20, per_poll=10, commits_fail=True), FakeProcessor()
    consumer = make(kafka, processor, registry=registry)
    consumer.loop.step()
    consumer.loop.step()
    assert processor.applied == list(range(20)) and kafka.position_ == 20  # not rewound: applied is applied
    assert registry.get_sample_value("qw_indicators_offset_commit_failures_total") == 2


def test_under_a_backlog_figures_are_published_at_most_once_per_backlog_interval() -> None:
    clock, publisher = Clock(), FakePublisher()
    kafka = FakeKafka(end=200, per_poll=10)  # full polls (max_records=10): a backlog
    consumer = make(kafka, FakeProcessor(), publisher, clock)
    for _ in range(20):  # 20 full batches over 1.9 s
        consumer.loop.step()
        clock.now += 0.1
    assert publisher.publishes == 2  # at the first batch, then one backlog interval later
    consumer.loop.step()  # the backlog is worked off: an empty poll publishes what is pending at once
    assert publisher.publishes == 3


def test_a_backlog_seen_in_the_lag_slows_publishing_even_when_polls_are_not_full() -> None:
    clock, publisher = Clock(), FakePublisher()
    kafka = FakeKafka(end=1000, per_poll=5)  # half-full polls (max_records=10), but 995 records behind
    consumer = make(kafka, FakeProcessor(), publisher, clock)
    for _ in range(20):  # 20 batches over 1.9 s
        consumer.loop.step()
        clock.now += 0.1
    assert publisher.publishes == 2


def test_without_a_backlog_figures_are_published_every_publish_interval() -> None:
    clock, publisher = Clock(), FakePublisher()
    kafka = FakeKafka(end=0, per_poll=5, arriving=5)  # half-full polls, nothing left behind: keeping up
    consumer = make(kafka, FakeProcessor(), publisher, clock)
    for _ in range(20):  # 20 batches over 1.9 s
        consumer.loop.step()
        clock.now += 0.1
    assert publisher.publishes == 10  # every 0.2 s
