"""The consumer's hand-off between polling and the database thread, with a fake Kafka consumer and a
fake processor (no I/O): offsets are committed only for applied batches, and a failed batch rewinds."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from kafka import TopicPartition
from prometheus_client import CollectorRegistry

from services.indicators.consumer import EventsConsumer
from services.indicators.metrics import IndicatorsMetrics, observe_many
from services.indicators.processor import BatchResult, DecodedBatch

TP0, TP1 = TopicPartition("t", 0), TopicPartition("t", 1)


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None = None
    value: bytes | None = b"{}"
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def records(tp: TopicPartition, start: int, count: int) -> list[Record]:
    return [Record(tp.topic, tp.partition, offset) for offset in range(start, start + count)]


class FakeKafka:
    """Serves each partition's records from its position, ``per_poll`` at a time."""

    def __init__(self, log: dict[TopicPartition, int], per_poll: int = 2) -> None:
        self.ends = log
        self.positions = dict.fromkeys(log, 0)
        self.per_poll = per_poll
        self.commits: list[dict[TopicPartition, int]] = []
        self.seeks: list[tuple[TopicPartition, int]] = []

    def poll(self, timeout_ms: int = 0, max_records: int = 0) -> dict[TopicPartition, list[Record]]:
        polled = {}
        for tp, position in self.positions.items():
            count = min(self.per_poll, self.ends[tp] - position)
            if count > 0:
                polled[tp] = records(tp, position, count)
                self.positions[tp] = position + count
        return polled

    def assignment(self) -> set[TopicPartition]:
        return set(self.positions)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))
        self.positions[tp] = offset

    def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        self.commits.append({tp: meta.offset for tp, meta in offsets.items()})

    def highwater(self, tp: TopicPartition) -> int:
        return self.ends[tp]

    def position(self, tp: TopicPartition, timeout_ms: int = 0) -> int:
        return self.positions[tp]


class FakeProcessor:
    """Applies batches (records their offsets); the batches in ``fail`` raise once."""

    def __init__(self, fail: frozenset[int] = frozenset()) -> None:
        self.fail = set(fail)
        self.calls = 0
        self.applied: list[tuple[int, int]] = []  # (partition, offset)

    def decode(self, messages: list[Record]) -> DecodedBatch:
        return DecodedBatch(len(messages), messages, [], time.perf_counter())  # type: ignore[arg-type]

    def apply(self, batch: DecodedBatch) -> BatchResult:
        self.calls += 1
        if self.calls in self.fail:
            self.fail.discard(self.calls)
            raise RuntimeError("database went away")
        self.applied.extend((r.partition, r.offset) for r in batch.decoded)  # type: ignore[attr-defined]
        return BatchResult(messages=batch.messages)


def run_until_drained(consumer: EventsConsumer, kafka: FakeKafka, processor: FakeProcessor,
                      expected: int, steps: int = 50) -> None:
    from concurrent.futures import ThreadPoolExecutor

    consumer._consumer = kafka
    consumer._database = ThreadPoolExecutor(max_workers=1)
    try:
        for _ in range(steps):
            with contextlib.suppress(RuntimeError):  # the run loop backs off and steps again
                consumer.step()
            if len(set(processor.applied)) >= expected and consumer._inflight is None:
                break
    finally:
        consumer._database.shutdown(wait=True)


def make(processor: FakeProcessor) -> EventsConsumer:
    return EventsConsumer(lambda: None, "t", processor, None, IndicatorsMetrics(CollectorRegistry()),  # type: ignore[arg-type]
                          max_records=10)


def test_offsets_are_committed_only_for_batches_the_database_applied() -> None:
    kafka, processor = FakeKafka({TP0: 6, TP1: 4}), FakeProcessor()
    consumer = make(processor)
    run_until_drained(consumer, kafka, processor, expected=10)
    assert sorted(processor.applied) == [(0, o) for o in range(6)] + [(1, o) for o in range(4)]
    committed = {tp: max(c[tp] for c in kafka.commits if tp in c) for tp in (TP0, TP1)}
    assert committed == {TP0: 6, TP1: 4}
    assert consumer.batches == len(kafka.commits)


def test_a_failed_batch_rewinds_and_the_batch_decoded_behind_it_is_dropped_then_redelivered() -> None:
    kafka, processor = FakeKafka({TP0: 6, TP1: 4}), FakeProcessor(fail={2})
    consumer = make(processor)
    run_until_drained(consumer, kafka, processor, expected=10)
    # the second batch (offsets 2-3 of each partition) failed: seek back to it
    assert (TP0, 2) in kafka.seeks and (TP1, 2) in kafka.seeks
    assert sorted(set(processor.applied)) == [(0, o) for o in range(6)] + [(1, o) for o in range(4)]
    assert len(processor.applied) == len(set(processor.applied))  # nothing applied twice
    committed = {tp: max(c[tp] for c in kafka.commits if tp in c) for tp in (TP0, TP1)}
    assert committed == {TP0: 6, TP1: 4}


def test_a_committed_offset_never_runs_ahead_of_the_applied_events() -> None:
    kafka, processor = FakeKafka({TP0: 8}, per_poll=2), FakeProcessor(fail={3})
    consumer = make(processor)
    seen: list[tuple[int, set[tuple[int, int]]]] = []
    original = kafka.commit

    def checking_commit(offsets: dict[TopicPartition, Any]) -> None:
        seen.append((offsets[TP0].offset, set(processor.applied)))
        original(offsets)

    kafka.commit = checking_commit  # type: ignore[method-assign]
    run_until_drained(consumer, kafka, processor, expected=8)
    for offset, applied in seen:
        assert {(0, o) for o in range(offset)} <= applied


@pytest.mark.parametrize("count", [1, 7, 1000])
def test_observing_many_equal_latencies_at_once_equals_observing_them_one_by_one(count: int) -> None:
    one_by_one, at_once = IndicatorsMetrics(CollectorRegistry()), IndicatorsMetrics(CollectorRegistry())
    for _ in range(count):
        one_by_one.event_latency_seconds.observe(0.07)
    observe_many(at_once.event_latency_seconds, 0.07, count)

    def samples(m: IndicatorsMetrics) -> list[tuple[str, dict[str, str], float]]:
        return [(s.name, s.labels, s.value) for metric in m.event_latency_seconds.collect() for s in metric.samples
                if not s.name.endswith("_created")]

    expected, got = samples(one_by_one), samples(at_once)
    assert [(name, labels) for name, labels, _ in got] == [(name, labels) for name, labels, _ in expected]
    assert [value for *_, value in got] == pytest.approx([value for *_, value in expected])  # the sum: rounding
