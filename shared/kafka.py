"""Kafka plumbing: producers that acknowledge durably, consumers that commit by hand, topics."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import TopicAlreadyExistsError

logger = logging.getLogger(__name__)


def make_producer(bootstrap: str, *, client_id: str, linger_ms: int = 2, **overrides: Any) -> KafkaProducer:
    """An idempotent producer that waits for every in-sync replica (acks=all)."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "client_id": client_id,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": linger_ms,
        "batch_size": 256 * 1024,
        "compression_type": "lz4",
        "retries": 5,
        "request_timeout_ms": 10_000,
        "max_block_ms": 5_000,
        "bootstrap_timeout_ms": 5_000,
    }
    options.update(overrides)
    return KafkaProducer(**options)


def make_consumer(bootstrap: str, *, group_id: str, client_id: str, **overrides: Any) -> KafkaConsumer:
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


class CoordinatorWatch:
    """Tells when a group consumer has not known its group coordinator for ``after`` seconds.

    kafka-python can get stuck after a broker outage: the consumer keeps polling but its
    find-coordinator request never completes, so it never rejoins the group and never consumes
    again (seen in the broker-restart fault drill, tests/drills). Throwing the consumer away and
    building a new one recovers; it is safe because offsets are committed only after each batch's
    transaction (a rebuilt consumer re-reads at most an uncommitted batch, which dedup absorbs).
    """

    def __init__(self, after: float = 15.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.after = after
        self.clock = clock
        self._unknown_since: float | None = None

    def stalled(self, consumer: KafkaConsumer) -> bool:
        coordinator = getattr(consumer, "_coordinator", None)
        try:
            unknown = bool(coordinator.coordinator_unknown()) if coordinator is not None else False
        except Exception:  # noqa: BLE001 - a private API; if it changes, never claim a stall
            unknown = False
        now = self.clock()
        if not unknown:
            self._unknown_since = None
            return False
        if self._unknown_since is None:
            self._unknown_since = now
        if now - self._unknown_since < self.after:
            return False
        self._unknown_since = None
        return True


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
