"""The consumer-lag gauge follows the partitions this process holds (a unit test: no broker)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kafka import TopicPartition
from prometheus_client import CollectorRegistry, Counter, Gauge

from shared.batch_consumer import BatchConsumer, ConsumerMetrics


class HandedOver:
    """A consumer that holds partitions 0–2, then (after a rebalance) only partition 2."""

    def __init__(self) -> None:
        self.partitions = [TopicPartition("events", p) for p in (0, 1, 2)]

    def assignment(self) -> set[TopicPartition]:
        return set(self.partitions)

    def highwater(self, tp: TopicPartition) -> int:
        return 100

    def position(self, tp: TopicPartition, timeout_ms: int = 0) -> int:
        return 40


def handle(records: Sequence[Any], commit: Any) -> None:
    return None


def lag_samples(registry: CollectorRegistry) -> dict[str, float]:
    return {s.labels["partition"]: s.value for m in registry.collect() for s in m.samples if m.name == "lag"}


def test_a_partition_handed_to_another_instance_leaves_the_lag_gauge() -> None:
    registry = CollectorRegistry()
    metrics = ConsumerMetrics(Gauge("lag", "lag", ["topic", "partition"], registry=registry),
                              Counter("failures", "failures", registry=registry))
    clock = iter(float(i) for i in range(100))
    loop: BatchConsumer[None] = BatchConsumer(lambda: HandedOver(), "events", handle, metrics,  # type: ignore[arg-type, return-value]
                                              name="lag-test", monotonic=lambda: next(clock))
    consumer = HandedOver()
    loop._update_lag(consumer)  # type: ignore[arg-type]
    assert lag_samples(registry) == {"0": 60, "1": 60, "2": 60} and loop.lag == 180

    consumer.partitions = [TopicPartition("events", 2)]
    loop._update_lag(consumer)  # type: ignore[arg-type]
    assert lag_samples(registry) == {"2": 60} and loop.lag == 60
