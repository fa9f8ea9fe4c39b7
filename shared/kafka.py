"""Kafka plumbing: producers that acknowledge durably, consumers that commit by hand, topics."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
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
        "bootstrap_timeout_ms": 5_000,
    }
    options.update(overrides)
    return KafkaConsumer(**options)


def ensure_topics(bootstrap: str, topics: Mapping[str, int], *, replication: int = 1) -> None:
    """Create the topics that are missing (name -> partitions); existing ones are left alone."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="qw-admin",
                             bootstrap_timeout_ms=5_000, request_timeout_ms=15_000)
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(name, partitions, replication) for name, partitions in topics.items()
                   if name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing)
            logger.info("topics created", extra={"topics": [t.name for t in missing]})
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
