"""``GET /v1/events/{event_id}``: what became of an event, for its sender.

Intake knows whether it accepted the event (its ledger, per sender); indicators knows what happened next.
Intake asks indicators' ``GET /v1/event-outcomes?event_id=...`` with the caller's own key and a short total
deadline (``event_status_timeout_seconds``, 2 s): indicators answers for that key's sender only, so no
credential of intake's is needed and no other sender's outcome can be read. Asking, rather than intake
consuming an outcome topic into a table of its own, keeps one copy of each outcome (indicators' own rows,
written in the transaction that applied the event, so never out of step) and adds no topic, consumer or
retention job; the price is that the answer degrades to ``accepted`` with ``outcome_unavailable: true``
while indicators is down or slow, which is also what the sender would have seen a moment earlier.

Another sender's id answers 404 exactly as an unknown one. Every read is one primary-key look-up here and
two indexed look-ups in indicators; the wait is bounded.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Literal

import httpx
from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor

from services.intake.deps import CurrentPrincipal, SessionsDep
from services.intake.models import IntakeEvent
from shared.clock import rfc3339
from shared.events import EventId

logger = logging.getLogger(__name__)


class EventIdConvertor(Convertor[str]):
    """An event id in a path, except ``batch``: ``/v1/events/batch`` stays the batch route's alone (an event
    whose id is ``batch`` cannot be looked up by path)."""

    regex = r"(?!batch$)[A-Za-z0-9._:-]{1,100}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("event_id", EventIdConvertor())
# At most this many look-ups wait on indicators at once; beyond, intake answers from its ledger alone
# (outcome_unavailable), so a flood of status requests cannot pile connections onto indicators.
MAX_CONCURRENT_LOOKUPS = 32
_lookups = asyncio.Semaphore(MAX_CONCURRENT_LOOKUPS)
router = APIRouter(prefix="/v1", tags=["events"])

Status = Literal["accepted", "applied", "ignored_stale", "dead_lettered"]


class EventStatus(BaseModel):
    event_id: str
    type: str
    status: Status = Field(description="accepted (on its way, or indicators not answering), applied, "
                                       "ignored_stale (a newer revision or report stands), dead_lettered")
    accepted_at: str = Field(description="when intake accepted it (RFC 3339, +08:00)")
    standing_revision: int | None = Field(None, description="ignored_stale: the revision that stands")
    reason: str | None = Field(None, description="dead_lettered: why (not_owner, conflict, invalid, apply, ...)")
    error: str | None = Field(None, description="dead_lettered: the problem in words")
    outcome_unavailable: bool = Field(False, description="true when indicators did not answer in time: the "
                                                         "status is intake's own (accepted); ask again later")


@router.get("/events/{event_id:event_id}", response_model=EventStatus,
            responses={401: {"description": "missing or unknown token"},
                       404: {"description": "no such event of this sender (another sender's id answers the "
                                              "same)"}},
            summary="What became of an event (its sender only)")
async def event_status(request: Request, principal: CurrentPrincipal, sessions: SessionsDep,
                       event_id: EventId = Path(max_length=100)) -> EventStatus:
    sender = principal.sender

    def lookup() -> tuple[str, dt.datetime] | None:
        with sessions() as session:
            row = session.execute(select(IntakeEvent.type, IntakeEvent.accepted_at).where(
                IntakeEvent.sender == sender, IntakeEvent.event_id == event_id,
                IntakeEvent.kafka_offset.is_not(None))).first()
        return None if row is None else (row[0], row[1])

    found = await run_in_threadpool(lookup)
    if found is None:
        raise HTTPException(404, f"no event {event_id!r} was accepted from this sender")
    status = EventStatus(event_id=event_id, type=found[0], status="accepted", accepted_at=rfc3339(found[1]))
    settings = request.app.state.settings
    url = f"{settings.effective_indicators_url}/v1/event-outcomes"
    if _lookups.locked():
        return status.model_copy(update={"outcome_unavailable": True})
    try:
        async with _lookups, httpx.AsyncClient(timeout=settings.event_status_timeout_seconds,
                                               follow_redirects=False) as client:
            answer = await asyncio.wait_for(client.get(url, params={"event_id": event_id}, headers={
                "Authorization": request.headers.get("authorization", "")}), settings.event_status_timeout_seconds)
    except (httpx.HTTPError, TimeoutError) as exc:
        logger.warning("indicators did not answer an event status look-up", extra={"error": str(exc)[:200]})
        return status.model_copy(update={"outcome_unavailable": True})
    if answer.status_code == 404:
        return status
    if answer.status_code != 200 or len(answer.content) > 4096:
        return status.model_copy(update={"outcome_unavailable": True})
    try:
        outcome = EventOutcomeAnswer.model_validate_json(answer.content)
    except ValueError:
        return status.model_copy(update={"outcome_unavailable": True})
    mapped: Status = ("applied" if outcome.outcome == "applied"
                      else "ignored_stale" if outcome.outcome == "ignored" else "dead_lettered")
    return status.model_copy(update={"status": mapped, "standing_revision": outcome.standing_revision,
                                     "reason": outcome.reason, "error": outcome.error})


class EventOutcomeAnswer(BaseModel):
    """What indicators' outcome route answers (services.indicators.outcomes.EventOutcome)."""

    outcome: Literal["applied", "ignored", "dead_lettered"]
    standing_revision: int | None = None
    reason: str | None = Field(None, max_length=32)
    error: str | None = Field(None, max_length=500)
