"""The alert service's unit-of-work operations: apply consumed figures, run the periodic pass, ack.

Each public ``handle_*``/``run_*`` method is one transaction: evaluate, write state and history,
write outbox rows — commit once. A redelivered figure (``changed_at`` not newer than the alert's
``last_figure_at``) is skipped, and re-applying a state the alert is already in changes nothing,
so a replayed batch creates no second notification.

Writes are serialized in-process by ``lock`` (SQLite allows one writer; on PostgreSQL, alert rows
are also locked ``FOR UPDATE`` so several instances can share the database).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.alerts.acks import record_ack
from services.alerts.evaluate import SEVERITIES, alert_id_for, evaluate, tick
from services.alerts.lifecycle import LoopNotice
from services.alerts.loop import LoopKeeper
from services.alerts.loop_notify import dispatch_loop
from services.alerts.metrics import AlertsMetrics
from services.alerts.models import Alert, AlertTransition, Delivery, Subscription
from services.alerts.notify import DispatchResult, Notifier
from services.alerts.overdue import OverdueKeeper
from services.alerts.routing import agencies_for_alert
from services.alerts.rules import RuleBook
from services.alerts.store import (
    apply_state,
    copy_figure,
    live_alerts_for_update,
    load_for_update,
    new_alert,
    record_transition,
    state_of,
)
from shared.catalogue import Catalogue
from shared.db import transaction
from shared.figures import FigureChanged

logger = logging.getLogger(__name__)


@dataclass
class PassResult:
    applied: int = 0
    duplicates: int = 0
    unknown: int = 0
    transitions: int = 0
    dispatch: DispatchResult = field(default_factory=DispatchResult)
    loop_deliveries: list[str] = field(default_factory=list)  # rectification-loop notices queued


class AlertService:
    def __init__(self, *, catalogue: Catalogue, rules: RuleBook, sessions: sessionmaker[Session],
                 metrics: AlertsMetrics, dashboard_url: str = "http://127.0.0.1:8002") -> None:
        self.catalogue = catalogue
        self.rules = rules
        self.sessions = sessions
        self.metrics = metrics
        self.notifier = Notifier(catalogue, rules, dashboard_url=dashboard_url)
        self.loop = LoopKeeper(catalogue)
        self.overdue = OverdueKeeper(catalogue, rules)
        self.lock = threading.RLock()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction, serialized with the service's other writers in this process."""
        with self.lock, transaction(self.sessions) as session:
            yield session

    # ---- entry points (one transaction each) -----------------------------------------------------
    def handle_figures(self, messages: Sequence[FigureChanged], now: dt.datetime) -> PassResult:
        with self.write() as session:
            result = self.apply_figures(session, messages, now)
            firing = firing_counts(session)
        self._after_commit(result, firing)
        return result

    def subscribe(self, subscription: Subscription, now: dt.datetime) -> str | None:
        """Store a new subscription and, in the same transaction, queue what it missed of alerts already
        firing (``Notifier.catch_up``). Returns that delivery's id, if any."""
        with self.write() as session:
            session.add(subscription)
            session.flush()
            delivery_id = self.notifier.catch_up(session, subscription, now)
        if delivery_id is not None:
            logger.info("new subscription caught up on firing alerts",
                        extra={"subscription_id": subscription.subscription_id, "delivery_id": delivery_id})
        return delivery_id

    def run_periodic(self, now: dt.datetime) -> PassResult:
        with self.write() as session:
            result = self.periodic_pass(session, now)
            firing = firing_counts(session)
        self._after_commit(result, firing)
        return result

    # ---- work inside a transaction ---------------------------------------------------------------
    def apply_figures(self, session: Session, messages: Sequence[FigureChanged], now: dt.datetime) -> PassResult:
        result = PassResult()
        rows = load_for_update(session, (alert_id_for(m.figure.key) for m in messages))
        touched: dict[str, Alert] = {}
        owed: list[tuple[Alert, LoopNotice]] = []
        for message in messages:
            figure = message.figure
            if self.catalogue.indicator(figure.indicator) is None:
                result.unknown += 1
                logger.warning("figure for an unknown indicator skipped", extra={"figure_key": figure.key})
                continue
            alert_id = alert_id_for(figure.key)
            row = rows.get(alert_id)
            if row is not None and row.last_figure_at is not None and message.changed_at <= row.last_figure_at:
                result.duplicates += 1
                continue
            transition = evaluate(state_of(row) if row else None, figure, now,
                                  self.rules.rule_for(figure.indicator))
            if row is None:
                if transition is None or transition.after.state == "inactive":
                    continue  # a healthy figure with no alert: nothing to keep
                row = rows[alert_id] = new_alert(figure, now)
                session.add(row)
            result.applied += 1
            copy_figure(row, figure)
            row.last_figure_at = message.changed_at
            row.updated_at = now
            if transition is not None:
                apply_state(row, transition.after, now)
                if transition.changed:
                    session.flush()
                    record_transition(session, row, transition, now, message.model_dump_json())
                    owed.extend((row, n) for n in self.loop.on_transition(session, row, transition, now,
                                                                           figure.provisional))
                    result.transitions += 1
                    logger.info("alert transition", extra={
                        "alert_id": alert_id, "from": transition.before.state, "to": transition.after.state,
                        "severity": transition.after.severity, "event_ids": list(message.event_ids)})
            self.loop.note_figure(session, row, figure)
            touched[alert_id] = row
        result.dispatch = self.notifier.dispatch(session, touched.values(), now)
        self._record_notices(session, touched, result.dispatch, now)
        result.loop_deliveries = dispatch_loop(session, self.catalogue, self.loop, owed, now, self.notifier)
        return result

    def periodic_pass(self, session: Session, now: dt.datetime) -> PassResult:
        result = PassResult()
        self.overdue.periodic(session, now)  # open/resolve report_overdue alerts before the notices
        session.flush()
        rows = live_alerts_for_update(session)
        owed: list[tuple[Alert, LoopNotice]] = []
        for row in rows:
            transition = tick(state_of(row), now, self.rules.rule_for(row.indicator))
            if transition is not None:
                apply_state(row, transition.after, now)
                record_transition(session, row, transition, now, None)
                owed.extend((row, n) for n in self.loop.on_transition(session, row, transition, now))
                result.transitions += 1
        result.dispatch = self.notifier.dispatch(session, rows, now)
        self._record_notices(session, {row.alert_id: row for row in rows}, result.dispatch, now)
        owed.extend(self.loop.periodic(session, now))
        result.loop_deliveries = dispatch_loop(session, self.catalogue, self.loop, owed, now, self.notifier)
        return result

    def _record_notices(self, session: Session, rows: dict[str, Alert], dispatch: DispatchResult,
                        now: dt.datetime) -> None:
        """A ``notified`` timeline entry per notice the outbox took (sent or recorded as silenced)."""
        for alert_id, notice in dispatch.notices:
            row = rows.get(alert_id)
            if row is not None:
                self.loop.on_notified(session, row, notice, agencies_for_alert(
                    self.catalogue, row.indicator, row.region, row.category), now)

    def acknowledge(self, session: Session, row: Alert, *, by: str, agency_id: str | None, comment: str | None,
                    now: dt.datetime) -> None:
        """Record the ack (services/alerts/acks.py). An agency's (``agency_id``) stops its own reminders; an
        operator's (``agency_id`` None) stops everyone's, through the alert's ``acked_at``."""
        record_ack(session, row, role="agency" if agency_id else "operator", agency_id=agency_id, actor=by,
                   comment=comment, now=now)
        if agency_id is None:
            row.acked_at, row.acked_by, row.ack_comment = now, by, comment
        row.updated_at = now
        session.add(AlertTransition(alert_id=row.alert_id, at=now, from_state=row.state, to_state=row.state,
                                    from_severity=row.severity, to_severity=row.severity,
                                    reason=f"acknowledged by {by}"[:300], figure=None))
        self.loop.record_ack(session, row, by=by, comment=comment, now=now)  # timeline hook (issue 19)

    def _after_commit(self, result: PassResult, firing: dict[str, int]) -> None:
        if result.dispatch.silenced:
            self.metrics.notification("silenced", len(result.dispatch.silenced))
        for severity in SEVERITIES:
            self.metrics.firing.labels(severity).set(firing.get(severity, 0))


def firing_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(Alert.severity, func.count()).where(Alert.state == "firing")
                           .group_by(Alert.severity))
    return {severity: count for severity, count in rows if severity}


def pending_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "pending")) or 0
