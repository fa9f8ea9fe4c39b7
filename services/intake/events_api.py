"""Event routes. They read the raw body themselves and await the work on the event loop: waiting for
Kafka acknowledgements and the ledger holds no thread (see accept.py, publisher.py, group_commit.py)."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from services.intake.accept import EventIntake
from services.intake.body import read_limited, require_json
from services.intake.openapi import EVENT_RESPONSES, Accepted, batch_body, single_body
from services.intake.validation import check_scope
from shared.auth import Principal


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
        return await _post(request, principal, batch=False)

    @router.post("/events/batch", status_code=202, response_model=Accepted, responses=EVENT_RESPONSES,
                 openapi_extra=batch_body(max_batch_events), summary="Post a batch of events")
    async def post_batch(request: Request, principal: CurrentPrincipal) -> Response:
        """``{"events": [...]}``: all accepted or none; problems carry each event's index."""
        return await _post(request, principal, batch=True)

    return router


async def _post(request: Request, principal: CurrentPrincipal, *, batch: bool) -> Response:
    state = request.app.state
    check_scope(principal, ())
    require_json(request)
    body = await read_limited(request, state.settings.max_body_bytes)
    intake: EventIntake = state.intake
    result = await intake.handle(principal, body, batch=batch)
    return Response(orjson.dumps(result), status_code=202, media_type="application/json")
