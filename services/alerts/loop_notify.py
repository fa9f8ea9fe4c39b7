"""The rectification loop's notices through the one alert outbox (``delivery`` rows, signed, retried).

A loop notice (``rectify_overdue``: a plan's deadline passed, to the next level up; ``rectified``;
``closed``) goes to every live subscription of the agencies it names (or, with none named, of the
alert's agencies), whatever their ``min_severity``: these are steps of work, not severity alarms. The
webhook body is today's shape; each alert entry gains ``notice`` and ``loop`` (additive fields).
Silences apply as to threshold notices: a silenced notice is recorded as a ``silenced`` delivery.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.alerts.lifecycle import LoopNotice
from services.alerts.loop import LoopKeeper, loop_agencies, loop_fields
from services.alerts.models import Alert, Delivery, DeliveryAlert, Subscription
from services.alerts.payload import alert_fields, build_body
from services.alerts.silences import active_silences, is_silenced
from shared.catalogue import Catalogue

logger = logging.getLogger(__name__)


def dispatch_loop(session: Session, catalogue: Catalogue, keeper: LoopKeeper,
                  owed: Sequence[tuple[Alert, LoopNotice]], now: dt.datetime) -> list[str]:
    """One delivery per (subscription, alert, notice); returns the delivery ids created."""
    created: list[str] = []
    silences = active_silences(session, now) if owed else []
    for alert, notice in owed:
        agencies = loop_agencies(catalogue, alert, notice)
        subscriptions = session.scalars(
            select(Subscription).where(Subscription.agency_id.in_(agencies), Subscription.deleted_at.is_(None))
            .order_by(Subscription.created_at, Subscription.subscription_id)).all() if agencies else []
        status = "silenced" if is_silenced(silences, alert, catalogue) else "pending"
        for subscription in subscriptions:
            created.append(_record(session, catalogue, subscription, alert, notice, now, status))
        keeper.on_notified(session, alert, notice.kind, agencies, now)
    return created


def _record(session: Session, catalogue: Catalogue, subscription: Subscription, alert: Alert, notice: LoopNotice,
            now: dt.datetime, status: str) -> str:
    delivery_id = str(uuid.uuid4())
    entry = {**alert_fields(alert), **loop_fields(session, catalogue, alert), "notice": notice.kind,
             "loop": notice.detail}
    body = build_body(delivery_id=delivery_id, agency_id=subscription.agency_id, alerts=[entry], sent_at=now)
    session.add(Delivery(delivery_id=delivery_id, subscription_id=subscription.subscription_id,
                         agency_id=subscription.agency_id, status=status,
                         payload_status="firing" if alert.state == "firing" else "resolved", body=body, attempts=0,
                         next_attempt_at=now if status == "pending" else None, retry_started_at=now, created_at=now))
    session.flush()
    session.add(DeliveryAlert(delivery_id=delivery_id, alert_id=alert.alert_id, notice=notice.kind, created_at=now))
    logger.info("loop notification queued", extra={"delivery_id": delivery_id, "agency_id": subscription.agency_id,
                                                    "alert_id": alert.alert_id, "notice": notice.kind})
    return delivery_id
