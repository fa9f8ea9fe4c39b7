"""Who hears about an alert: the agencies the catalogue names, then their subscriptions.

Firing, escalation and reminder notices go to every live subscription of every agency in
``catalogue.agencies_for(...)`` whose ``min_severity`` the alert's severity reaches. A resolve notice
goes to the live subscriptions that got a (non-silenced) notice about the alert in this episode.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.alerts.evaluate import Notice, severity_at_least
from services.alerts.models import Alert, Delivery, DeliveryAlert, Subscription
from shared.catalogue import Catalogue


def programme_for(catalogue: Catalogue, indicator: str, category: str | None) -> str | None:
    """The programme a category-scoped figure belongs to, when exactly one programme knows it."""
    if category is None:
        return None
    names = [name for name, p in catalogue.programmes.items() if category in p.categories]
    preferred = [n for n in names if catalogue.programmes[n].indicator == indicator]
    chosen = preferred or names
    return chosen[0] if len(chosen) == 1 else None


def agencies_for_alert(catalogue: Catalogue, indicator: str, region: str, category: str | None) -> tuple[str, ...]:
    spec = catalogue.indicator(indicator)
    if spec is None:
        return ()
    return catalogue.agencies_for(spec, region, programme_for(catalogue, indicator, category))


def subscriptions_for(session: Session, catalogue: Catalogue, alert: Alert, notice: Notice) -> list[Subscription]:
    if notice == "resolved":
        return _subscriptions_notified(session, alert)
    agencies = agencies_for_alert(catalogue, alert.indicator, alert.region, alert.category)
    if not agencies:
        return []
    rows = session.scalars(select(Subscription).where(Subscription.agency_id.in_(agencies),
                                                      Subscription.deleted_at.is_(None))
                           .order_by(Subscription.created_at, Subscription.subscription_id))
    return [s for s in rows if severity_at_least(alert.severity, s.min_severity)]


def would_receive(catalogue: Catalogue, subscription: Subscription, alert: Alert) -> bool:
    """Whether ``subscriptions_for`` would name ``subscription`` for a firing notice of ``alert`` (the same
    rule, asked of one subscription: its agency is responsible and the severity reaches its minimum)."""
    return (severity_at_least(alert.severity, subscription.min_severity)
            and subscription.agency_id in agencies_for_alert(catalogue, alert.indicator, alert.region,
                                                             alert.category))


def _subscriptions_notified(session: Session, alert: Alert) -> list[Subscription]:
    if alert.started_at is None:
        return []
    query = (select(Subscription).join(Delivery, Delivery.subscription_id == Subscription.subscription_id)
             .join(DeliveryAlert, DeliveryAlert.delivery_id == Delivery.delivery_id)
             .where(DeliveryAlert.alert_id == alert.alert_id, DeliveryAlert.notice != "resolved",
                    DeliveryAlert.created_at >= alert.started_at, Delivery.status != "silenced",
                    Subscription.deleted_at.is_(None))
             .distinct().order_by(Subscription.subscription_id))
    return list(session.scalars(query))
