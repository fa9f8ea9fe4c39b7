"""Publishing events to Kafka and waiting for every acknowledgement.

``KafkaPublisher`` builds its producer lazily and throws it away after a failure, so intake starts
and answers 503 while the broker is down and recovers on its own once the broker is back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from kafka import KafkaProducer
from kafka.errors import KafkaError

from shared.kafka import kafka_ping, make_producer

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Delivery:
    partition: int
    offset: int


class PublishUnavailable(Exception):
    """The event store did not acknowledge in time; nothing may be reported as accepted."""


class Publisher(Protocol):
    def publish(self, topic: str, messages: Sequence[OutgoingMessage], *, timeout: float) -> list[Delivery]:
        """Send all messages; return once every one is acknowledged, or raise PublishUnavailable."""
        ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


class KafkaPublisher:
    """A reconnect-capable idempotent producer (acks=all, lz4) shared by all request threads."""

    def __init__(self, bootstrap: str, *, client_id: str = "qw-intake", timeout: float = 10.0,
                 retry_backoff: float = 0.5, linger_ms: int = 5) -> None:
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._timeout = timeout
        self._retry_backoff = retry_backoff
        self._linger_ms = linger_ms
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()
        self._next_attempt = 0.0
        # Records a request gave up on expire soon after, so a discarded producer can close cleanly.
        self._request_timeout_ms = int(min(max(timeout, 1.0), 10.0) * 1000)
        self._delivery_timeout_ms = self._request_timeout_ms + linger_ms + 2_000

    def _get(self) -> KafkaProducer:
        producer = self._producer
        if producer is not None:
            return producer
        with self._lock:
            if self._producer is not None:
                return self._producer
            if time.monotonic() < self._next_attempt:
                raise PublishUnavailable("broker unreachable (backing off)")
            wait_ms = int(min(self._timeout, 5.0) * 1000)
            try:
                self._producer = make_producer(self._bootstrap, client_id=self._client_id, linger_ms=self._linger_ms,
                                               max_block_ms=wait_ms, bootstrap_timeout_ms=wait_ms,
                                               request_timeout_ms=self._request_timeout_ms,
                                               delivery_timeout_ms=self._delivery_timeout_ms)
            except KafkaError as exc:
                self._next_attempt = time.monotonic() + self._retry_backoff
                raise PublishUnavailable(f"broker unreachable: {exc}") from exc
            logger.info("kafka producer connected", extra={"bootstrap": self._bootstrap})
            return self._producer

    def publish(self, topic: str, messages: Sequence[OutgoingMessage], *, timeout: float) -> list[Delivery]:
        producer = self._get()
        deadline = time.monotonic() + timeout
        try:
            futures = [producer.send(topic, key=m.key, value=m.value, headers=m.headers) for m in messages]
            deliveries = []
            for future in futures:
                metadata = future.get(timeout=max(deadline - time.monotonic(), 0.001))
                deliveries.append(Delivery(metadata.partition, metadata.offset))
            return deliveries
        except KafkaError as exc:
            self._discard(producer)
            raise PublishUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def _discard(self, producer: KafkaProducer) -> None:
        """Drop a producer that failed; the next request builds a fresh one (after a short backoff)."""
        with self._lock:
            if self._producer is producer:
                self._producer = None
                self._next_attempt = time.monotonic() + self._retry_backoff
        logger.warning("kafka producer discarded after a failed publish", extra={"bootstrap": self._bootstrap})
        threading.Thread(target=self._close_quietly, args=(producer,), daemon=True).start()

    def _close_quietly(self, producer: KafkaProducer) -> None:
        # Waits until the abandoned records expire (delivery timeout), then closes the sender thread.
        try:
            producer.close(timeout=self._delivery_timeout_ms / 1000 + 5)
        except Exception:  # noqa: BLE001 - a discarded producer's close is best effort
            logger.debug("discarded kafka producer did not close cleanly", exc_info=True)

    def ping(self) -> None:
        kafka_ping(self._bootstrap, timeout_ms=2_000)

    def close(self) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is None:
            return
        try:
            producer.flush(timeout=self._timeout)
        except KafkaError:
            logger.warning("kafka producer closed with unacknowledged events", exc_info=True)
        producer.close(timeout=self._timeout)
