"""Rectification loop routes (issue 19): set a plan on a firing alert, read an alert's timeline.

Visibility is the alert's: an agency the alert is routed to, or an operator; anyone else gets 403,
an unknown alert 404.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from services.alerts.api import _get_visible_alert
from services.alerts.deps import AlertServiceDep, CatalogueDep, ClockDep, Reader, SessionsDep
from services.alerts.lifecycle import LifecycleError
from services.alerts.loop import loop_fields
from services.alerts.loop_models import AlertTimelineEntry
from services.alerts.loop_notify import dispatch_loop
from services.alerts.schemas import DateTime, _Strict, actor, error_responses, unprocessable
from shared.clock import rfc3339
from shared.jsonbody import StrictJsonRoute

router = APIRouter(prefix="/v1", tags=["rectification"], responses=error_responses(), route_class=StrictJsonRoute)


class RectificationPlan(BaseModel):
    """整改计划: who rectifies, by when, and what they will do."""

    model_config = _Strict
    unit: str = Field(min_length=1, max_length=200,
                      description="the responsible unit (责任单位), e.g. 徐州市农业农村局")
    deadline: DateTime = Field(description="RFC 3339 with an offset, in the future; past it without closure "
                                           "the alert escalates once to the next level up")
    comment: str = Field("", max_length=2000, description="the measures ordered (整改措施)")


@router.post("/alerts/{alert_id}/rectification", responses=error_responses(400, 404, 409))
def set_rectification(principal: Reader, catalogue: CatalogueDep, clock: ClockDep, service: AlertServiceDep,
                      alert_id: str, body: RectificationPlan) -> dict[str, Any]:
    """Give a firing alert a rectification plan (an agency the alert concerns, or an operator). A later
    plan replaces the earlier one until the alert is rectified; every plan stays in the timeline."""
    now = clock.now()
    with service.write() as session:
        row = _get_visible_alert(catalogue, principal, alert_id, session)
        if row.state in ("firing", "pending"):
            # A plan acknowledges the alert (for the planning agency; an operator's for everyone): no daily
            # reminders while it runs (escalation and resolve still notify).
            service.acknowledge(session, row, by=actor(principal),
                                agency_id=None if principal.is_operator else principal.agency_id,
                                comment=f"整改计划：{body.unit}", now=now)
        try:
            owed = service.loop.set_plan(session, row, unit=body.unit, deadline=body.deadline, comment=body.comment,
                                         by=actor(principal), now=now)
        except LifecycleError as error:
            if error.conflict:
                raise HTTPException(status_code=409, detail=str(error)) from None
            raise unprocessable(error.field, str(error)) from None
        dispatch_loop(session, catalogue, service.loop, [(row, n) for n in owed], now, service.notifier)
        session.flush()
        return {"alert_id": row.alert_id, "state": row.state, **loop_fields(session, catalogue, row)}


@router.get("/alerts/{alert_id}/timeline", responses=error_responses(404))
def alert_timeline(principal: Reader, catalogue: CatalogueDep, sessions: SessionsDep, alert_id: str,
                   limit: Annotated[int, Query(ge=1, le=5000)] = 1000) -> dict[str, Any]:
    """Every step of the alert's life, oldest first (append-only: entries are never edited or deleted):
    ``fired``, ``notified``, ``acknowledged``, ``plan_set``, ``escalated``, ``follow_up_received``,
    ``rectified``, ``resolved``, ``closed`` (and ``report_overdue``/``report_received`` for a report alert)."""
    with sessions() as session:
        row = _get_visible_alert(catalogue, principal, alert_id, session)
        entries = session.scalars(select(AlertTimelineEntry).where(AlertTimelineEntry.alert_id == alert_id)
                                  .order_by(AlertTimelineEntry.entry_id).limit(limit)).all()
        loop = loop_fields(session, catalogue, row)
    return {"alert_id": alert_id, **loop, "entries": [
        {"entry_id": e.entry_id, "at": rfc3339(e.at), "kind": e.kind, "actor": e.actor,
         "detail": orjson.loads(e.detail)} for e in entries], "count": len(entries)}
