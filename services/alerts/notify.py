"""From alerts that owe a notice to outbox rows: silence, route, group, serialize once.

Each alert in a webhook carries ``acks``, its acknowledgements of the current episode (``with_acks``).
A reminder skips the agencies that acknowledged the alert (services/alerts/acks.py).

Everything an evaluation (one consumed batch, or one periodic pass) owes one subscription travels
in one delivery (``alerts: [...]``). Silenced notices become ``silenced`` delivery rows (never
sent), recorded once per owed notice rather than once per pass.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.alerts.acks import acked_agencies, acks_by_alert, acks_for_payload
from services.alerts.evaluate import Notice, mark_notified, muted_key, notice_due
from services.alerts.loop import fold_named_cities, loop_fields
from services.alerts.models import Alert, Delivery, DeliveryAlert, Subscription
from services.alerts.payload import alert_fields, build_body
from services.alerts.routing import subscriptions_for, would_receive
from services.alerts.rules import RuleBook
from services.alerts.silences import active_silences, is_silenced
from services.alerts.store import apply_state, state_of
from shared.catalogue import Catalogue

logger = logging.getLogger(__name__)


@dataclass
class DispatchResult:
    deliveries: list[str] = field(default_factory=list)  # delivery ids created (pending)
    silenced: list[str] = field(default_factory=list)  # delivery ids recorded as silenced
    notices: list[tuple[str, Notice]] = field(default_factory=list)  # (alert_id, notice) sent or muted


@dataclass
class _Group:
    subscription: Subscription
    items: list[tuple[Alert, Notice]] = field(default_factory=list)


class Notifier:
    def __init__(self, catalogue: Catalogue, rules: RuleBook) -> None:
        self.catalogue = catalogue
        self.rules = rules

    def dispatch(self, session: Session, alerts: Iterable[Alert], now: dt.datetime) -> DispatchResult:
        result = DispatchResult()
        silences = active_silences(session, now)
        sending: dict[str, _Group] = {}
        muting: dict[str, _Group] = {}
        for row in sorted(alerts, key=lambda a: a.alert_id):
            state = state_of(row)
            notice = notice_due(state, now, self.rules.rule_for(row.indicator))
            if notice is None:
                continue
            subscriptions = subscriptions_for(session, self.catalogue, row, notice)
            if notice == "reminder":  # an agency that acknowledged the alert hears no more reminders of it
                acked = acked_agencies(row, acks_by_alert(session, [row.alert_id])[row.alert_id])
                subscriptions = [s for s in subscriptions if s.agency_id not in acked]
            if notice != "resolved" and is_silenced(silences, row, self.catalogue):
                key = muted_key(state, notice)
                if row.muted_key == key:
                    continue
                row.muted_key = key
                _add(muting, subscriptions, row, notice)
            else:
                apply_state(row, mark_notified(state, notice, now), now)
                row.muted_key = None
                _add(sending, subscriptions, row, notice)
            result.notices.append((row.alert_id, notice))
        for group in sending.values():
            # A city named in a provincial alert of the same delivery is not notified a second time (issue 19).
            group.items = fold_named_cities(session, self.catalogue, group.items)
            result.deliveries.append(self._record(session, group, now, status="pending"))
        for group in muting.values():
            result.silenced.append(self._record(session, group, now, status="silenced"))
        return result

    def catch_up(self, session: Session, subscription: Subscription, now: dt.datetime) -> str | None:
        """A new subscription hears at once of the alerts already firing (and notified) that it would have
        been sent, in one ``firing`` delivery; the alerts' own notification state is left as it is. Alerts
        not notified yet reach it with everyone else's; silenced ones when their silence ends."""
        silences = active_silences(session, now)
        group = _Group(subscription)
        rows = session.scalars(select(Alert).where(Alert.state == "firing", Alert.notified_state == "firing")
                               .order_by(Alert.alert_id))
        for row in rows:
            if would_receive(self.catalogue, subscription, row) and not is_silenced(silences, row, self.catalogue):
                group.items.append((row, "firing"))
        return self._record(session, group, now, status="pending") if group.items else None

    def _record(self, session: Session, group: _Group, now: dt.datetime, *, status: str) -> str:
        delivery_id = str(uuid.uuid4())
        subscription = group.subscription
        acks = acks_for_payload(session, (a for a, _ in group.items))
        body = build_body(delivery_id=delivery_id, agency_id=subscription.agency_id,
                          alerts=[{**with_acks(alert_fields(a), acks), **loop_fields(session, self.catalogue, a),
                                   "notice": n} for a, n in group.items], sent_at=now)
        payload_status = "firing" if any(a.state == "firing" for a, _ in group.items) else "resolved"
        session.add(Delivery(delivery_id=delivery_id, subscription_id=subscription.subscription_id,
                             agency_id=subscription.agency_id, status=status, payload_status=payload_status,
                             body=body, attempts=0, next_attempt_at=now if status == "pending" else None,
                             retry_started_at=now, created_at=now))
        session.flush()
        for alert, notice in group.items:
            session.add(DeliveryAlert(delivery_id=delivery_id, alert_id=alert.alert_id, notice=notice,
                                      created_at=now))
        logger.info("notification queued", extra={
            "delivery_id": delivery_id, "agency_id": subscription.agency_id, "status": status,
            "alert_ids": [a.alert_id for a, _ in group.items], "notices": [n for _, n in group.items]})
        return delivery_id


def with_acks(fields: dict[str, Any], acks: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """A webhook's alert with its acknowledgements of this episode (``acks``: who, when, comment)."""
    return {**fields, "acks": acks.get(fields["alert_id"], [])}


def _add(groups: dict[str, _Group], subscriptions: list[Subscription], row: Alert, notice: Notice) -> None:
    for subscription in subscriptions:
        groups.setdefault(subscription.subscription_id, _Group(subscription)).items.append((row, notice))
