"""Event routes: ``POST /v1/events`` and ``POST /v1/events/batch``.

``EventEndpoints`` serves them as a plain ASGI middleware placed in front of FastAPI's router (inside the
request-metrics middleware): the two routes read their raw body and await the work on the event loop
(see accept.py, publisher.py, group_commit.py), and on this hot path FastAPI's routing, dependency
solving and exit stacks cost more CPU than the work itself. The FastAPI routes below stay registered:
they carry the OpenAPI description and serve the same handler when the middleware is not installed.
Everything else (other methods on these paths: 405; every other path) goes on to FastAPI.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from services.intake.accept import EventIntake
from services.intake.body import read_limited, require_json
from services.intake.errors import Rejection
from services.intake.openapi import EVENT_RESPONSES, Accepted, batch_body, single_body
from services.intake.validation import check_scope
from shared.auth import Principal
from shared.web import RouteTemplate, database_unavailable

SINGLE_PATH = "/v1/events"
BATCH_PATH = "/v1/events/batch"


async def event_principal(request: Request) -> Principal:
    """``shared.auth.current_principal`` without the thread-pool hop when the key is cached (or the admin
    token): a sync dependency costs every request a round trip through a worker thread."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("missing bearer token")
    authenticator = request.app.state.authenticator
    hit, principal = authenticator.resolve_cached(token)
    if not hit:
        principal = await run_in_threadpool(authenticator.resolve, token)
    if principal is None:
        raise _unauthorized("invalid or revoked token")
    request.state.principal = principal
    return principal


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


CurrentPrincipal = Annotated[Principal, Depends(event_principal)]


def event_router(max_batch_events: int) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["events"])

    @router.post("/events", status_code=202, response_model=Accepted, responses=EVENT_RESPONSES,
                 openapi_extra=single_body(), summary="Post one event")
    async def post_event(request: Request, principal: CurrentPrincipal) -> Response:
        """One event. Problems are reported with ``index: 0``."""
        return await post_events(request, principal, batch=False)

    @router.post("/events/batch", status_code=202, response_model=Accepted, responses=EVENT_RESPONSES,
                 openapi_extra=batch_body(max_batch_events), summary="Post a batch of events")
    async def post_batch(request: Request, principal: CurrentPrincipal) -> Response:
        """``{"events": [...]}``: all accepted or none; problems carry each event's index."""
        return await post_events(request, principal, batch=True)

    return router


async def post_events(request: Request, principal: Principal, *, batch: bool) -> Response:
    state = request.app.state
    check_scope(principal, ())
    require_json(request)
    body = await read_limited(request, state.settings.max_body_bytes)
    intake: EventIntake = state.intake
    result = await intake.handle(principal, body, batch=batch)
    return Response(orjson.dumps(result), status_code=202, media_type="application/json")


def rejection_response(request: Request, exc: Rejection) -> JSONResponse:
    request.app.state.metrics.reject(exc.reason, exc.events)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


class EventEndpoints:
    """Answers ``POST /v1/events[/batch]`` itself, with the responses FastAPI's handlers would give."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._templates = {SINGLE_PATH: RouteTemplate(SINGLE_PATH), BATCH_PATH: RouteTemplate(BATCH_PATH)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path")
        if scope["type"] != "http" or scope["method"] != "POST" or (path != SINGLE_PATH and path != BATCH_PATH):
            await self.app(scope, receive, send)
            return
        scope["route"] = self._templates[path]  # the request metrics label requests by route template
        request = Request(scope, receive)
        try:
            principal = await event_principal(request)
            response = await post_events(request, principal, batch=path == BATCH_PATH)
        except Rejection as exc:
            response = rejection_response(request, exc)
        except HTTPException as exc:
            response = JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        except Exception as exc:
            outage = database_unavailable(request, exc)
            if outage is None:
                raise
            response = outage
        await response(scope, receive, send)
