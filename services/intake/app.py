"""Intake wiring: ``create_app(settings)`` builds everything; nothing connects at import."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from prometheus_client import CollectorRegistry
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from services.intake.accept import EventIntake, IntakeLimits
from services.intake.errors import Rejection
from services.intake.events_api import install_event_routes
from services.intake.group_commit import LedgerWorker
from services.intake.keys import router as keys_router
from services.intake.metrics import IntakeMetrics
from services.intake.openapi import install_openapi
from services.intake.publisher import KafkaPublisher, Publisher
from services.intake.sheets.reading import ReadLimits
from services.intake.sheets.upload import UploadService
from services.intake.status import router as status_router
from services.intake.store import EventLedger
from services.intake.uploads_api import router as uploads_router
from shared.auth import Authenticator
from shared.bodylimit import BodyLimits, BodyTooLarge, declare_body_limit
from shared.catalogue import load_catalogue
from shared.clock import Clock, SystemClock
from shared.db import make_engine, make_sessionmaker, ping
from shared.openapi import install_api_docs
from shared.settings import Settings
from shared.web import CachedCheck, install_common_routes

logger = logging.getLogger(__name__)


def create_app(settings: Settings, *, clock: Clock | None = None, registry: CollectorRegistry | None = None,
               publisher: Publisher | None = None) -> FastAPI:
    clock = clock or SystemClock()
    # Read (not connected) here: the OpenAPI document lists the catalogue's agencies.
    catalogue = load_catalogue(settings.catalogue_path)
    registry = registry if registry is not None else CollectorRegistry()
    metrics = IntakeMetrics(registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = settings.effective_database_url
        engine = make_engine(url)
        owned = publisher is None
        active = publisher or KafkaPublisher(settings.kafka_bootstrap, timeout=settings.publish_timeout_seconds,
                                           linger_ms=settings.publish_linger_ms)
        state = app.state
        state.settings, state.clock, state.catalogue, state.metrics = settings, clock, catalogue, metrics
        state.engine, state.sessions, state.publisher = engine, make_sessionmaker(engine), active
        state.authenticator = Authenticator(state.sessions, settings.admin_token, clock=clock)
        ledger = LedgerWorker(EventLedger(engine))
        state.intake = EventIntake(
            catalogue=catalogue, clock=clock, ledger=ledger, publisher=active, metrics=metrics,
            topic=settings.events_topic,
            limits=IntakeLimits(max_batch_events=settings.max_batch_events,
                                grace_period=dt.timedelta(days=settings.grace_period_days),
                                future_skew=dt.timedelta(seconds=settings.future_skew_seconds),
                                publish_timeout=settings.publish_timeout_seconds))
        state.uploads = UploadService(
            intake=state.intake, catalogue=catalogue, clock=clock, sessions=state.sessions,
            limits=ReadLimits(max_rows=settings.max_upload_rows,
                              max_uncompressed=settings.max_upload_uncompressed_bytes),
            publish_timeout=max(60.0, settings.publish_timeout_seconds))
        logger.info("intake ready", extra={"topic": settings.events_topic, "database": engine.dialect.name})
        try:
            yield
        finally:
            intake, state.intake = state.intake, None  # the event routes answer 503 while stopping
            state.uploads = None
            intake.close()
            ledger.close()
            if owned:
                active.close()
            engine.dispose()

    # FastAPI's own OpenTelemetry hooks are off: unconfigured, they still cost a provider look-up per request.
    app = FastAPI(title="QualityWatch intake", version="1.0.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  telemetry={"tracing": False, "metrics": False, "logs": False},
                  description="Labs post inspection and sampling events; operators manage API keys.")

    def kafka_check() -> None:
        app.state.publisher.ping()

    def database_check() -> None:
        ping(app.state.engine)

    install_common_routes(app, service="intake", registry=registry,
                          checks={"kafka": CachedCheck(kafka_check, ttl=2.0), "database": database_check},
                          body_limits=BodyLimits.from_settings(settings))
    app.include_router(keys_router)
    app.include_router(status_router)
    app.include_router(uploads_router)
    declare_body_limit(app, "/v1/uploads", settings.max_upload_bytes)
    install_event_routes(app, settings.max_batch_events, settings.max_body_bytes)
    # Starlette types a handler as taking any Exception but calls it only with the class it is registered for.
    app.add_exception_handler(Rejection, _rejected)  # type: ignore[arg-type]  # gets only a Rejection
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]  # only HTTPException
    app.add_exception_handler(BodyTooLarge, _too_large)  # type: ignore[arg-type]  # only BodyTooLarge
    install_openapi(app, agency_ids=catalogue.agency_ids(), programmes=list(catalogue.programmes),
                    regions=[catalogue.province_code, *catalogue.city_codes])
    install_api_docs(app)
    return app


class _EchoingJSONResponse(JSONResponse):
    """A refusal may quote what the client sent (a lab clerk needs to see the offending value), and a JSON
    string may carry a lone surrogate (``"\\ud800"``) that UTF-8 cannot encode: it is shown as ``?``, not a 500."""

    def render(self, content: object) -> bytes:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None,
                          separators=(",", ":")).encode("utf-8", "replace")


async def _rejected(request: Request, exc: Rejection) -> JSONResponse:
    request.app.state.metrics.reject(exc.reason, exc.events)
    return _EchoingJSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def _too_large(request: Request, exc: BodyTooLarge) -> Response:
    """The body guard's 413, counted among intake's refusals."""
    request.app.state.metrics.reject("too_large", 1)
    return await http_exception_handler(request, exc)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """FastAPI's handler, except that a 405 lists every method of the path (GET and POST live on two routes;
    an included router's routes are looked at one by one)."""
    if exc.status_code == 405:
        methods: set[str] = set()
        for route in iter_route_contexts(request.app.routes):
            match, _ = route.matches(request.scope)
            if match is not Match.NONE:
                methods |= getattr(route, "methods", None) or set()
        exc = StarletteHTTPException(405, exc.detail, headers={"Allow": ", ".join(sorted(methods))})
    return await http_exception_handler(request, exc)
