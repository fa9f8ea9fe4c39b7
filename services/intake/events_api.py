"""Event routes: ``POST /v1/events`` and ``POST /v1/events/batch``.

Each is an ordinary route of the app (``EventRoute``): OpenAPI documents it from that registration, and its
requests pass through the app's middleware (request metrics) and exception handlers (refusals, database
outages, the 500) like any other. Its endpoint is plain ASGI (``EventEndpoint``): it reads the raw body itself
(every problem reported; body.py; the size limit is the app's body guard's) and awaits the intake, with no
``Request`` object and no dependency solving, which on this hot path would cost more CPU than the work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from services.intake.accept import EventIntake
from services.intake.body import read_body, require_json
from services.intake.openapi import EVENT_RESPONSES, Accepted, batch_body, single_body
from services.intake.validation import check_scope
from shared.auth import authenticate
from shared.bodylimit import declare_body_limit

logger = logging.getLogger(__name__)


class EventEndpoint:
    """Answers one of the two routes: 202 with the intake's answer; any refusal is raised for the app's
    exception handlers. Reads the intake from ``app.state``, where the lifespan puts it; until then (and
    while stopping) it answers 503 with Retry-After."""

    def __init__(self, *, batch: bool) -> None:
        self._batch = batch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["app"].state
        intake: EventIntake | None = getattr(state, "intake", None)
        if intake is None:
            await JSONResponse({"detail": "intake is starting or stopping, retry"}, status_code=503,
                               headers={"Retry-After": "5"})(scope, receive, send)
            return
        authorization = content_type = None
        for name, value in scope["headers"]:  # the first of repeated headers, like starlette's Headers.get
            if name == b"authorization":
                authorization = authorization if authorization is not None else value
            elif name == b"content-type":
                content_type = content_type if content_type is not None else value
        principal = await authenticate(state.authenticator,
                                       authorization.decode("latin-1") if authorization is not None else "")
        check_scope(principal, ())
        require_json(content_type.decode("latin-1") if content_type is not None else "")
        try:
            body = await read_body(receive)
        except ClientDisconnect:
            # The client went away before its body arrived: nothing was accepted and nobody is listening.
            logger.info("client disconnected before sending its whole body", extra={"path": scope["path"]})
            return
        content = orjson.dumps(await intake.handle(principal, body, batch=self._batch))
        # What Response(content, status_code=202, media_type="application/json") sends.
        await send({"type": "http.response.start", "status": 202,
                    "headers": [(b"content-length", str(len(content)).encode()),
                                (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": content})


class EventRoute(APIRoute):
    """An APIRoute documented from ``documented`` (a parameterless function: its name and docstring) and the
    route options, and served by a plain-ASGI ``endpoint``."""

    def __init__(self, path: str, documented: Callable[[], Coroutine[Any, Any, None]], endpoint: ASGIApp,
                 **options: Any) -> None:
        super().__init__(path, documented, methods=["POST"], tags=["events"], status_code=202,
                         response_model=Accepted, responses=EVENT_RESPONSES, **options)
        self.app = endpoint


async def post_event() -> None:
    """One event. Problems are reported with ``index: 0``."""


async def post_batch() -> None:
    """``{"events": [...]}``: all accepted or none; problems carry each event's index."""


def install_event_routes(app: FastAPI, max_batch_events: int, max_body_bytes: int) -> None:
    """Add the two routes to the app's own router, ahead of the others: the busiest routes are matched first.
    Their body limit (``max_body_bytes``) is declared to the app's body guard (``shared.bodylimit``), which
    enforces it while ``read_body`` reads."""
    declare_body_limit(app, "/v1/events", max_body_bytes)
    declare_body_limit(app, "/v1/events/batch", max_body_bytes)
    app.router.routes[:0] = [
        EventRoute("/v1/events", post_event, EventEndpoint(batch=False), summary="Post one event",
                   openapi_extra=single_body()),
        EventRoute("/v1/events/batch", post_batch, EventEndpoint(batch=True), summary="Post a batch of events",
                   openapi_extra=batch_body(max_batch_events)),
    ]
