"""Alert and silence routes. Agencies see the alerts routed to them; operators see everything."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from sqlalchemy import func, select

from services.alerts.acks import acks_by_alert
from services.alerts.deps import AlertServiceDep, CatalogueDep, ClockDep, Operator, Reader, SessionsDep
from services.alerts.loop import loop_fields
from services.alerts.models import Alert, AlertTransition, Delivery, DeliveryAlert, Silence
from services.alerts.payload import instant
from services.alerts.routing import agencies_for_alert
from services.alerts.schemas import (
    AckRequest,
    DateTime,
    SilenceCreate,
    actor,
    alert_json,
    error_responses,
    not_found,
    silence_json,
    transition_json,
    unprocessable,
)
from services.alerts.silences import active_silences, concerned_agencies, is_silenced
from shared.auth import Principal
from shared.catalogue import Catalogue
from shared.jsonbody import StrictJsonRoute

MAX_SILENCE = dt.timedelta(days=366)

router = APIRouter(prefix="/v1", tags=["alerts"], responses=error_responses(), route_class=StrictJsonRoute)


def _aware(value: dt.datetime | None, field: str) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise unprocessable(field, "needs a UTC offset (RFC 3339)")
    return value


def _visible(principal: Principal, agencies: tuple[str, ...]) -> bool:
    return principal.is_operator or principal.agency_id in agencies


@router.get("/alerts")
def list_alerts(principal: Reader, catalogue: CatalogueDep, clock: ClockDep, sessions: SessionsDep,
                state: Literal["firing", "pending", "resolved", "all"] = "firing",
                indicator: str | None = None, region: str | None = None, category: str | None = None,
                since: DateTime | None = None, until: DateTime | None = None,
                limit: Annotated[int, Query(ge=1, le=5000)] = 1000) -> dict[str, Any]:
    """Alerts by state; ``since``/``until`` keep alerts active at some time in that range."""
    since, until = _aware(since, "since"), _aware(until, "until")
    query = select(Alert).where(Alert.state != "inactive")
    if state != "all":
        query = query.where(Alert.state == state)
    for column, value in ((Alert.indicator, indicator), (Alert.region, region), (Alert.category, category)):
        if value is not None:
            query = query.where(column == value)
    began = func.coalesce(Alert.started_at, Alert.active_at, Alert.created_at)
    if until is not None:
        query = query.where(began <= until)
    if since is not None:
        query = query.where((Alert.resolved_at.is_(None)) | (Alert.resolved_at >= since))
    now = clock.now()
    with sessions() as session:
        rows = session.scalars(query.order_by(began.desc(), Alert.alert_id)).all()
        silences = active_silences(session, now)
        shown: list[tuple[Alert, tuple[str, ...]]] = []
        for row in rows:
            agencies = agencies_for_alert(catalogue, row.indicator, row.region, row.category)
            if _visible(principal, agencies):
                shown.append((row, agencies))
            if len(shown) >= limit:
                break
        acks = acks_by_alert(session, (row.alert_id for row, _ in shown))
        # Issue 19: kind, provisional failures, contributors, rectification.
        loops = {row.alert_id: loop_fields(session, catalogue, row) for row, _ in shown}
    out = [{**alert_json(row, agencies=agencies, silenced=is_silenced(silences, row, catalogue),
                         acks=acks[row.alert_id], viewer=principal), **loops[row.alert_id]} for row, agencies in shown]
    return {"alerts": out, "count": len(out)}


def _get_visible_alert(catalogue: Catalogue, principal: Principal, alert_id: str, session: Any) -> Alert:
    """The alert, or 404: an alert not routed to the caller's agency is answered exactly as a missing one
    (alert ids derive from figure keys, so a 403 would tell which alerts exist)."""
    row = session.get(Alert, alert_id)
    if row is None or row.state == "inactive" or \
            not _visible(principal, agencies_for_alert(catalogue, row.indicator, row.region, row.category)):
        raise not_found(f"alert {alert_id}")
    return row


@router.get("/alerts/{alert_id}", responses=error_responses(404))
def get_alert(principal: Reader, catalogue: CatalogueDep, clock: ClockDep, sessions: SessionsDep,
              alert_id: str) -> dict[str, Any]:
    """The alert, its transition history and the deliveries that carried it."""
    with sessions() as session:
        row = _get_visible_alert(catalogue, principal, alert_id, session)
        transitions = session.scalars(select(AlertTransition).where(AlertTransition.alert_id == alert_id)
                                      .order_by(AlertTransition.at, AlertTransition.transition_id)).all()
        deliveries = session.execute(
            select(Delivery, DeliveryAlert.notice)
            .join(DeliveryAlert, DeliveryAlert.delivery_id == Delivery.delivery_id)
            .where(DeliveryAlert.alert_id == alert_id).order_by(Delivery.created_at, Delivery.delivery_id)).all()
        agencies = agencies_for_alert(catalogue, row.indicator, row.region, row.category)
        silenced = is_silenced(active_silences(session, clock.now()), row, catalogue)
        acks = acks_by_alert(session, [alert_id])[alert_id]
        loop = loop_fields(session, catalogue, row)
    body = {**alert_json(row, agencies=agencies, silenced=silenced, acks=acks, viewer=principal), **loop}
    body["transitions"] = [transition_json(t) for t in transitions]
    body["deliveries"] = [
        {"delivery_id": d.delivery_id, "agency_id": d.agency_id, "subscription_id": d.subscription_id,
         "notice": notice, "status": d.status, "attempts": d.attempts, "created_at": instant(d.created_at),
         "delivered_at": instant(d.delivered_at), "last_status_code": d.last_status_code}
        for d, notice in deliveries if principal.is_operator or d.agency_id == principal.agency_id]
    return body


@router.post("/alerts/{alert_id}/ack", responses=error_responses(400, 404, 409, 413))
def ack_alert(principal: Reader, catalogue: CatalogueDep, clock: ClockDep, service: AlertServiceDep, alert_id: str,
              body: AckRequest | None = None) -> dict[str, Any]:
    """Acknowledge a firing alert. An agency's ack stops its own reminders for this episode; an operator's
    stops every agency's (escalation and resolve still notify). Every ack is kept: the answer's ``acks``."""
    now = clock.now()
    with service.write() as session:
        row = _get_visible_alert(catalogue, principal, alert_id, session)
        if row.state not in ("firing", "pending"):
            raise HTTPException(status_code=409, detail=f"alert {alert_id} is {row.state}, not firing")
        service.acknowledge(session, row, by=actor(principal), agency_id=None if principal.is_operator
                            else principal.agency_id, comment=body.comment if body else None, now=now)
        session.flush()
        agencies = agencies_for_alert(catalogue, row.indicator, row.region, row.category)
        silenced = is_silenced(active_silences(session, now), row, catalogue)
        acks = acks_by_alert(session, [alert_id])[alert_id]
        return alert_json(row, agencies=agencies, silenced=silenced, acks=acks, viewer=principal)


# ---- silences ----------------------------------------------------------------------------------------
@router.post("/silences", status_code=201, tags=["silences"], responses=error_responses(400, 413))
def create_silence(principal: Operator, catalogue: CatalogueDep, clock: ClockDep, service: AlertServiceDep,
                   body: SilenceCreate) -> dict[str, Any]:
    """Mute notifications for matching alerts (operators). At least one matcher is required."""
    now = clock.now()
    if body.indicator is None and body.region is None and body.category is None:
        raise unprocessable("indicator", "a silence needs at least one of indicator, region, category")
    if body.indicator is not None and catalogue.indicator(body.indicator) is None:
        raise unprocessable("indicator", f"unknown indicator {body.indicator!r}")
    if body.region is not None and catalogue.resolve_region(body.region) is None:
        raise unprocessable("region", f"unknown region {body.region!r}")
    starts_at = _aware(body.starts_at, "starts_at") or now
    if (body.ends_at is None) == (body.duration_seconds is None):
        raise unprocessable("ends_at", "give exactly one of ends_at or duration_seconds")
    ends_at = _aware(body.ends_at, "ends_at") or starts_at + dt.timedelta(seconds=body.duration_seconds or 0)
    if ends_at <= max(starts_at, now):
        raise unprocessable("ends_at", "must be in the future and after starts_at")
    if ends_at - max(starts_at, now) > MAX_SILENCE:
        raise unprocessable("ends_at", f"a silence lasts at most {MAX_SILENCE.days} days")
    row = Silence(silence_id=str(uuid.uuid4()), indicator=body.indicator, region=body.region,
                  category=body.category, starts_at=starts_at, ends_at=ends_at, reason=body.reason,
                  created_by=actor(principal), created_at=now)
    with service.write() as session:
        session.add(row)
    return silence_json(row, now)


@router.get("/silences", tags=["silences"])
def list_silences(principal: Reader, catalogue: CatalogueDep, clock: ClockDep, sessions: SessionsDep,
                  state: Literal["active", "pending", "expired", "all"] = "all") -> dict[str, Any]:
    """Silences, newest first. An agency key sees only the silences that can mute its alerts, and their
    author by role (``operator``), never a key id."""
    now = clock.now()
    with sessions() as session:
        rows = session.scalars(select(Silence).order_by(Silence.created_at.desc(), Silence.silence_id)).all()
    if not principal.is_operator:
        rows = [r for r in rows if principal.agency_id in concerned_agencies(r, catalogue)]
    out = [silence_json(r, now, viewer=principal) for r in rows]
    return {"silences": [s for s in out if state == "all" or s["state"] == state]}


@router.delete("/silences/{silence_id}", status_code=204, tags=["silences"], responses=error_responses(404))
def delete_silence(principal: Operator, clock: ClockDep, service: AlertServiceDep, silence_id: str) -> Response:
    """Expire a silence now (it stays listed, as expired)."""
    now = clock.now()
    with service.write() as session:
        row = session.get(Silence, silence_id)
        if row is None:
            raise not_found(f"silence {silence_id}")
        if row.ends_at > now:
            row.ends_at = max(now, row.starts_at)
            row.expired_at = now
    return Response(status_code=204)
