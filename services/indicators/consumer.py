"""The events consumer: poll a batch, apply it in one transaction, then commit offsets.

Offsets are committed only after the database commit, so a crash in between redelivers the batch,
and ``applied_event`` makes the second application a no-op. The commit is sent without waiting for
the broker's answer: a commit lost to a crash or a rebalance only means that the partition's next
owner re-reads the batch and skips it as applied, and the next batch's commit covers it anyway
(failures are counted in ``qw_indicators_offset_commit_failures_total``); on close the positions are
committed and waited for. When the transaction fails (database restarting, a deadlock), nothing is
committed: the consumer seeks back to the batch's first offsets and retries with backoff, so nothing
is lost and nothing counted twice.

Figure publishing is coalesced: the figures touched by committed batches are gathered and published
together at most every ``publish_interval`` seconds (``backlog_publish_interval`` while working through
a backlog, i.e. a poll came back full or the lag was a batch or more at the last look, when each recompute
would be stale at once; at once when a poll comes back empty), always after the batches' database
commits. The periodic pass still republishes whatever a failed publish missed. The service's
publisher is a ``PublishWorker``: this thread hands the figures over and the worker recomputes and
publishes them from its own, so that consumption does not wait for the broker's acknowledgements.

A batch keeps thousands of events (and their models, states, rows) alive at once; with the default
collector threshold (700) the cyclic GC runs every few dozen events and re-scans them, about a third
of the consumer's CPU. ``tune_gc`` raises the first-generation threshold (process-wide, only upward)
and freezes what exists at start when the consumer starts.

(Polling the next batch while a database thread applied the previous one was tried twice: ~15 %
faster on a quiet machine, slower on a busy one, and in one of four full test runs a rebalance then
took over 30 s to hand partitions over; the loop stays sequential.)
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable

from kafka import TopicPartition

from services.indicators.apply import Touched
from services.indicators.metrics import IndicatorsMetrics
from services.indicators.processor import BatchProcessor, BatchResult
from services.indicators.publish_worker import BatchPublisher, merge_touched
from shared.kafka import CoordinatorWatch, subscribe_when_known

logger = logging.getLogger(__name__)

ConsumerFactory = Callable[[], object]
GC_GEN0_THRESHOLD = 50_000  # a batch allocates ~100k objects: 10k still cost ~15 % of the CPU


def tune_gc(gen0: int = GC_GEN0_THRESHOLD) -> None:
    """Collect the young generation every ``gen0`` net allocations rather than every 700 (never lowers
    it), and move what exists at start (modules, classes, the catalogue, ...) out of the collector's
    view (``gc.freeze``), so that a full collection scans the batches' objects, not the whole heap."""
    first, second, third = gc.get_threshold()
    if first < gen0:
        gc.set_threshold(gen0, second, third)
    gc.collect()
    gc.freeze()


class EventsConsumer:
    def __init__(self, make_consumer: ConsumerFactory, topic: str, processor: BatchProcessor,
                 publisher: BatchPublisher | None, metrics: IndicatorsMetrics, *, max_records: int = 2000,
                 poll_timeout_ms: int = 200, max_backoff: float = 10.0,
                 after_commit: Callable[[BatchResult], None] | None = None,
                 publish_interval: float = 0.2, backlog_publish_interval: float = 1.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._make_consumer = make_consumer
        self.topic = topic
        self.processor = processor
        self.publisher = publisher
        self.metrics = metrics
        self.max_records = max_records
        self.poll_timeout_ms = poll_timeout_ms
        self.max_backoff = max_backoff
        self.after_commit = after_commit
        self.publish_interval = publish_interval
        self.backlog_publish_interval = backlog_publish_interval
        self._monotonic = monotonic
        self._pending: dict[Touched, list[str]] = {}  # committed, not yet published
        self._last_publish = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._consumer: object | None = None
        self._last_lag = float("-inf")
        self._lag = 0  # records behind, over the assigned partitions, at the last look
        self.batches = 0
        self.ready = threading.Event()  # set once the consumer has an assignment
        self.watch = CoordinatorWatch()
        self.assigned: frozenset[TopicPartition] = frozenset()  # as of the last poll

    # ---- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="indicators-consumer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> None:
        tune_gc()
        backoff = 0.5
        while not self._stop.is_set():
            try:
                if self._consumer is None:
                    self._consumer = self._make_consumer()
                    subscribe_when_known(self._consumer, self.topic)  # type: ignore[arg-type]
                self.step()
                backoff = 0.5
                if self.watch.stalled(self._consumer):  # type: ignore[arg-type]
                    logger.warning("consumer stuck without coordinator or partitions; rebuilding it",
                                   extra={"seconds": self.watch.after})
                    self._close()
            except Exception:  # noqa: BLE001 - keep consuming; the batch was not committed
                self.metrics.batch_failures.inc()
                logger.exception("batch failed; retrying", extra={"backoff_seconds": backoff})
                self._stop.wait(backoff)
                backoff = min(self.max_backoff, backoff * 2)
        self.publish_pending()
        self._close()

    def _close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:  # the last batches' offsets (their commits were not waited for), so a restart skips them
                consumer.commit(timeout_ms=2_000)  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001 - not committed: the next owner re-reads and deduplicates
                logger.info("final offset commit failed; the next owner will skip the batches as applied",
                            exc_info=True)
            try:
                consumer.close(autocommit=False)  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001
                logger.warning("consumer close failed", exc_info=True)

    # ---- one poll ---------------------------------------------------------------------------
    def step(self) -> BatchResult | None:
        consumer = self._consumer
        assert consumer is not None
        polled = consumer.poll(timeout_ms=self.poll_timeout_ms, max_records=self.max_records)  # type: ignore[attr-defined]
        self.assigned = frozenset(consumer.assignment())  # type: ignore[attr-defined]
        if self.assigned:
            self.ready.set()
        self._update_lag(consumer)
        if not polled:
            self.publish_pending()
            return None
        messages = [r for records in polled.values() for r in records]  # ConsumerRecords are Records
        first = {tp: records[0].offset for tp, records in polled.items() if records}
        try:
            result = self.processor.process(messages)
        except Exception:
            # Not applied: rewind so that the next poll returns the same records.
            for tp, offset in first.items():
                consumer.seek(tp, offset)  # type: ignore[attr-defined]
            raise
        # Not waited for: a commit lost to a rebalance or a crash only means the new owner re-reads
        # the batch and skips it as applied; the next batch's commit covers this one's offsets.
        consumer.commit_async(callback=self._commit_done)  # type: ignore[attr-defined]
        self.batches += 1
        if self.after_commit is not None:
            self.after_commit(result)
        if self.publisher is not None and result.touched:
            merge_touched(self._pending, result.touched)
        # Working through a backlog (a full poll, or at least a batch's worth of lag at the last look), each
        # recompute would be stale at once: publish less often. (A poll returns what is buffered, at most one
        # fetch per partition, so with a large ``max_records`` polls are rarely full even far behind.)
        backlog = len(messages) >= self.max_records or self._lag >= self.max_records
        interval = self.backlog_publish_interval if backlog else self.publish_interval
        if self._monotonic() - self._last_publish >= interval:
            self.publish_pending()
        return result

    def _commit_done(self, offsets: object, response: object) -> None:
        if isinstance(response, Exception):
            self.metrics.commit_failures.inc()
            logger.warning("offset commit failed after a committed batch; redelivery will be deduplicated",
                           extra={"error": str(response)})

    def publish_pending(self) -> None:
        """Publish the changes of the figures committed batches touched since the last publish."""
        if self.publisher is None or not self._pending:
            return
        touched, self._pending = self._pending, {}
        self._last_publish = self._monotonic()
        try:
            self.publisher.on_batch(touched)
        except Exception:  # noqa: BLE001 - the periodic pass republishes
            logger.warning("figure publish failed; the periodic pass will retry", exc_info=True)

    def _update_lag(self, consumer: object, every: float = 1.0) -> None:
        now = self._monotonic()
        if now - self._last_lag < every:
            return
        self._last_lag = now
        self._lag = 0
        for tp in consumer.assignment():  # type: ignore[attr-defined]
            assert isinstance(tp, TopicPartition)
            high = consumer.highwater(tp)  # type: ignore[attr-defined]
            if high is None:
                continue
            try:
                position = consumer.position(tp, timeout_ms=100)  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001
                continue
            if position is not None:
                lag = max(0, high - position)
                self._lag += lag
                self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(lag)
