"""Agency webhook subscriptions and the delivery log."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from sqlalchemy import select

from services.alerts.deps import (
    AlertServiceDep,
    CatalogueDep,
    ClockDep,
    CurrentPrincipal,
    Operator,
    Reader,
    ResolverDep,
    SessionsDep,
    SettingsDep,
)
from services.alerts.models import Delivery, DeliveryAlert, DeliveryAttempt, Subscription
from services.alerts.schemas import (
    SubscriptionCreate,
    actor,
    attempt_json,
    delivery_json,
    error_responses,
    not_found,
    subscription_json,
    unprocessable,
)
from services.alerts.urlpolicy import UrlPolicyError, check_webhook_url
from shared.auth import Principal, forbidden
from shared.catalogue import Catalogue
from shared.jsonbody import StrictJsonRoute

router = APIRouter(prefix="/v1", responses=error_responses(), route_class=StrictJsonRoute)


def _agency_scope(catalogue: Catalogue, principal: Principal, agency_id: str) -> None:
    """403 for another agency's key (before revealing whether the agency exists), 404 for an unknown one."""
    if not principal.may_manage_agency(agency_id):
        raise forbidden("an agency key may manage only its own agency's subscriptions")
    if agency_id not in catalogue.agency_ids():
        raise not_found(f"agency {agency_id}")


@router.post("/agencies/{agency_id}/subscriptions", status_code=201, tags=["subscriptions"],
             responses=error_responses(400, 404, 413))
def create_subscription(principal: CurrentPrincipal, catalogue: CatalogueDep, clock: ClockDep,
                        service: AlertServiceDep, settings: SettingsDep, resolver: ResolverDep, agency_id: str,
                        body: SubscriptionCreate) -> dict[str, Any]:
    """Register a webhook. The secret keys the ``X-QW-Signature`` HMAC; it is never shown again."""
    _agency_scope(catalogue, principal, agency_id)
    try:
        check_webhook_url(body.url, allow_private=settings.allow_private_webhooks, resolver=resolver)
    except UrlPolicyError as exc:
        raise unprocessable("url", str(exc), kind="url_policy") from exc
    now = clock.now()
    row = Subscription(subscription_id=str(uuid.uuid4()), agency_id=agency_id, url=body.url, secret=body.secret,
                       min_severity=body.min_severity, created_at=now, created_by=actor(principal))
    service.subscribe(row, now)
    return subscription_json(row)


@router.get("/agencies/{agency_id}/subscriptions", tags=["subscriptions"],
             responses=error_responses(404))
def list_subscriptions(principal: CurrentPrincipal, catalogue: CatalogueDep, sessions: SessionsDep,
                       agency_id: str) -> dict[str, Any]:
    _agency_scope(catalogue, principal, agency_id)
    with sessions() as session:
        rows = session.scalars(select(Subscription).where(Subscription.agency_id == agency_id,
                                                          Subscription.deleted_at.is_(None))
                               .order_by(Subscription.created_at, Subscription.subscription_id)).all()
    return {"subscriptions": [subscription_json(r) for r in rows]}


@router.delete("/agencies/{agency_id}/subscriptions/{subscription_id}", status_code=204, tags=["subscriptions"],
             responses=error_responses(404))
def delete_subscription(principal: CurrentPrincipal, catalogue: CatalogueDep, clock: ClockDep,
                        service: AlertServiceDep, agency_id: str, subscription_id: str) -> Response:
    """Stop deliveries to this webhook (pending retries fail as 'subscription deleted')."""
    _agency_scope(catalogue, principal, agency_id)
    with service.write() as session:
        row = session.get(Subscription, subscription_id)
        if row is None or row.agency_id != agency_id or row.deleted_at is not None:
            raise not_found(f"subscription {subscription_id}")
        row.deleted_at = clock.now()
    return Response(status_code=204)


# ---- deliveries -----------------------------------------------------------------------------------------
DeliveryStatus = Literal["pending", "delivered", "failed", "gave_up", "silenced"]


def _delivery_rows(session: Any, rows: list[Delivery]) -> list[dict[str, Any]]:
    ids = [r.delivery_id for r in rows]
    links: dict[str, list[str]] = {}
    if ids:
        for delivery_id, alert_id in session.execute(
                select(DeliveryAlert.delivery_id, DeliveryAlert.alert_id).where(DeliveryAlert.delivery_id.in_(ids))
                .order_by(DeliveryAlert.alert_id)):
            links.setdefault(delivery_id, []).append(alert_id)
    subs = {s.subscription_id: s.url for s in session.scalars(
        select(Subscription).where(Subscription.subscription_id.in_({r.subscription_id for r in rows})))}
    return [delivery_json(r, alert_ids=links.get(r.delivery_id, []), url=subs.get(r.subscription_id))
            for r in rows]


@router.get("/deliveries", tags=["deliveries"])
def list_deliveries(principal: Reader, sessions: SessionsDep, status: DeliveryStatus | None = None,
                    agency_id: str | None = None,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """The delivery log, newest first. Agency keys see their own agency's deliveries."""
    if not principal.is_operator:
        if agency_id is not None and agency_id != principal.agency_id:
            raise forbidden("an agency key may read only its own agency's deliveries")
        agency_id = principal.agency_id
    query = select(Delivery)
    if status is not None:
        query = query.where(Delivery.status == status)
    if agency_id is not None:
        query = query.where(Delivery.agency_id == agency_id)
    with sessions() as session:
        rows = list(session.scalars(query.order_by(Delivery.created_at.desc(), Delivery.delivery_id).limit(limit)))
        return {"deliveries": _delivery_rows(session, rows)}


def _visible_delivery(session: Any, principal: Principal, delivery_id: str) -> Delivery:
    row = session.get(Delivery, delivery_id)
    if row is None:
        raise not_found(f"delivery {delivery_id}")
    if not principal.is_operator and row.agency_id != principal.agency_id:
        raise forbidden("this delivery belongs to another agency")
    return row


@router.get("/deliveries/{delivery_id}", tags=["deliveries"],
             responses=error_responses(404))
def get_delivery(principal: Reader, sessions: SessionsDep, delivery_id: str) -> dict[str, Any]:
    """One delivery with every attempt (status code, latency, error) and the exact body sent."""
    with sessions() as session:
        row = _visible_delivery(session, principal, delivery_id)
        (body,) = _delivery_rows(session, [row])
        attempts = session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id)
                                   .order_by(DeliveryAttempt.attempt, DeliveryAttempt.attempt_id)).all()
    body["attempt_log"] = [attempt_json(a) for a in attempts]
    body["body"] = row.body
    return body


@router.post("/deliveries/{delivery_id}/redeliver", status_code=202, tags=["deliveries"],
             responses=error_responses(404))
def redeliver(principal: Operator, clock: ClockDep, service: AlertServiceDep, delivery_id: str) -> dict[str, Any]:
    """Schedule another attempt now, same delivery_id and body; the retry window starts again."""
    now = clock.now()
    with service.write() as session:
        row = _visible_delivery(session, principal, delivery_id)
        row.status, row.next_attempt_at, row.retry_started_at = "pending", now, now
        (body,) = _delivery_rows(session, [row])
    return body
