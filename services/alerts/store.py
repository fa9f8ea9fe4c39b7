"""Alert rows ↔ the pure AlertState, and loading rows for update."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from services.alerts.evaluate import AlertState, Transition, alert_id_for
from services.alerts.models import Alert, AlertTransition
from shared.db import is_postgres
from shared.figures import Figure

STATE_FIELDS = ("state", "severity", "status", "active_at", "started_at", "resolved_at", "ok_since",
                "notified_state", "notified_severity", "last_notified_at", "acked_at")


def state_of(row: Alert) -> AlertState:
    return AlertState(**{name: getattr(row, name) for name in STATE_FIELDS})


def apply_state(row: Alert, state: AlertState, now: dt.datetime) -> None:
    for name in STATE_FIELDS:
        setattr(row, name, getattr(state, name))
    if state.acked_at is None:
        row.acked_by = None
        row.ack_comment = None
    row.updated_at = now


def new_alert(figure: Figure, now: dt.datetime) -> Alert:
    return Alert(alert_id=alert_id_for(figure.key), figure_key=figure.key, indicator=figure.indicator,
                 region=figure.region, category=figure.category, window=figure.window, state="inactive",
                 target_op=figure.target.op, target_value=figure.target.value, created_at=now, updated_at=now)


def copy_figure(row: Alert, figure: Figure) -> None:
    row.value = figure.value
    row.ci95_lo, row.ci95_hi = figure.ci95 if figure.ci95 else (None, None)
    row.numerator = figure.numerator
    row.denominator = figure.denominator
    row.target_op = figure.target.op
    row.target_value = figure.target.value
    row.figure_as_of = figure.as_of


def for_update(session: Session, query: Select[Alert]) -> Select[Alert]:
    """Row locks on PostgreSQL, so two alert instances never act on one alert at once."""
    bind = session.get_bind()
    return query.with_for_update() if is_postgres(bind) else query


def load_for_update(session: Session, alert_ids: Iterable[str]) -> dict[str, Alert]:
    ids = sorted(set(alert_ids))
    if not ids:
        return {}
    query = for_update(session, select(Alert).where(Alert.alert_id.in_(ids)).order_by(Alert.alert_id))
    return {row.alert_id: row for row in session.scalars(query)}


def live_alerts_for_update(session: Session) -> list[Alert]:
    """Alerts the periodic pass looks at: pending, firing, or resolved with a resolve notice owed."""
    query = select(Alert).where(or_(Alert.state.in_(("pending", "firing")),
                                    (Alert.state == "resolved") & (Alert.notified_state == "firing")))
    return list(session.scalars(for_update(session, query.order_by(Alert.alert_id))))


def record_transition(session: Session, row: Alert, transition: Transition, now: dt.datetime,
                      figure_json: str | None) -> None:
    session.add(AlertTransition(alert_id=row.alert_id, at=now, from_state=transition.before.state,
                                to_state=transition.after.state, from_severity=transition.before.severity,
                                to_severity=transition.after.severity, reason=transition.reason[:300],
                                figure=figure_json))


SEVERITY_LEFT_RETENTION = dt.timedelta(minutes=15)  # as Prometheus re-sends a resolved alert for 15 minutes


def severities_left(session: Session, row: Alert, now: dt.datetime) -> dict[str, dt.datetime]:
    """The severities this firing episode held and then left in the last 15 minutes, each with when it left
    it (Alertmanager keeps one alert per severity label: those are ended on the next pushes)."""
    if row.started_at is None:
        return {}
    t = AlertTransition
    query = (select(t.from_severity, func.max(t.at))
             .where(t.alert_id == row.alert_id, t.at > row.started_at, t.at >= now - SEVERITY_LEFT_RETENTION,
                    t.from_severity.is_not(None), t.to_severity.is_not(None), t.from_severity != t.to_severity)
             .group_by(t.from_severity))
    return {severity: at for severity, at in session.execute(query) if severity and severity != row.severity}
