"""Kafka plumbing: producers that acknowledge durably, consumers that commit by hand, topics."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import TopicAlreadyExistsError
from kafka.partitioner import DefaultPartitioner
from kafka.partitioner.abc import Partitioner
from kafka.partitioner.default import murmur2

logger = logging.getLogger(__name__)


class KeyHashPartitioner(Partitioner):
    """Places keyed records exactly as kafka-python's ``DefaultPartitioner`` (and the Java client) do:
    murmur2 of the key over the topic's sorted partitions. The default builds two sets, a sorted list and
    a list of available partitions for every record (a tenth of intake's CPU per event); here the sorted
    partitions are kept per topic and rebuilt when the topic's partition count changes. Keyless records go
    to the default partitioner."""

    def __init__(self) -> None:
        self._sorted: dict[str, tuple[int, ...]] = {}
        self._default = DefaultPartitioner()

    def partition(self, topic: str, key: Any, serialized_key: bytes | None, value: Any,
                  serialized_value: bytes | None, cluster: Any) -> int:
        if serialized_key is None:
            return int(self._default.partition(topic, key, serialized_key, value, serialized_value, cluster))
        partitions = cluster.partitions_for_topic(topic)
        if partitions is None:
            raise ValueError(f"Topic {topic} not found in ClusterMetadata")
        ordered = self._sorted.get(topic)
        if ordered is None or len(ordered) != len(partitions):
            ordered = self._sorted[topic] = tuple(sorted(partitions))
        return ordered[(murmur2(serialized_key) & 0x7FFFFFFF) % len(ordered)]


class RecordMetadata(Protocol):
    """Where the broker stored an acknowledged record."""

    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...


class SendFuture(Protocol):
    """kafka-python's ``FutureRecordMetadata``, as far as the services use it (kafka-python ships no
    annotations, so this states the surface the code relies on)."""

    @property
    def value(self) -> RecordMetadata:
        """The acknowledged record's metadata; read only once the future succeeded."""
        ...

    def get(self, timeout: float | None = None) -> RecordMetadata: ...
    def add_callback(self, fn: Callable[[RecordMetadata], object]) -> SendFuture: ...
    def add_errback(self, fn: Callable[[BaseException], object]) -> SendFuture: ...


class Producer(Protocol):
    """kafka-python's ``KafkaProducer``, as far as the services use it."""

    def send(self, topic: str, value: bytes | None = None, key: bytes | None = None,
             headers: Sequence[tuple[str, bytes]] | None = None) -> SendFuture: ...
    def flush(self, timeout: float | None = None) -> None: ...
    def close(self, timeout: float | None = None) -> None: ...


def make_producer(bootstrap: str, *, client_id: str, linger_ms: int = 2, **overrides: Any) -> Producer:
    """An idempotent producer that waits for every in-sync replica (acks=all)."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "client_id": client_id,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": linger_ms,
        "batch_size": 256 * 1024,
        "compression_type": "lz4",
        "partitioner": KeyHashPartitioner(),
        "retries": 5,
        "request_timeout_ms": 10_000,
        "max_block_ms": 5_000,
        "bootstrap_timeout_ms": 5_000,
    }
    options.update(overrides)
    return KafkaProducer(**options)


class ConsumedRecord(Protocol):
    """kafka-python's ``ConsumerRecord``, as far as the services read it."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


class Consumer(Protocol):
    """kafka-python's ``KafkaConsumer``, as far as the services use it."""

    def subscribe(self, topics: Sequence[str]) -> None: ...
    def partitions_for_topic(self, topic: str) -> set[int] | None: ...
    def poll(self, timeout_ms: int = 0,
             max_records: int | None = None) -> Mapping[TopicPartition, list[ConsumedRecord]]: ...
    def assignment(self) -> set[TopicPartition]: ...
    def seek(self, partition: TopicPartition, offset: int) -> None: ...
    def highwater(self, partition: TopicPartition) -> int | None: ...
    def position(self, partition: TopicPartition, timeout_ms: int | None = None) -> int | None: ...
    def commit(self, offsets: object = None, timeout_ms: int | None = None) -> None: ...
    def commit_async(self, offsets: object = None,
                     callback: Callable[[object, object], object] | None = None) -> None:
        """Returns a kafka-python Future the services never use: they are told through ``callback``."""
        ...

    def close(self, autocommit: bool = True, timeout_ms: int | None = None) -> None: ...


def make_consumer(bootstrap: str, *, group_id: str, client_id: str, **overrides: Any) -> Consumer:
    """A group consumer that never commits on its own: callers commit after their transaction."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "group_id": group_id,
        "client_id": client_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        "fetch_max_wait_ms": 20,
        "max_poll_records": 2000,
        "max_poll_interval_ms": 300_000,
        "session_timeout_ms": 10_000,
        "heartbeat_interval_ms": 2_000,
        # Notice new topics and partitions within seconds, not the default five minutes.
        "metadata_max_age_ms": 5_000,
        "bootstrap_timeout_ms": 5_000,
    }
    options.update(overrides)
    return KafkaConsumer(**options)


def subscribe_when_known(consumer: Consumer, topic: str, *, timeout: float = 10.0) -> None:
    """Subscribe once the consumer's own metadata knows the topic's partitions.

    A consumer that joins its group while its metadata still lacks a just-created topic gets an
    empty assignment ("No partition metadata for topic") and waits for its next metadata refresh
    before it rejoins; fetching the topic's partitions first avoids that wait.
    """
    deadline = time.monotonic() + timeout
    while not consumer.partitions_for_topic(topic) and time.monotonic() < deadline:
        time.sleep(0.2)
    consumer.subscribe([topic])


class CoordinatorWatch:
    """Tells when a group consumer has been stuck for ``after`` seconds: no group coordinator, or a
    finished group join that left it without partitions.

    kafka-python can get stuck in two ways, both seen in the fault drills (tests/drills): after a
    broker outage its find-coordinator request may never complete, so it never rejoins the group;
    and a consumer that joins while a just-created topic has no partition metadata yet may keep an
    empty assignment for good. Throwing the consumer away and building a new one recovers; it is safe
    because offsets are committed only after each batch's transaction (a rebuilt consumer re-reads at
    most an uncommitted batch, which de-duplication absorbs).

    A consumer whose join is still in flight is not stuck: it waits for the group's other members to
    rejoin, which takes as long as their current batches. Rebuilding it would leave and rejoin the
    group, so every member would have to rejoin again: under load a rebalance slower than ``after``
    would then restart for good instead of completing. Run no more instances in a group than the topic
    has partitions: a surplus member, idle by design, would rejoin every ``after`` seconds.
    """

    def __init__(self, after: float = 15.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.after = after
        self.clock = clock
        self._stuck_since: float | None = None

    def stalled(self, consumer: Consumer) -> bool:
        now = self.clock()
        if not self._stuck(consumer):
            self._stuck_since = None
            return False
        if self._stuck_since is None:
            self._stuck_since = now
        if now - self._stuck_since < self.after:
            return False
        self._stuck_since = None
        return True

    @staticmethod
    def _stuck(consumer: Consumer) -> bool:
        try:
            coordinator = getattr(consumer, "_coordinator", None)  # private API: if it changes, skip those parts
            if coordinator is not None and coordinator.coordinator_unknown():
                return True
            if consumer.assignment():
                return False
            joining = coordinator is not None and (getattr(coordinator, "rejoin_needed", False) is True
                                                   or getattr(coordinator, "rejoining", False) is True)
            return not joining
        except Exception:  # noqa: BLE001 - never let the watch break the consumer loop
            return False


def ensure_topics(bootstrap: str, topics: Mapping[str, int], *, replication: int = 1, timeout: float = 30) -> None:
    """Create the topics that are missing (name -> partitions) and wait until every partition has a
    leader, so a consumer subscribing next sees them; existing topics are left alone."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="qw-admin",
                             bootstrap_timeout_ms=5_000, request_timeout_ms=15_000)
    try:
        spec = {name: {"num_partitions": n, "replication_factor": replication} for name, n in topics.items()}
        response = admin.create_topics(spec, timeout_ms=int(timeout * 1000), raise_errors=False)
        failed = [t for t in response["topics"] if t["error_code"] not in (0, TopicAlreadyExistsError.errno)]
        if failed:
            raise RuntimeError(f"could not create topics: {failed}")
        admin.wait_for_topics(list(topics), timeout_ms=int(timeout * 1000))
        logger.info("topics ready", extra={"topics": sorted(topics)})
    finally:
        admin.close()


def kafka_ping(bootstrap: str, timeout_ms: int = 3_000) -> None:
    """Raise unless the broker answers a metadata request."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="qw-ping",
                             bootstrap_timeout_ms=timeout_ms, request_timeout_ms=timeout_ms)
    try:
        admin.list_topics()
    finally:
        admin.close()
