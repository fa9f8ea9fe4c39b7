"""Acknowledgements, per agency, kept as a history (``alert_ack``, append-only).

An agency's ack stops that agency's reminders for the alert's current episode, until the alert escalates
above the severity it was acknowledged at; other agencies' reminders go on. An operator's ack stops every
agency's reminders the same way (it also sets ``alert.acked_at``, which the state machine reads). Every ack
is kept, and shown with the alert: the API's ``acks`` and each alert of a webhook's ``acks``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.alerts.evaluate import SEVERITY_RANK
from services.alerts.models import Alert, AlertAck
from services.alerts.payload import instant


def record_ack(session: Session, row: Alert, *, role: str, agency_id: str | None, actor: str,
               comment: str | None, now: dt.datetime) -> AlertAck:
    ack = AlertAck(alert_id=row.alert_id, at=now, role=role, agency_id=agency_id, actor=actor,
                   episode_started_at=row.started_at, severity=row.notified_severity or row.severity, comment=comment)
    session.add(ack)
    return ack


def acks_by_alert(session: Session, alert_ids: Iterable[str]) -> dict[str, list[AlertAck]]:
    """Every ack of these alerts, oldest first."""
    ids = sorted(set(alert_ids))
    out: dict[str, list[AlertAck]] = {alert_id: [] for alert_id in ids}
    if ids:
        for ack in session.scalars(select(AlertAck).where(AlertAck.alert_id.in_(ids))
                                   .order_by(AlertAck.at, AlertAck.ack_id)):
            out[ack.alert_id].append(ack)
    return out


def standing(row: Alert, acks: Iterable[AlertAck]) -> list[AlertAck]:
    """The acks that still hold: made in the alert's current episode, at or above the severity notified since."""
    if row.started_at is None:
        return []
    notified = SEVERITY_RANK.get(row.notified_severity, 0)
    return [a for a in acks if a.episode_started_at == row.started_at and SEVERITY_RANK.get(a.severity, 0) >= notified]


def acked_agencies(row: Alert, acks: Iterable[AlertAck]) -> set[str]:
    """The agencies whose reminders the standing acks stop."""
    return {a.agency_id for a in standing(row, acks) if a.agency_id is not None}


def ack_json(ack: AlertAck) -> dict[str, Any]:
    """One ack as agencies and webhooks see it: an operator is named by role only (no key id)."""
    return {"at": instant(ack.at), "agency_id": ack.agency_id,
            "by": ack.actor if ack.role == "agency" else "operator", "comment": ack.comment,
            "started_at": instant(ack.episode_started_at), "severity": ack.severity}


def acks_for_payload(session: Session, alerts: Iterable[Alert]) -> dict[str, list[dict[str, Any]]]:
    """Each alert's acks of its current episode, as a webhook's alert carries them (``acks``)."""
    rows = list(alerts)
    history = acks_by_alert(session, (a.alert_id for a in rows))
    return {a.alert_id: [ack_json(x) for x in history[a.alert_id] if x.episode_started_at == a.started_at]
            for a in rows}
