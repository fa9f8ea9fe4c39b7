"""What every service's HTTP app has: health, readiness, metrics, request metrics, JSON errors."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.bodylimit import BodyGuard, BodyLimits

logger = logging.getLogger(__name__)

ReadinessCheck = Callable[[], None]


class HttpMetrics:
    """Request counts and latency per route template (bounded labels), and readiness."""

    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.service = service
        self.requests = Counter("qw_http_requests_total", "HTTP requests handled",
                                ["service", "method", "route", "status"], registry=registry)
        self.latency = Histogram("qw_http_request_seconds", "HTTP request latency",
                                 ["service", "route"], registry=registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
        self.ready = Gauge("qw_ready", "1 when Kafka and the database answer", registry=registry)
        # The labelled children, made on first use (a route's series appear with its first request) and kept:
        # ``labels()`` costs more than the update itself.
        self._counted: dict[tuple[str, str, int], Counter] = {}
        self._timed: dict[str, Histogram] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        counter = self._counted.get((method, route, status))
        if counter is None:
            counter = self._counted[(method, route, status)] = self.requests.labels(self.service, method, route,
                                                                                   str(status))
        counter.inc()
        timer = self._timed.get(route)
        if timer is None:
            timer = self._timed[route] = self.latency.labels(self.service, route)
        timer.observe(seconds)


class _MeasureRequests:
    """Request count and latency per route template, as a plain ASGI middleware.

    (Not ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware wraps ``receive`` so that every
    read of the request body starts an anyio task group, a large share of a cheap request's CPU.)
    A request whose handler raised, or that got no answer (its client went away), is not counted.
    """

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, send_and_note)
        if status:
            template = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.observe(scope["method"], template, status, time.perf_counter() - started)


def install_common_routes(app: FastAPI, *, service: str, registry: CollectorRegistry,
                          checks: Mapping[str, ReadinessCheck], body_limits: BodyLimits | None = None) -> HttpMetrics:
    """Health, readiness and metrics routes, request metrics, the body guard (``shared.bodylimit``: credentials
    before bodies, a limit on every route; per-route limits with ``declare_body_limit``) and the error answers
    every service shares (database outages, validation errors that never echo the input)."""
    metrics = HttpMetrics(registry, service)
    app.state.body_limits = body_limits or BodyLimits()

    async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        response = database_unavailable(request.url.path, exc)
        if response is None:
            raise exc
        return response

    # SQLAlchemy wraps most driver errors; a reconnect in the pool can raise the driver's own.
    unavailable: tuple[type[Exception], ...] = (DBAPIError, *_operational_errors())
    for error in unavailable:
        app.add_exception_handler(error, _database_unavailable)

    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]  # only that class
    app.add_middleware(BodyGuard, limits=app.state.body_limits)
    app.add_middleware(_MeasureRequests, metrics=metrics)

    @app.get("/healthz", include_in_schema=True, tags=["operations"])
    def healthz() -> dict[str, str]:
        return {"status": "alive", "service": service}

    @app.get("/readyz", tags=["operations"], responses={503: {"description": "a dependency is down"}})
    def readyz() -> JSONResponse:
        failing: dict[str, str] = {}
        for name, check in checks.items():
            try:
                check()
            except Exception as exc:  # noqa: BLE001 - any failure means not ready
                failing[name] = f"{type(exc).__name__}: {exc}"[:300]
        metrics.ready.set(0 if failing else 1)
        if failing:
            return JSONResponse({"status": "not ready", "service": service, "failing": failing}, status_code=503)
        return JSONResponse({"status": "ready", "service": service, "checks": sorted(checks)})

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def metrics_endpoint() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return metrics


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 without ``input``/``ctx``: a value that is not renderable (or a secret) is never echoed."""
    detail = [{"loc": list(error.get("loc", ())), "msg": str(error.get("msg", "")), "type": str(error.get("type", ""))}
              for error in exc.errors()]
    return JSONResponse({"detail": detail}, status_code=422)


def database_unavailable(path: str, exc: BaseException) -> JSONResponse | None:
    """503 + Retry-After when ``exc`` means the database is unreachable right now, else None.

    A lost connection (database restarting, failover) is a retryable outage, not a server bug: 503 like a
    broker outage (found by the PostgreSQL-restart drill, which saw 500s from the API-key look-up). Other
    database errors stay 500."""
    if isinstance(exc, DBAPIError):
        if not exc.connection_invalidated and not isinstance(exc.orig, _operational_errors()):
            return None
    elif not isinstance(exc, _operational_errors()):
        return None
    logger.warning("database unavailable; answering 503", extra={"path": path, "error": str(exc)[:300]})
    return JSONResponse({"detail": "database unavailable, retry"}, status_code=503, headers={"Retry-After": "5"})


def _operational_errors() -> tuple[type[Exception], ...]:
    """The DB-API errors that mean "the database is not reachable right now"."""
    import sqlite3

    errors: list[type[Exception]] = [sqlite3.OperationalError]
    try:
        import psycopg

        errors.append(psycopg.OperationalError)
    except ImportError:  # pragma: no cover - psycopg is a dependency
        pass
    return tuple(errors)


class CachedCheck:
    """Wraps a readiness check so that a burst of probes does not hammer the broker."""

    def __init__(self, check: ReadinessCheck, ttl: float = 2.0) -> None:
        self._check = check
        self._ttl = ttl
        self._until = 0.0
        self._error: Exception | None = None

    def __call__(self) -> None:
        now = time.monotonic()
        if now >= self._until:
            try:
                self._check()
                self._error = None
            except Exception as exc:  # noqa: BLE001
                self._error = exc
            self._until = now + self._ttl
        if self._error is not None:
            raise self._error
