"""What became of one event, for its sender: ``GET /v1/event-outcomes?event_id=...``.

Intake's ``GET /v1/events/{event_id}`` asks this route (the id as a query parameter: no path segment a
hostile id could bend) (forwarding its caller's key, with a short timeout):
indicators is the service that knows whether an event was applied, ignored as stale or dead-lettered. The
route answers about the caller's own events only (the sender its key names); another sender's id is a 404,
as an unknown one. Each answer is two primary-key/index look-ups.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from services.indicators.models import AppliedEvent, DeadLetter
from shared.auth import CurrentPrincipal
from shared.deps import SessionsDep
from shared.events import EventId

router = APIRouter(prefix="/v1", tags=["events"])


class EventOutcome(BaseModel):
    event_id: str
    outcome: Literal["applied", "ignored", "dead_lettered"]
    standing_revision: int | None = Field(None, description="ignored as stale: the revision that stands")
    reason: str | None = Field(None, description="dead-lettered: why (invalid, conflict, not_owner, apply, ...)")
    error: str | None = Field(None, description="dead-lettered: the problem, in words (at most 500 characters)")


@router.get("/event-outcomes", response_model=EventOutcome,
            responses={401: {"description": "missing or unknown token"},
                       404: {"description": "no outcome yet, or not an event of the caller"}})
def event_outcome(principal: CurrentPrincipal, sessions: SessionsDep,
                  event_id: EventId = Query(max_length=100)) -> EventOutcome:
    sender = principal.sender
    with sessions() as session:
        applied = session.execute(select(AppliedEvent.outcome, AppliedEvent.standing_revision).where(
            AppliedEvent.sender == sender, AppliedEvent.event_id == event_id)).first()
        if applied is not None:
            return EventOutcome(event_id=event_id, outcome="ignored" if applied[0] == "ignored" else "applied",
                                standing_revision=applied[1])
        dead = session.execute(select(DeadLetter.reason, DeadLetter.error).where(
            DeadLetter.sender == sender, DeadLetter.event_id == event_id).order_by(DeadLetter.id.desc())
            .limit(1)).first()
    if dead is not None:
        return EventOutcome(event_id=event_id, outcome="dead_lettered", reason=dead[0], error=dead[1][:500])
    raise HTTPException(404, "no outcome for this event yet")
