"""Event routes: ``POST /v1/events`` and ``POST /v1/events/batch``.

``EventEndpoints`` serves them as plain ASGI, called by ``IntakeApp`` (app.py) *before* FastAPI's own
middleware stack: the two routes read their raw body and await the work on the event loop (see accept.py,
publisher.py, group_commit.py), and on this hot path FastAPI's middlewares, routing, dependency solving,
starlette ``Request``/``Response`` objects and the generic request-metrics middleware cost more CPU than the
work itself. So it does, for these two routes, what those layers would do: the request metrics (under the
route template, with cached metric children), the 500 answer to an unexpected error (ServerErrorMiddleware's,
re-raising for the server to log), and the same answers, status codes and headers as FastAPI's handlers.
The FastAPI routes stay registered for the OpenAPI description (``event_router``). Other methods on these
paths (405) and every other path go on to FastAPI.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from services.intake.accept import EventIntake
from services.intake.body import read_body, require_json
from services.intake.errors import Rejection
from services.intake.metrics import IntakeMetrics
from services.intake.openapi import EVENT_RESPONSES, Accepted, batch_body, single_body
from services.intake.validation import check_scope
from shared.auth import Authenticator, Principal
from shared.web import HttpMetrics, RouteTemplate, database_unavailable

logger = logging.getLogger(__name__)

SINGLE_PATH = "/v1/events"
BATCH_PATH = "/v1/events/batch"
EVENT_PATHS = frozenset((SINGLE_PATH, BATCH_PATH))


async def _principal(authenticator: Authenticator, header: str) -> Principal:
    """The caller of an ``Authorization: Bearer`` header; a cached key (or the admin token) without the
    thread-pool hop that ``shared.auth``'s sync dependency costs every request."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("missing bearer token")
    hit, principal = authenticator.resolve_cached(token)
    if not hit:
        principal = await run_in_threadpool(authenticator.resolve, token)
    if principal is None:
        raise _unauthorized("invalid or revoked token")
    return principal


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def event_router(max_batch_events: int) -> APIRouter:
    """The two routes as OpenAPI documents them. Once intake has started, ``IntakeApp`` hands their requests to
    ``EventEndpoints`` before routing; these handlers only answer while it is not serving (starting up or
    shutting down)."""
    router = APIRouter(prefix="/v1", tags=["events"])

    @router.post("/events", status_code=202, response_model=Accepted, responses=EVENT_RESPONSES,
                 openapi_extra=single_body(), summary="Post one event")
    async def post_event() -> Response:
        """One event. Problems are reported with ``index: 0``."""
        return _not_serving()

    @router.post("/events/batch", status_code=202, response_model=Accepted, responses=EVENT_RESPONSES,
                 openapi_extra=batch_body(max_batch_events), summary="Post a batch of events")
    async def post_batch() -> Response:
        """``{"events": [...]}``: all accepted or none; problems carry each event's index."""
        return _not_serving()

    return router


def _not_serving() -> JSONResponse:
    return JSONResponse({"detail": "intake is starting or stopping, retry"}, status_code=503,
                        headers={"Retry-After": "5"})


def rejection_response(request: Request, exc: Rejection) -> JSONResponse:
    request.app.state.metrics.reject(exc.reason, exc.events)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


RawHeaders = list[tuple[bytes, bytes]]


class EventEndpoints:
    """Answers ``POST /v1/events[/batch]`` (the caller checks method and path) with raw ASGI messages and
    the responses FastAPI's handlers would give; built at startup from the app's parts."""

    def __init__(self, *, intake: EventIntake, authenticator: Authenticator, metrics: IntakeMetrics,
                 http_metrics: HttpMetrics, max_body_bytes: int) -> None:
        self._intake = intake
        self._authenticator = authenticator
        self._metrics = metrics
        self._limit = max_body_bytes
        self._http = http_metrics
        self._templates = {path: RouteTemplate(path) for path in EVENT_PATHS}
        # The request metrics' children, made on first use like the middleware's (a route's series appear
        # with its first request), then kept: ``labels()`` costs more than the update.
        self._counted: dict[tuple[str, int], Any] = {}  # request counter per (route, status)
        self._timed: dict[str, Any] = {}  # latency histogram per route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        path: str = scope["path"]
        scope["route"] = self._templates[path]
        responded = False
        try:
            status, headers, body = await self._answer(scope, receive, batch=path == BATCH_PATH)
            responded = True
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        except ClientDisconnect:
            # The client went away before its body arrived: nothing was accepted and nobody is listening.
            logger.info("client disconnected before sending its whole body", extra={"path": path})
            return
        except Exception:
            # What ServerErrorMiddleware does (intake has no debug mode and no 500 handler): a plain 500 if
            # nothing was sent yet, then re-raise for the server to log. The request is not counted.
            if not responded:
                await PlainTextResponse("Internal Server Error", status_code=500)(scope, receive, send)
            raise
        counter = self._counted.get((path, status))
        if counter is None:
            counter = self._counted[(path, status)] = self._http.requests.labels(self._http.service, "POST", path,
                                                                                 str(status))
        counter.inc()
        timer = self._timed.get(path)
        if timer is None:
            timer = self._timed[path] = self._http.latency.labels(self._http.service, path)
        timer.observe(time.perf_counter() - started)

    async def _answer(self, scope: Scope, receive: Receive, *, batch: bool) -> tuple[int, RawHeaders, bytes]:
        authorization = content_type = content_length = None
        for name, value in scope["headers"]:  # the first of repeated headers, like starlette's Headers.get
            if name == b"authorization":
                authorization = authorization if authorization is not None else value
            elif name == b"content-type":
                content_type = content_type if content_type is not None else value
            elif name == b"content-length":
                content_length = content_length if content_length is not None else value
        try:
            principal = await _principal(self._authenticator,
                                         authorization.decode("latin-1") if authorization is not None else "")
            check_scope(principal, ())
            require_json(content_type.decode("latin-1") if content_type is not None else "")
            body = await read_body(receive, content_length, self._limit)
            result = await self._intake.handle(principal, body, batch=batch)
        except Rejection as exc:
            self._metrics.reject(exc.reason, exc.events)
            return _parts(JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers))
        except HTTPException as exc:
            return _parts(JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers))
        except Exception as exc:
            outage = database_unavailable(scope["path"], exc)
            if outage is None:
                raise
            return _parts(outage)
        # What Response(content, status_code=202, media_type="application/json") sends.
        content = orjson.dumps(result)
        return 202, [(b"content-length", str(len(content)).encode()), (b"content-type", b"application/json")], content


def _parts(response: Response) -> tuple[int, RawHeaders, bytes]:
    return response.status_code, response.raw_headers, bytes(response.body)
