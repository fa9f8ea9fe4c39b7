"""Tables owned by the alerts service.

- ``alert``: one row per figure identity (indicator, region, category, window), its current state
  and the newest figure snapshot; a row that resolves and fires again starts a new episode
  (``started_at``) and keeps its ``alert_id``. The newest applied ``FigureChanged.changed_at`` is
  ``last_figure_at``: an older or equal message is a redelivery and is skipped.
- ``alert_transition``: history, one row per state or severity change (and per acknowledgement).
- ``alert_ack``: every acknowledgement (append-only): agency or operator, when, episode, comment.
- ``subscription``: an agency's webhook. The ``secret`` is stored as given (not hashed): the
  service needs it to compute each delivery's HMAC signature.
- ``delivery``: the outbox. The body is serialized once when the notification is created and
  never changes; each attempt signs ``"<t>.<body>"`` with a fresh ``t``.
- ``delivery_alert``: which alerts (and which notice) a delivery carries.
- ``delivery_attempt``: every HTTP attempt with status code, latency and error.
- ``silence``: matchers (optional indicator/region/category) and a time range.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class Alert(Base):
    __tablename__ = "alert"

    alert_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    figure_key: Mapped[str] = mapped_column(String(300), unique=True)
    indicator: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(12))
    category: Mapped[str | None] = mapped_column(String(64))
    window: Mapped[str] = mapped_column(String(16))

    state: Mapped[str] = mapped_column(String(16), index=True)  # inactive|pending|firing|resolved
    severity: Mapped[str | None] = mapped_column(String(16))  # warning|critical
    status: Mapped[str | None] = mapped_column(String(24))  # the newest figure's status

    value: Mapped[float | None] = mapped_column(Float)
    ci95_lo: Mapped[float | None] = mapped_column(Float)
    ci95_hi: Mapped[float | None] = mapped_column(Float)
    numerator: Mapped[float | None] = mapped_column(Float)
    denominator: Mapped[float | None] = mapped_column(Float)
    target_op: Mapped[str] = mapped_column(String(2))
    target_value: Mapped[float] = mapped_column(Float)
    figure_as_of: Mapped[dt.datetime | None]

    active_at: Mapped[dt.datetime | None]  # when the figure turned bad (start of pending)
    started_at: Mapped[dt.datetime | None]  # when this episode started firing
    resolved_at: Mapped[dt.datetime | None]
    ok_since: Mapped[dt.datetime | None]  # firing, and the figure has been ok since

    notified_state: Mapped[str | None] = mapped_column(String(16))  # firing|resolved, this episode
    notified_severity: Mapped[str | None] = mapped_column(String(16))  # highest notified, this episode
    last_notified_at: Mapped[dt.datetime | None]
    muted_key: Mapped[str | None] = mapped_column(String(100))  # the notice last recorded as silenced

    last_figure_at: Mapped[dt.datetime | None]
    acked_at: Mapped[dt.datetime | None]
    acked_by: Mapped[str | None] = mapped_column(String(100))
    ack_comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class AlertTransition(Base):
    __tablename__ = "alert_transition"

    transition_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alert.alert_id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime]
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    from_severity: Mapped[str | None] = mapped_column(String(16))
    to_severity: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(300))
    figure: Mapped[str | None] = mapped_column(Text)  # the FigureChanged JSON that caused it


class Subscription(Base):
    __tablename__ = "subscription"

    subscription_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(100), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(256))  # kept in clear: it keys the HMAC signatures
    min_severity: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str | None] = mapped_column(String(100))
    deleted_at: Mapped[dt.datetime | None]


class Delivery(Base):
    __tablename__ = "delivery"
    __table_args__ = (Index("ix_delivery_status_next_attempt_at", "status", "next_attempt_at"),)

    delivery_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscription.subscription_id"), index=True)
    agency_id: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(16))  # pending|delivered|failed|gave_up|silenced
    payload_status: Mapped[str] = mapped_column(String(16))  # firing|resolved (the body's status)
    body: Mapped[str] = mapped_column(Text)  # the exact bytes sent on every attempt (UTF-8)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None]
    retry_started_at: Mapped[dt.datetime]  # start of the give-up window (creation, or a redeliver)
    created_at: Mapped[dt.datetime]
    delivered_at: Mapped[dt.datetime | None]
    last_attempt_at: Mapped[dt.datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)


class DeliveryAlert(Base):
    __tablename__ = "delivery_alert"

    delivery_id: Mapped[str] = mapped_column(ForeignKey("delivery.delivery_id", ondelete="CASCADE"),
                                             primary_key=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alert.alert_id", ondelete="CASCADE"), primary_key=True,
                                          index=True)
    notice: Mapped[str] = mapped_column(String(16))  # firing|escalated|reminder|resolved
    created_at: Mapped[dt.datetime]


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempt"

    attempt_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("delivery.delivery_id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime]
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)


class Silence(Base):
    __tablename__ = "silence"

    silence_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    indicator: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(12))
    category: Mapped[str | None] = mapped_column(String(64))
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime] = mapped_column(index=True)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime]
    expired_at: Mapped[dt.datetime | None]  # set when deleted early


class AlertAck(Base):
    """One acknowledgement, append-only: who (the agency, or an operator), when, for which episode and
    severity, with what comment. An agency's ack stops that agency's reminders for the episode until the
    alert escalates past ``severity``; an operator's stops everyone's (``alert.acked_at``)."""

    __tablename__ = "alert_ack"

    ack_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alert.alert_id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime]
    role: Mapped[str] = mapped_column(String(16))  # agency|operator
    agency_id: Mapped[str | None] = mapped_column(String(100))  # the acknowledging agency (None: operator)
    actor: Mapped[str] = mapped_column(String(100))  # as in created_by elsewhere: "agency:agri", "operator:<key>"
    episode_started_at: Mapped[dt.datetime | None]  # the alert's started_at when acknowledged
    severity: Mapped[str | None] = mapped_column(String(16))  # the highest severity notified when acknowledged
    comment: Mapped[str | None] = mapped_column(Text)
