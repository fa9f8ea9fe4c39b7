"""From alerts that owe a notice to outbox rows: silence, route, group, serialize once.

Each alert in a webhook carries ``acks``, its acknowledgements of the current episode (``with_acks``).
A reminder skips the agencies that acknowledged the alert (services/alerts/acks.py).

Everything an evaluation (one consumed batch, or one periodic pass) owes one subscription travels
in one delivery (``alerts: [...]``): for a DingTalk or WeCom robot, alerts that change together are
one message. The body is rendered once, for the subscription's channel and locale
(``services.alerts.notices``), and stored: every attempt sends the same message. Silenced notices
become ``silenced`` delivery rows (never sent), recorded once per owed notice rather than once per pass.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.alerts.acks import acked_agencies, acks_by_alert, acks_for_payload
from services.alerts.channels import MARKDOWN_LIMIT, dingtalk_body, wecom_body
from services.alerts.evaluate import Notice, mark_notified, muted_key, notice_due
from services.alerts.loop import loop_fields, named_cities
from services.alerts.models import Alert, Delivery, DeliveryAlert, Subscription
from services.alerts.notices import NoticeRenderer
from services.alerts.payload import alert_fields, build_body
from services.alerts.routing import subscriptions_for, would_receive
from services.alerts.rules import RuleBook
from services.alerts.silences import active_silences, is_silenced
from services.alerts.store import apply_state, severities_left, state_of
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
    def __init__(self, catalogue: Catalogue, rules: RuleBook, *, dashboard_url: str = "http://127.0.0.1:8002") -> None:
        self.catalogue = catalogue
        self.rules = rules
        self.renderer = NoticeRenderer(catalogue, dashboard_url)

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
            result.deliveries.append(self._record(session, group, now, status="pending"))
        for group in muting.values():
            result.silenced.append(self._record(session, group, now, status="silenced"))
        return result

    def catch_up(self, session: Session, subscription: Subscription, now: dt.datetime) -> str | None:
        """A new subscription hears at once of the alerts already firing (and notified) that it would have
        been sent, in one ``firing`` delivery; the alerts' own notification state is left as it is. Alerts
        not notified yet reach it with everyone else's; silenced ones when their silence ends."""
        group = _Group(subscription, [(row, "firing") for row in self.firing_for(session, subscription, now)])
        return self._record(session, group, now, status="pending") if group.items else None

    def firing_for(self, session: Session, subscription: Subscription, now: dt.datetime) -> list[Alert]:
        """The alerts firing (and notified) now that ``subscription`` receives, silenced ones left out."""
        silences = active_silences(session, now)
        rows = session.scalars(select(Alert).where(Alert.state == "firing", Alert.notified_state == "firing")
                               .order_by(Alert.alert_id))
        return [row for row in rows
                if would_receive(self.catalogue, subscription, row) and not is_silenced(silences, row, self.catalogue)]

    def _record(self, session: Session, group: _Group, now: dt.datetime, *, status: str) -> str:
        delivery_id = str(uuid.uuid4())
        subscription = group.subscription
        acks = acks_for_payload(session, (a for a, _ in group.items))
        extras = {a.alert_id: loop_fields(session, self.catalogue, a) for a, _ in group.items}
        # A city named in a provincial alert of the same delivery is read there, not as a second notice (issue 19).
        for city, province in named_cities(session, self.catalogue, group.items).items():
            extras[city]["named_in"] = province
        left = ({a.alert_id: severities_left(session, a, now) for a, _ in group.items}
                if subscription.channel == "alertmanager" else None)
        body = self.render(subscription, group.items, delivery_id=delivery_id, now=now, acks=acks, extras=extras,
                           left=left)
        payload_status = "firing" if any(a.state == "firing" for a, _ in group.items) else "resolved"
        session.add(Delivery(delivery_id=delivery_id, subscription_id=subscription.subscription_id,
                             agency_id=subscription.agency_id, channel=subscription.channel or "webhook",
                             status=status, payload_status=payload_status,
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

    def render(self, subscription: Subscription, items: Sequence[tuple[Alert, str]], *, delivery_id: str,
               now: dt.datetime, acks: dict[str, list[dict[str, Any]]] | None = None,
               extras: dict[str, dict[str, Any]] | None = None,
               left: dict[str, dict[str, dt.datetime]] | None = None) -> str:
        """The message a delivery sends, in the subscription's channel and locale (stored once); ``extras``:
        per alert, its loop fields (``loop_fields``: kind, rectification, contributors, provisional failures;
        for a loop notice also ``loop``, the notice's details), additive in the webhook JSON and rendered in
        every other channel's text. ``items`` pair an alert with its outbox notice (``firing`` ... or a loop
        notice: ``rectify_overdue``, ``rectified``, ``closed``). A city alert whose extras say ``named_in`` (a
        provincial alert of the same delivery names it) is left out of what people read (markdown, email) and
        kept in the webhook's and Alertmanager's alerts, which machines read by id."""
        channel = subscription.channel or "webhook"
        locale = subscription.locale or "zh-CN"
        renderer = self.renderer
        extras = extras or {}
        if channel == "alertmanager":
            left = left or {}
            return orjson.dumps([pushed for a, n in items
                                 for pushed in renderer.alertmanager_alerts(a, n, subscription.agency_id,
                                                                            left.get(a.alert_id),
                                                                            extras.get(a.alert_id))]).decode()
        acks = acks or {}
        views = [renderer.item(a, n, locale, acks=acks.get(a.alert_id), extras=extras.get(a.alert_id))
                 for a, n in items if "named_in" not in extras.get(a.alert_id, {})]
        if channel in MARKDOWN_LIMIT:
            options = orjson.loads(subscription.options or "{}")
            title = renderer.title(views, locale)
            if channel == "wecom":
                return wecom_body(renderer.markdown(views, locale, max_bytes=MARKDOWN_LIMIT["wecom"]))
            mobiles = list(options.get("at_mobiles") or [])
            room = MARKDOWN_LIMIT["dingtalk"] - 20 * len(mobiles) - 4
            return dingtalk_body(title, renderer.markdown(views, locale, max_bytes=room), mobiles)
        if channel == "email":
            return orjson.dumps({"subject": renderer.title(views, locale), "text": renderer.text(views, locale),
                                 "html": renderer.html(views, locale)}).decode()
        alerts = [with_acks({**alert_fields(a), **extras.get(a.alert_id, {}),
                             **renderer.webhook_fields(a, n, locale, extras.get(a.alert_id))}, acks)
                  for a, n in items]
        return build_body(delivery_id=delivery_id, agency_id=subscription.agency_id, alerts=alerts, sent_at=now)


def with_acks(fields: dict[str, Any], acks: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """A webhook's alert with its acknowledgements of this episode (``acks``: who, when, comment)."""
    return {**fields, "acks": acks.get(fields["alert_id"], [])}


def _add(groups: dict[str, _Group], subscriptions: list[Subscription], row: Alert, notice: Notice) -> None:
    for subscription in subscriptions:
        groups.setdefault(subscription.subscription_id, _Group(subscription)).items.append((row, notice))
