"""The alert service's one wiring point: ``create_app(settings, clock=..., registry=...)``.

Nothing connects at import. The lifespan starts the background threads (figures consumer,
periodic pass, delivery worker) unless ``run_background=False`` (tests drive them by hand through
``app.state.alerts``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CollectorRegistry

from services.alerts import api, api_loop, api_subscriptions
from services.alerts.consumer import Background, figure_consumer
from services.alerts.deliver import DeliveryWorker, Jitter
from services.alerts.metrics import AlertsMetrics
from services.alerts.rules import RuleBook
from services.alerts.runtime import AlertsRuntime
from services.alerts.service import AlertService
from services.alerts.urlpolicy import Resolver, system_resolver
from shared.auth import Authenticator
from shared.bodylimit import BodyLimits
from shared.catalogue import load_catalogue
from shared.clock import Clock, SystemClock
from shared.db import make_engine, make_sessionmaker, ping
from shared.kafka import kafka_ping, make_consumer
from shared.openapi import install_api_docs
from shared.settings import Settings
from shared.web import CachedCheck, install_common_routes


def build_runtime(settings: Settings, *, clock: Clock | None = None, registry: CollectorRegistry | None = None,
                  rules: RuleBook | None = None, http_client: httpx.Client | None = None,
                  jitter: Jitter | None = None, resolver: Resolver = system_resolver) -> AlertsRuntime:
    clock = clock or SystemClock()
    metrics = AlertsMetrics(registry or CollectorRegistry())
    catalogue = load_catalogue(settings.catalogue_path)
    engine = make_engine(settings.effective_database_url)
    sessions = make_sessionmaker(engine)
    service = AlertService(catalogue=catalogue, rules=rules or RuleBook.from_settings(settings), sessions=sessions,
                           metrics=metrics, dashboard_url=settings.dashboard_public_url)
    worker = DeliveryWorker(service=service, settings=settings, metrics=metrics, client=http_client, jitter=jitter,
                            resolver=resolver)
    consumer = figure_consumer(
        factory=lambda: make_consumer(settings.kafka_bootstrap, group_id=settings.alerts_group,
                                      client_id="qw-alerts", max_poll_records=settings.consumer_max_records),
        topic=settings.figures_topic, service=service, metrics=metrics, clock=clock,
        max_records=settings.consumer_max_records)
    return AlertsRuntime(settings=settings, catalogue=catalogue, engine=engine, sessions=sessions, service=service,
                         worker=worker, consumer=consumer, metrics=metrics, clock=clock, resolver=resolver)


def create_app(settings: Settings, *, clock: Clock | None = None, registry: CollectorRegistry | None = None,
               rules: RuleBook | None = None, http_client: httpx.Client | None = None, jitter: Jitter | None = None,
               resolver: Resolver = system_resolver, run_background: bool = True) -> FastAPI:
    registry = registry or CollectorRegistry()
    runtime = build_runtime(settings, clock=clock, registry=registry, rules=rules, http_client=http_client,
                            jitter=jitter, resolver=resolver)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        background = None
        if run_background:
            background = Background(consumer=runtime.consumer, service=runtime.service, worker=runtime.worker,
                                    clock=runtime.clock, evaluation_interval=settings.evaluation_interval_seconds,
                                    delivery_poll=settings.delivery_poll_seconds)
            background.start()
        try:
            yield
        finally:
            if background is not None:
                background.close()
            runtime.worker.close()
            runtime.engine.dispose()

    app = FastAPI(title="QualityWatch alerts", version="1.0",
                  description="Plan thresholds, alert state, agency subscriptions and signed webhook deliveries.",
                  lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.alerts = runtime
    app.state.settings, app.state.catalogue, app.state.clock = settings, runtime.catalogue, runtime.clock
    app.state.sessions = runtime.sessions
    app.state.authenticator = Authenticator(runtime.sessions, settings.admin_token, clock=clock)
    origins = settings.dashboard_origin_list
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"])
    install_common_routes(app, service="alerts", registry=registry, checks={
        "kafka": CachedCheck(lambda: kafka_ping(settings.kafka_bootstrap)),
        "database": CachedCheck(lambda: ping(runtime.engine)),
    }, body_limits=BodyLimits.from_settings(settings))
    app.include_router(api.router)
    app.include_router(api_subscriptions.router)
    app.include_router(api_loop.router)
    install_api_docs(app)
    return app
