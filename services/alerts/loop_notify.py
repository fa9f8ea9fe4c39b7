"""The rectification loop's notices through the one alert outbox (``delivery`` rows, signed, retried).

A loop notice (``rectify_overdue``: a plan's deadline passed, to the next level up; ``rectified``;
``closed``) goes to every live subscription of the agencies it names (or, with none named, of the
alert's agencies), whatever their ``min_severity``: these are steps of work, not severity alarms. The
message is rendered by the one renderer (``Notifier.render``) for the subscription's channel and locale:
the webhook body is today's shape, each alert entry gaining ``notice`` and ``loop`` (additive fields);
DingTalk, WeCom, email and Alertmanager get the notice's text (``shared/i18n/notices.*.json``).
Silences apply as to threshold notices: a silenced notice is recorded as a ``silenced`` delivery.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.alerts.acks import acks_for_payload
from services.alerts.lifecycle import LoopNotice
from services.alerts.loop import LoopKeeper, loop_agencies, loop_fields
from services.alerts.models import Alert, Delivery, DeliveryAlert, Subscription
from services.alerts.notify import Notifier
from services.alerts.silences import active_silences, is_silenced
from shared.catalogue import Catalogue

logger = logging.getLogger(__name__)


def dispatch_loop(session: Session, catalogue: Catalogue, keeper: LoopKeeper,
                  owed: Sequence[tuple[Alert, LoopNotice]], now: dt.datetime, notifier: Notifier) -> list[str]:
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
            created.append(_record(session, catalogue, notifier, subscription, alert, notice, now, status))
        keeper.on_notified(session, alert, notice.kind, agencies, now)
    return created


def _record(session: Session, catalogue: Catalogue, notifier: Notifier, subscription: Subscription, alert: Alert,
            notice: LoopNotice, now: dt.datetime, status: str) -> str:
    delivery_id = str(uuid.uuid4())
    extras = {alert.alert_id: {**loop_fields(session, catalogue, alert), "loop": notice.detail}}
    body = notifier.render(subscription, [(alert, notice.kind)], delivery_id=delivery_id, now=now,
                           acks=acks_for_payload(session, [alert]), extras=extras)
    session.add(Delivery(delivery_id=delivery_id, subscription_id=subscription.subscription_id,
                         agency_id=subscription.agency_id, channel=subscription.channel or "webhook", status=status,
                         payload_status="firing" if alert.state == "firing" else "resolved", body=body, attempts=0,
                         next_attempt_at=now if status == "pending" else None, retry_started_at=now, created_at=now))
    session.flush()
    session.add(DeliveryAlert(delivery_id=delivery_id, alert_id=alert.alert_id, notice=notice.kind, created_at=now))
    logger.info("loop notification queued", extra={"delivery_id": delivery_id, "agency_id": subscription.agency_id,
                                                    "alert_id": alert.alert_id, "notice": notice.kind})
    return delivery_id
