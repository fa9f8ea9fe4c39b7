"""Event routes. They read the raw body themselves; the work runs in the thread pool."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from services.intake.accept import EventIntake
from services.intake.body import read_limited, require_json
from services.intake.openapi import EVENT_RESPONSES, Accepted, batch_body, single_body
from services.intake.validation import check_scope
from shared.auth import CurrentPrincipal


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
    result = await run_in_threadpool(intake.handle, principal, body, batch=batch)
    return Response(orjson.dumps(result), status_code=202, media_type="application/json")
