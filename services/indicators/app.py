"""Wiring: ``create_app(settings)`` builds the catalogue, engine, reader, producer and metrics. Nothing
connects at import; background work starts in the lifespan (``background=False`` serves the API alone,
for tests that need no broker): the events consumer thread, the figure publish worker, the periodic
recompute thread and, on SQLite, the WAL checkpointer."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from services.indicators import api, dashboard
from services.indicators.consumer import EventsConsumer
from services.indicators.deadletters import KafkaDeadLetterSink
from services.indicators.metrics import IndicatorsMetrics
from services.indicators.processor import BatchProcessor
from services.indicators.publish_worker import PublishWorker
from services.indicators.publisher import FigurePublisher
from services.indicators.reader import FigureReader
from shared.auth import Authenticator
from shared.bodylimit import BodyLimits
from shared.catalogue import load_catalogue
from shared.clock import Clock, SystemClock
from shared.db import make_engine, make_sessionmaker, ping, start_wal_checkpointer
from shared.kafka import Producer, kafka_ping, make_consumer, make_producer
from shared.openapi import install_api_docs
from shared.periodic import PeriodicTask
from shared.settings import Settings
from shared.web import CachedCheck, install_common_routes


def create_app(settings: Settings, *, clock: Clock | None = None, registry: CollectorRegistry | None = None,
               background: bool = True) -> FastAPI:
    clock = clock or SystemClock()
    registry = registry if registry is not None else CollectorRegistry()
    catalogue = load_catalogue(settings.catalogue_path)
    engine = make_engine(settings.effective_database_url)
    sessions = make_sessionmaker(engine)
    metrics = IndicatorsMetrics(registry)
    reader = FigureReader(catalogue, sessions, clock)
    producer_lock = threading.Lock()
    holder: dict[str, Producer] = {}

    def get_producer() -> Producer:
        with producer_lock:
            if "producer" not in holder:
                holder["producer"] = make_producer(settings.kafka_bootstrap, client_id="qw-indicators")
            return holder["producer"]

    def build_publisher() -> FigurePublisher:
        return FigurePublisher(catalogue, sessions, reader, get_producer(), settings.figures_topic, metrics, clock,
                               timeout=settings.publish_timeout_seconds)

    def build_consumer(publisher: PublishWorker) -> EventsConsumer:
        processor = BatchProcessor(catalogue, sessions, KafkaDeadLetterSink(
            get_producer(), settings.dead_letter_topic, settings.publish_timeout_seconds), metrics, clock)
        return EventsConsumer(
            lambda: make_consumer(settings.kafka_bootstrap, group_id=settings.indicators_group,
                                  client_id="qw-indicators", max_poll_records=settings.consumer_max_records),
            settings.events_topic, processor, publisher, metrics, max_records=settings.consumer_max_records)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        workers: list[EventsConsumer | PeriodicTask | PublishWorker] = []
        if background:
            publisher = build_publisher()
            publish_worker = PublishWorker(publisher)
            consumer = build_consumer(publish_worker)
            # Every evaluated figure, every interval (rolling windows move with time), and once at start.
            periodic = PeriodicTask(publisher.periodic, settings.recompute_interval_seconds,
                                    name="indicators-recompute", failure="periodic recompute failed",
                                    first_at_start=True)
            app.state.consumer = consumer
            publish_worker.start()
            consumer.start()
            periodic.start()
            workers = [consumer, publish_worker, periodic]  # stopped in this order: the consumer's last figures go out
            checkpointer = start_wal_checkpointer(engine)
            if checkpointer is not None:
                workers.append(checkpointer)  # stopped last, after the consumer's final commit
        try:
            yield
        finally:
            for worker in workers:
                worker.stop()
            producer = holder.pop("producer", None)
            if producer is not None:
                producer.close(timeout=5)
            engine.dispose()

    app = FastAPI(title="QualityWatch indicators", version="1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Live figures against the plan's targets: value, sample size, 95 % interval, status.")
    app.state.settings = settings
    app.state.catalogue = catalogue
    app.state.clock = clock
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.metrics = metrics
    app.state.reader = reader
    app.state.get_producer = get_producer
    app.state.consumer = None
    app.state.authenticator = Authenticator(sessions, settings.admin_token, clock=clock)
    install_common_routes(app, service="indicators", registry=registry, checks={
        "kafka": CachedCheck(lambda: kafka_ping(settings.kafka_bootstrap)),
        "database": CachedCheck(lambda: ping(engine)),
    }, body_limits=BodyLimits.from_settings(settings))
    app.include_router(api.router)
    app.include_router(dashboard.router)
    install_api_docs(app)
    return app
