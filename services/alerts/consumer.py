"""Background work of the alert service: the figures consumer, the periodic evaluation pass and the
delivery worker.

The consumer is the shared batch loop (``shared.batch_consumer``): each polled batch is handled in one
transaction (``AlertService.handle_figures``) and its offsets are committed only after it; a failed
batch is rewound and retried, and a replay is harmless (see ``service.py``). A message that does not
decode is logged, counted (``qw_alerts_undecodable_figures_total``) and skipped (its offset is committed
with the batch): indicators republish every figure's state periodically, so the next message carries
what it said.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from pydantic import ValidationError

from services.alerts.deliver import DeliveryWorker
from services.alerts.metrics import AlertsMetrics
from services.alerts.service import AlertService
from shared.batch_consumer import BatchConsumer, ConsumerMetrics
from shared.clock import Clock
from shared.figures import FigureChanged
from shared.kafka import ConsumedRecord, Consumer
from shared.periodic import PeriodicTask

logger = logging.getLogger(__name__)


def decode(records: Sequence[ConsumedRecord], metrics: AlertsMetrics | None = None) -> list[FigureChanged]:
    messages = []
    for record in records:
        try:
            # A tombstone (value None) fails validation and is skipped like any undecodable message.
            messages.append(FigureChanged.model_validate_json(record.value))  # type: ignore[arg-type]  # see above
        except (ValidationError, ValueError, TypeError) as exc:
            logger.error("undecodable figure message skipped", extra={
                "topic": record.topic, "partition": record.partition, "offset": record.offset,
                "error": str(exc)[:500]})
            if metrics is not None:
                metrics.undecodable.inc()
    return messages


def figure_consumer(*, factory: Callable[[], Consumer], topic: str, service: AlertService,
                    metrics: AlertsMetrics, clock: Clock, max_records: int = 2000,
                    retry_pause: float = 2.0) -> BatchConsumer[object]:
    """The figures consumer: each batch decoded, applied in one transaction, then its offsets committed."""

    def handle(records: Sequence[ConsumedRecord], commit_offsets: Callable[[], None]) -> object:
        result = service.handle_figures(decode(records, metrics), clock.now())
        commit_offsets()
        return result

    return BatchConsumer(factory, topic, handle, ConsumerMetrics(metrics.consumer_lag), name="qw-alerts-consumer",
                         max_records=max_records, poll_timeout_ms=500, max_backoff=retry_pause)


class Background:
    """The service's background loops, started and stopped by the app's lifespan."""

    def __init__(self, *, consumer: BatchConsumer[object] | None, service: AlertService, worker: DeliveryWorker,
                 clock: Clock, evaluation_interval: float, delivery_poll: float) -> None:
        self.consumer = consumer
        self.tasks = [
            PeriodicTask(lambda: service.run_periodic(clock.now()), evaluation_interval, name="qw-alerts-periodic",
                         failure="periodic pass failed", first_at_start=True),
            PeriodicTask(lambda: worker.poll(clock.now()), delivery_poll, name="qw-alerts-delivery",
                         failure="delivery run failed", first_at_start=True),
        ]

    def start(self) -> None:
        if self.consumer is not None:
            self.consumer.start()
        for task in self.tasks:
            task.start()

    def close(self, timeout: float = 15.0) -> None:
        """Ask every loop to stop first, then wait for each: no loop starts another step while an
        earlier one is being waited for."""
        loops = [*([self.consumer] if self.consumer is not None else []), *self.tasks]
        for loop in loops:
            loop.signal_stop()
        for loop in loops:
            loop.stop(timeout)


__all__ = ["Background", "decode", "figure_consumer"]
