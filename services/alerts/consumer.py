"""Background loops: the figures consumer, the periodic evaluation pass, the delivery worker.

The consumer handles each polled batch in one transaction (``AlertService.handle_figures``) and
commits Kafka offsets only after that transaction committed. If the transaction fails, the
consumer seeks back to the batch's first offsets and tries again after a pause, so no figure is
skipped; a replay is harmless (see ``service.py``). A message that does not decode is logged, counted
(``qw_alerts_undecodable_figures_total``) and skipped (its offset is committed with the batch): indicators
republish every figure's state periodically, so the next message carries what it said.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from kafka import KafkaConsumer
from kafka.consumer.fetcher import ConsumerRecord
from pydantic import ValidationError

from services.alerts.deliver import DeliveryWorker
from services.alerts.metrics import AlertsMetrics
from services.alerts.service import AlertService
from shared.clock import Clock
from shared.figures import FigureChanged
from shared.kafka import CoordinatorWatch, subscribe_when_known

logger = logging.getLogger(__name__)


def decode(records: list[ConsumerRecord], metrics: AlertsMetrics | None = None) -> list[FigureChanged]:
    messages = []
    for record in records:
        try:
            messages.append(FigureChanged.model_validate_json(record.value))
        except (ValidationError, ValueError, TypeError) as exc:
            logger.error("undecodable figure message skipped", extra={
                "topic": record.topic, "partition": record.partition, "offset": record.offset,
                "error": str(exc)[:500]})
            if metrics is not None:
                metrics.undecodable.inc()
    return messages


class FigureConsumer:
    def __init__(self, *, factory: Callable[[], KafkaConsumer], topic: str, service: AlertService,
                 metrics: AlertsMetrics, clock: Clock, max_records: int = 2000, retry_pause: float = 2.0) -> None:
        self.factory = factory
        self.consumer: KafkaConsumer | None = None
        self.topic = topic
        self.service = service
        self.metrics = metrics
        self.clock = clock
        self.max_records = max_records
        self.retry_pause = retry_pause
        self.watch = CoordinatorWatch()

    def poll_once(self, timeout_ms: int = 500) -> int:
        """Poll, apply the batch in one transaction, then commit offsets; returns records handled."""
        consumer = self.open()
        batches = consumer.poll(timeout_ms=timeout_ms, max_records=self.max_records)
        records = [r for batch in batches.values() for r in batch]
        if records:
            try:
                self.service.handle_figures(decode(records, self.metrics), self.clock.now())
            except Exception:
                logger.error("figure batch failed; it will be retried", exc_info=True)
                for tp, batch in batches.items():
                    consumer.seek(tp, batch[0].offset)
                raise
            consumer.commit()
        self._report_lag(consumer)
        return len(records)

    def _report_lag(self, consumer: KafkaConsumer) -> None:
        assigned = list(consumer.assignment())
        if not assigned:
            return
        try:
            ends = consumer.end_offsets(assigned)
        except Exception:  # noqa: BLE001 - lag is best effort
            return
        for tp in assigned:
            position = consumer.position(tp)
            self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(max(0, ends.get(tp, 0) - position))

    def open(self) -> KafkaConsumer:
        """Create the consumer and subscribe (raises while the broker is unreachable)."""
        if self.consumer is None:
            consumer = self.factory()
            subscribe_when_known(consumer, self.topic)
            self.consumer = consumer
        return self.consumer

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    self.open()
                    self.poll_once()
                    if self.consumer is not None and self.watch.stalled(self.consumer):
                        logger.warning("consumer stuck without coordinator or partitions; rebuilding it",
                                       extra={"seconds": self.watch.after})
                        self.close()
                except Exception:  # noqa: BLE001 - logged; keep trying (broker or database down)
                    logger.warning("figure consumer not progressing; retrying", exc_info=True)
                    stop.wait(self.retry_pause)
        finally:
            self.close()


def run_every(stop: threading.Event, interval: float, step: Callable[[], object], name: str) -> None:
    """Call ``step`` every ``interval`` seconds until ``stop``; a failing step is logged, not fatal."""
    while not stop.is_set():
        try:
            step()
        except Exception:
            logger.exception(f"{name} failed")
        stop.wait(interval)


class Background:
    """The service's threads, started and stopped by the app's lifespan."""

    def __init__(self, *, consumer: FigureConsumer | None, service: AlertService, worker: DeliveryWorker,
                 clock: Clock, evaluation_interval: float, delivery_poll: float) -> None:
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        if consumer is not None:
            self.threads.append(threading.Thread(target=consumer.run, args=(self.stop,), name="qw-alerts-consumer",
                                                 daemon=True))
        self.threads.append(threading.Thread(
            target=run_every, name="qw-alerts-periodic", daemon=True,
            args=(self.stop, evaluation_interval, lambda: service.run_periodic(clock.now()), "periodic pass")))
        self.threads.append(threading.Thread(
            target=run_every, name="qw-alerts-delivery", daemon=True,
            args=(self.stop, delivery_poll, lambda: worker.run_once(clock.now()), "delivery run")))

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def close(self, timeout: float = 15.0) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout)


__all__ = ["Background", "FigureConsumer", "decode", "run_every"]
