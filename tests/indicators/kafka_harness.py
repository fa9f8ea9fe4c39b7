"""A real-broker indicator pipeline for integration tests: topics, a producer in intake's format, and
consumers wired as the service wires them."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer
from prometheus_client import CollectorRegistry

from services.indicators.consumer import EventsConsumer
from services.indicators.deadletters import KafkaDeadLetterSink
from services.indicators.metrics import IndicatorsMetrics
from services.indicators.processor import BatchProcessor
from services.indicators.publish_worker import PublishWorker
from services.indicators.publisher import FigurePublisher
from services.indicators.reader import FigureReader
from shared.catalogue import Catalogue
from shared.clock import Clock
from shared.db import make_engine, make_sessionmaker, migrate
from shared.kafka import ensure_topics, make_consumer, make_producer
from shared.settings import Settings
from tests.indicators import factory
from tests.support import wait_for

_clients = itertools.count()


@dataclass
class Pipeline:
    settings: Settings
    catalogue: Catalogue
    clock: Clock
    events_partitions: int = 6
    consumers: list[EventsConsumer] = field(default_factory=list)
    publish_workers: list[PublishWorker] = field(default_factory=list)

    def __post_init__(self) -> None:
        ensure_topics(self.settings.kafka_bootstrap, {self.settings.events_topic: self.events_partitions,
                                                      self.settings.figures_topic: 3,
                                                      self.settings.dead_letter_topic: 1})
        migrate(self.settings.effective_database_url)
        self.engine = make_engine(self.settings.effective_database_url)
        self.sessions = make_sessionmaker(self.engine)
        self.reader = FigureReader(self.catalogue, self.sessions, self.clock)
        self.producer = make_producer(self.settings.kafka_bootstrap, client_id="test-producer")
        wait_for(lambda: len(self.producer.partitions_for(self.settings.events_topic) or ()) == self.events_partitions,
                 what="the events topic's partitions in the metadata")

    def produce(self, objs: Iterable[dict[str, Any]]) -> None:
        futures = []
        for obj in objs:
            key, value, headers = factory.encode(obj)
            futures.append(self.producer.send(self.settings.events_topic, key=key, value=value, headers=headers))
        for future in futures:
            future.get(timeout=30)

    def produce_raw(self, key: bytes, value: bytes) -> None:
        self.producer.send(self.settings.events_topic, key=key, value=value).get(timeout=30)

    def start_consumer(self, *, publish: bool = False, registry: CollectorRegistry | None = None) -> EventsConsumer:
        metrics = IndicatorsMetrics(registry or CollectorRegistry())
        settings = self.settings
        processor = BatchProcessor(self.catalogue, self.sessions,
                                   KafkaDeadLetterSink(self.producer, settings.dead_letter_topic), metrics, self.clock)
        publisher = None
        if publish:  # as the service runs it: published from a worker thread
            publisher = PublishWorker(FigurePublisher(self.catalogue, self.sessions, self.reader, self.producer,
                                                      settings.figures_topic, metrics, self.clock))
            publisher.start()
            self.publish_workers.append(publisher)
        client_id = f"test-indicators-{next(_clients)}"
        consumer = EventsConsumer(
            # The deployed session timeout (10 s): with 6 s, a loaded machine starved kafka-python's network
            # thread long enough for the broker to drop a member, and the two-instance test then waited over
            # 30 s for the partitions to settle (2 of 6 full test runs on 2026-11-28).
            lambda: make_consumer(settings.kafka_bootstrap, group_id=settings.indicators_group, client_id=client_id),
            settings.events_topic, processor, publisher, metrics, max_records=500, max_backoff=1.0)
        consumer.start()
        self.consumers.append(consumer)
        return consumer

    def read_topic(self, topic: str, count: int, timeout: float = 20.0) -> list[Any]:
        reader = KafkaConsumer(topic, bootstrap_servers=self.settings.kafka_bootstrap, auto_offset_reset="earliest",
                               enable_auto_commit=False, consumer_timeout_ms=500)
        found: list[Any] = []
        deadline = time.monotonic() + timeout
        try:
            while len(found) < count and time.monotonic() < deadline:
                for records in reader.poll(timeout_ms=200).values():
                    found.extend(records)
        finally:
            reader.close()
        return found

    def figure(self, indicator: str, region: str = "320000", category: str | None = None, window: str = "30d"):  # noqa: ANN201
        spec = self.catalogue.indicator(indicator)
        assert spec is not None
        return self.reader.figure(spec, region, category, window)

    def close(self) -> None:
        for consumer in self.consumers:
            consumer.stop()
        for worker in self.publish_workers:
            worker.stop()
        self.producer.close(timeout=5)
        self.engine.dispose()
