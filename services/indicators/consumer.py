"""The events consumer: the shared batch loop running each batch through the processor's checkpoint,
then handing the figures it touched to the publisher.

Figure publishing is coalesced: after each batch the touched figures are added to the publisher, and
a publish is asked for at most every ``publish_interval`` seconds (``backlog_publish_interval`` while
working through a backlog, i.e. the poll came back full or the lag was a batch or more at the last
look, when each recompute would be stale at once; at once when a poll comes back empty), always after
the batches' database commits. The periodic pass still republishes whatever a failed publish missed.

A batch keeps thousands of events (and their models, states, rows) alive at once; with the default
collector threshold (700) the cyclic GC runs every few dozen events and re-scans them. ``tune_gc``
raises the first-generation threshold (process-wide, only upward) and freezes what exists at start.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from kafka import TopicPartition

from services.indicators.apply import Touched
from services.indicators.metrics import IndicatorsMetrics
from services.indicators.processor import BatchProcessor, BatchResult
from shared.batch_consumer import BatchConsumer, ConsumerMetrics
from shared.kafka import Consumer

GC_GEN0_THRESHOLD = 50_000  # a batch allocates ~100k objects


def tune_gc(gen0: int = GC_GEN0_THRESHOLD) -> None:
    """Collect the young generation every ``gen0`` net allocations rather than every 700 (never lowers
    it), and move what exists at start (modules, classes, the catalogue, ...) out of the collector's
    view (``gc.freeze``), so that a full collection scans the batches' objects, not the whole heap."""
    first, second, third = gc.get_threshold()
    if first < gen0:
        gc.set_threshold(gen0, second, third)
    gc.collect()
    gc.freeze()


class FigureHandover(Protocol):
    """Where the consumer leaves touched figures (``PublishWorker``): ``add`` keeps them, ``publish``
    asks for everything kept so far to go out."""

    def add(self, touched: Mapping[Touched, list[str]]) -> None: ...
    def publish(self) -> None: ...


class EventsConsumer:
    def __init__(self, make_consumer: Callable[[], Consumer], topic: str, processor: BatchProcessor,
                 publisher: FigureHandover | None, metrics: IndicatorsMetrics, *, max_records: int = 2000,
                 poll_timeout_ms: int = 200, max_backoff: float = 10.0,
                 after_commit: Callable[[BatchResult], None] | None = None,
                 publish_interval: float = 0.2, backlog_publish_interval: float = 1.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.processor = processor
        self.publisher = publisher
        self.after_commit = after_commit
        self.publish_interval = publish_interval
        self.backlog_publish_interval = backlog_publish_interval
        self._monotonic = monotonic
        self._last_publish = 0.0
        self._unpublished = False  # figures added since the last publish
        self.loop: BatchConsumer[BatchResult] = BatchConsumer(
            make_consumer, topic, processor.process,
            ConsumerMetrics(metrics.consumer_lag, metrics.batch_failures, metrics.commit_failures),
            name="indicators-consumer", on_start=tune_gc, after_commit=self._committed, idle=self.publish_pending,
            max_records=max_records, poll_timeout_ms=poll_timeout_ms, max_backoff=max_backoff,
            monotonic=monotonic)

    def start(self) -> None:
        self.loop.start()

    def stop(self, timeout: float = 15.0) -> None:
        self.loop.stop(timeout)

    @property
    def alive(self) -> bool:
        return self.loop.alive

    @property
    def ready(self) -> threading.Event:
        return self.loop.ready

    @property
    def assigned(self) -> frozenset[TopicPartition]:
        return self.loop.assigned

    @property
    def batches(self) -> int:
        return self.loop.batches

    def _committed(self, result: BatchResult) -> None:
        if self.after_commit is not None:
            self.after_commit(result)
        if self.publisher is None or not result.touched:
            return
        self.publisher.add(result.touched)
        self._unpublished = True
        # Working through a backlog (a full poll, or at least a batch's worth of lag at the last look), each
        # recompute would be stale at once: publish less often. (A poll returns what is buffered, at most one
        # fetch per partition, so with a large ``max_records`` polls are rarely full even far behind.)
        max_records = self.loop.max_records
        backlog = result.messages >= max_records or self.loop.lag >= max_records
        interval = self.backlog_publish_interval if backlog else self.publish_interval
        if self._monotonic() - self._last_publish >= interval:
            self.publish_pending()

    def publish_pending(self) -> None:
        """Ask for the figures added since the last publish to go out."""
        if self.publisher is None or not self._unpublished:
            return
        self._unpublished = False
        self._last_publish = self._monotonic()
        self.publisher.publish()
