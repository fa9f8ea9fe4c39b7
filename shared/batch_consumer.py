"""The one batch-consumer loop of the services: poll a batch, handle it, commit offsets after it.

``handle`` applies a batch in one database transaction. Offsets are committed only after it
returned, so a crash in between redelivers the batch and the handler's de-duplication absorbs it.
The commit is not waited for: a commit lost to a crash or a rebalance only means that the
partition's next owner re-reads the batch, and the next batch's commit covers it; closing commits
and waits. When ``handle`` raises, nothing is committed: the consumer seeks back to the batch's first
offsets and the loop retries with a growing pause, so nothing is lost and nothing counted twice. A
consumer stuck without a coordinator or partitions (``CoordinatorWatch``) is closed and rebuilt.

kafka-python heartbeats from its own IO thread but rejoins a rebalancing group only inside ``poll``,
so every member's rebalance waits for the slowest member's current step (up to the rebalance timeout,
``max_poll_interval_ms``). A step therefore handles at most ``max_records`` records and never waits for
Kafka while it holds the database: handlers send what must go to Kafka after their commit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from kafka import TopicPartition
from prometheus_client import Counter, Gauge

from shared.daemon_loop import DaemonLoop
from shared.kafka import Consumer, CoordinatorWatch, subscribe_when_known

logger = logging.getLogger(__name__)

Result = TypeVar("Result")


@dataclass(frozen=True)
class ConsumerMetrics:
    """The loop's metrics: lag per (topic, partition); failed batches and offset commits if counted."""

    lag: Gauge
    batch_failures: Counter | None = None
    commit_failures: Counter | None = None


class BatchConsumer(DaemonLoop, Generic[Result]):
    """Runs ``handle(records, commit_offsets)`` over polled batches in a daemon thread named ``name``;
    ``handle`` calls ``commit_offsets()`` as its last step, once its transaction committed. A handler
    that returns without calling it (its transaction committed, but a step after it failed) gets the
    same records again from the next poll, and its result still goes to ``after_commit``.

    ``on_start()`` runs first in the thread; ``after_commit(result)`` runs after each handled batch;
    ``idle()`` after an empty poll and when the loop ends. ``ready`` is set once the consumer has
    partitions; ``assigned`` and ``lag`` (records behind over the assigned partitions, refreshed every
    ``lag_every`` seconds) are as of the last poll."""

    def __init__(self, make_consumer: Callable[[], Consumer], topic: str,
                 handle: Callable[[Sequence[Any], Callable[[], None]], Result], metrics: ConsumerMetrics, *,
                 name: str, on_start: Callable[[], None] | None = None,
                 after_commit: Callable[[Result], None] | None = None, idle: Callable[[], None] | None = None,
                 max_records: int = 2000, poll_timeout_ms: int = 200, max_backoff: float = 10.0,
                 lag_every: float = 1.0, watch: CoordinatorWatch | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__(name)
        self._make_consumer = make_consumer
        self.topic = topic
        self.handle = handle
        self.metrics = metrics
        self.on_start = on_start
        self.after_commit = after_commit
        self.idle = idle
        self.max_records = max_records
        self.poll_timeout_ms = poll_timeout_ms
        self.max_backoff = max_backoff
        self.lag_every = lag_every
        self.watch = watch or CoordinatorWatch()
        self._monotonic = monotonic
        self.consumer: Consumer | None = None
        self._last_lag = float("-inf")
        self.lag = 0
        self._lag_labels: set[tuple[str, str]] = set()
        self.batches = 0
        self.ready = threading.Event()
        self.assigned: frozenset[TopicPartition] = frozenset()

    # ---- lifecycle --------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._consume()
        finally:
            self.close()

    def _consume(self) -> None:
        if self.on_start is not None:
            self.on_start()
        backoff = 0.5
        while not self._stop.is_set():
            try:
                self.open()
                self.step()
                backoff = 0.5
                if self.consumer is not None and self.watch.stalled(self.consumer):
                    logger.warning("consumer stuck without coordinator or partitions; rebuilding it",
                                   extra={"topic": self.topic, "seconds": self.watch.after})
                    self.close()
            except Exception:  # noqa: BLE001 - keep consuming; the batch was not committed
                if self.metrics.batch_failures is not None:
                    self.metrics.batch_failures.inc()
                logger.exception("batch failed; retrying", extra={"topic": self.topic, "backoff_seconds": backoff})
                self._stop.wait(backoff)
                backoff = min(self.max_backoff, backoff * 2)
        if self.idle is not None:
            self.idle()

    def open(self) -> Consumer:
        """Create the consumer and subscribe once the topic is known (raises while the broker is down)."""
        if self.consumer is None:
            self.consumer = self._make_consumer()  # kept first, so close() closes it if subscribing fails
            subscribe_when_known(self.consumer, self.topic)
        return self.consumer

    def close(self) -> None:
        """Commit the positions and wait (the last batches' commits were not waited for), then close."""
        consumer, self.consumer = self.consumer, None
        if consumer is None:
            return
        try:
            consumer.commit(timeout_ms=2_000)
        except Exception:  # noqa: BLE001 - not committed: the next owner re-reads and deduplicates
            logger.info("final offset commit failed; the next owner will skip the batches as applied",
                        exc_info=True)
        try:
            consumer.close(autocommit=False)
        except Exception:  # noqa: BLE001
            logger.warning("consumer close failed", exc_info=True)

    # ---- one poll ---------------------------------------------------------------------------
    def step(self) -> int:
        """Poll once, handle what came and commit its offsets; returns the records handled."""
        consumer = self.consumer
        assert consumer is not None
        polled = consumer.poll(timeout_ms=self.poll_timeout_ms, max_records=self.max_records)
        self.assigned = frozenset(consumer.assignment())
        if self.assigned:
            self.ready.set()
        self._update_lag(consumer)
        if not polled:
            if self.idle is not None:
                self.idle()
            return 0
        records = [r for batch in polled.values() for r in batch]
        committed = False

        def commit_offsets() -> None:
            nonlocal committed
            consumer.commit_async(callback=self._commit_done)
            committed = True

        try:
            result = self.handle(records, commit_offsets)
        except Exception:
            self._rewind(consumer, polled)  # not applied: the next poll returns the same records
            raise
        if not committed:
            self._rewind(consumer, polled)
        self.batches += 1
        if self.after_commit is not None:
            try:
                self.after_commit(result)
            except Exception:  # noqa: BLE001 - the batch stays committed; only what follows it failed
                logger.exception("step after a committed batch failed", extra={"topic": self.topic})
        return len(records)

    @staticmethod
    def _rewind(consumer: Consumer, polled: Mapping[TopicPartition, Sequence[Any]]) -> None:
        for tp, batch in polled.items():
            consumer.seek(tp, batch[0].offset)

    def _commit_done(self, offsets: object, response: object) -> None:
        if isinstance(response, Exception):
            if self.metrics.commit_failures is not None:
                self.metrics.commit_failures.inc()
            logger.warning("offset commit failed after a committed batch; redelivery will be deduplicated",
                           extra={"topic": self.topic, "error": str(response)})

    def _update_lag(self, consumer: Consumer) -> None:
        now = self._monotonic()
        if now - self._last_lag < self.lag_every:
            return
        self._last_lag = now
        lag = 0
        assigned = consumer.assignment()
        # A partition handed to another group member leaves this process's gauge: its last value would
        # otherwise stay behind as lag that no one is working off (two instances never showed lag 0).
        for labels in self._lag_labels - {(tp.topic, str(tp.partition)) for tp in assigned}:
            self.metrics.lag.remove(*labels)
            self._lag_labels.discard(labels)
        for tp in assigned:
            high = consumer.highwater(tp)
            if high is None:
                continue
            try:
                position = consumer.position(tp, timeout_ms=100)
            except Exception:  # noqa: BLE001 - lag is best effort
                continue
            if position is not None:
                behind = max(0, high - position)
                lag += behind
                self.metrics.lag.labels(tp.topic, str(tp.partition)).set(behind)
                self._lag_labels.add((tp.topic, str(tp.partition)))
        self.lag = lag
