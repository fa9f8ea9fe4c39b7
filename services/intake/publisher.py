"""Publishing events to Kafka and waiting for every acknowledgement.

``KafkaPublisher`` builds its producer lazily and throws it away after a failure, so intake starts
and answers 503 while the broker is down and recovers on its own once the broker is back.

``publish_async`` is the request path: it hands the records to the producer and awaits one asyncio
future that the producer's sender thread completes (``loop.call_soon_threadsafe``) once the *last*
record of the request is acknowledged, so no thread is held per waiting request and concurrent
requests share the producer's batches (group commit through ``linger_ms``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from kafka.errors import KafkaError, KafkaTimeoutError

from shared.kafka import Producer, SendFuture, kafka_ping, make_producer

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


class AsyncPublisher(Publisher, Protocol):
    async def publish_async(self, topic: str, messages: Sequence[OutgoingMessage], *,
                            timeout: float) -> list[Delivery]:
        """Like ``publish``, awaited on the event loop without holding a thread while waiting for acks."""
        ...


def async_publish(publisher: Publisher) -> Callable[..., Awaitable[list[Delivery]]]:
    """The publisher's ``publish_async``, or its blocking ``publish`` run in a worker thread."""
    native = getattr(publisher, "publish_async", None)
    if native is not None:
        return native

    async def in_thread(topic: str, messages: Sequence[OutgoingMessage], *, timeout: float) -> list[Delivery]:
        return await asyncio.to_thread(publisher.publish, topic, messages, timeout=timeout)

    return in_thread


class _Acks:
    """Counts a request's acknowledgements in the sender thread; wakes the event loop once, at the end.

    The same two bound methods serve every record (no per-record partial); the offsets are read from the
    records' futures once all of them are done."""

    __slots__ = ("_loop", "future", "_left", "_lock", "_failed", "records")

    def __init__(self, loop: asyncio.AbstractEventLoop, count: int) -> None:
        self._loop = loop
        self.future: asyncio.Future[list[Delivery]] = loop.create_future()
        self._left = count
        self._lock = threading.Lock()
        self._failed = False
        self.records: list[SendFuture] = []

    def acked(self, _metadata: object) -> None:
        with self._lock:
            self._left -= 1
            done = self._left == 0 and not self._failed
        if done:
            self._loop.call_soon_threadsafe(self._resolve)

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            first, self._failed = not self._failed, True
        if first:
            self._loop.call_soon_threadsafe(self._reject, exc)

    def _resolve(self) -> None:
        if not self.future.done():
            self.future.set_result([Delivery(r.value.partition, r.value.offset) for r in self.records])

    def _reject(self, exc: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exc)


class KafkaPublisher:
    """A reconnect-capable idempotent producer (acks=all, lz4) shared by all request threads."""

    def __init__(self, bootstrap: str, *, client_id: str = "qw-intake", timeout: float = 10.0,
                 retry_backoff: float = 0.5, linger_ms: int = 1) -> None:
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._timeout = timeout
        self._retry_backoff = retry_backoff
        self._linger_ms = linger_ms
        self._producer: Producer | None = None
        # Topics whose partitions this producer knows: ``send`` to them does not block on metadata.
        self._topics_known: set[str] = set()
        self._lock = threading.Lock()
        # Big requests (and the first to a topic) are handed to the producer on this one thread: appends from
        # several threads at once contend for the producer's partition locks under the GIL.
        self._send_thread = ThreadPoolExecutor(1, thread_name_prefix="intake-send")
        self._next_attempt = 0.0
        # Records a request gave up on expire soon after, so a discarded producer can close cleanly.
        self._request_timeout_ms = int(min(max(timeout, 1.0), 10.0) * 1000)
        self._delivery_timeout_ms = self._request_timeout_ms + linger_ms + 2_000

    def _get(self) -> Producer:
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
            self._topics_known = set()
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

    async def publish_async(self, topic: str, messages: Sequence[OutgoingMessage], *,
                            timeout: float) -> list[Delivery]:
        loop = asyncio.get_running_loop()
        producer = self._producer
        if producer is None:  # building one connects to the broker: not on the event loop
            producer = await asyncio.to_thread(self._get)
        acks = _Acks(loop, len(messages))
        try:
            if topic in self._topics_known and len(messages) <= 64:
                self._send(producer, topic, messages, acks)
            else:  # send() may wait for topic metadata (up to max_block_ms); many records take a while
                await loop.run_in_executor(self._send_thread, self._send, producer, topic, messages, acks)
                self._topics_known.add(topic)
            expiry = loop.call_later(timeout, acks.failed, KafkaTimeoutError(f"no ack within {timeout} s"))
            try:
                return await acks.future
            finally:
                expiry.cancel()
        except KafkaError as exc:
            self._discard(producer)
            raise PublishUnavailable(f"{type(exc).__name__}: {exc}") from exc

    @staticmethod
    def _send(producer: Producer, topic: str, messages: Sequence[OutgoingMessage], acks: _Acks) -> None:
        send, record = producer.send, acks.records.append
        acked, failed = acks.acked, acks.failed
        for m in messages:
            future = send(topic, key=m.key, value=m.value, headers=m.headers)
            record(future)
            future.add_callback(acked)
            future.add_errback(failed)

    def _discard(self, producer: Producer) -> None:
        """Drop a producer that failed; the next request builds a fresh one (after a short backoff)."""
        with self._lock:
            if self._producer is producer:
                self._producer = None
                self._next_attempt = time.monotonic() + self._retry_backoff
        logger.warning("kafka producer discarded after a failed publish", extra={"bootstrap": self._bootstrap})
        threading.Thread(target=self._close_quietly, args=(producer,), daemon=True).start()

    def _close_quietly(self, producer: Producer) -> None:
        # Waits until the abandoned records expire (delivery timeout), then closes the sender thread.
        try:
            producer.close(timeout=self._delivery_timeout_ms / 1000 + 5)
        except Exception:  # noqa: BLE001 - a discarded producer's close is best effort
            logger.debug("discarded kafka producer did not close cleanly", exc_info=True)

    def ping(self) -> None:
        kafka_ping(self._bootstrap, timeout_ms=2_000)

    def close(self) -> None:
        self._send_thread.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is None:
            return
        try:
            producer.flush(timeout=self._timeout)
        except KafkaError:
            logger.warning("kafka producer closed with unacknowledged events", exc_info=True)
        producer.close(timeout=self._timeout)
