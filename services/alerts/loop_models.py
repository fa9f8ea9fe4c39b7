"""Tables of the rectification loop (issue 19), owned by the alerts service.

- ``alert_loop``: one row per alert, the loop state of its current episode (``lifecycle.LoopState``):
  stage, the rectification plan, escalation, follow-up counts, rectified/resolved/closed instants.
- ``alert_timeline``: every step of every episode of an alert (fired, notified, acknowledged, plan
  set, escalated, follow-ups received, rectified, resolved, closed; report overdue/received), one row
  each, **append-only**: the ORM refuses to update or delete a row (``_refuse``), and migration
  ``0006_loop`` adds a trigger on PostgreSQL and SQLite that refuses it in the database too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class AlertLoop(Base):
    __tablename__ = "alert_loop"

    alert_id: Mapped[str] = mapped_column(ForeignKey("alert.alert_id"), primary_key=True)
    episode_started_at: Mapped[dt.datetime | None]
    stage: Mapped[str] = mapped_column(String(16))  # open|planned|rectified|closed
    plan_unit: Mapped[str | None] = mapped_column(String(200))
    plan_deadline: Mapped[dt.datetime | None]
    plan_comment: Mapped[str | None] = mapped_column(Text)
    plan_set_by: Mapped[str | None] = mapped_column(String(100))
    plan_set_at: Mapped[dt.datetime | None]
    escalated_at: Mapped[dt.datetime | None]
    follow_ups: Mapped[int] = mapped_column(Integer, default=0)
    follow_ups_failed: Mapped[int] = mapped_column(Integer, default=0)
    rectified_at: Mapped[dt.datetime | None]
    resolved_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    provisional: Mapped[int | None] = mapped_column(Integer)  # the newest figure's provisional failures
    contributors: Mapped[str | None] = mapped_column(Text)  # JSON: the newest figure's shortfall contributors
    updated_at: Mapped[dt.datetime]


class AlertTimelineEntry(Base):
    __tablename__ = "alert_timeline"

    entry_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alert.alert_id"), index=True)
    at: Mapped[dt.datetime]
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[str] = mapped_column(Text, default="{}")  # JSON object


class AppendOnlyError(RuntimeError):
    """An attempt to edit or delete a timeline entry."""


def _refuse(_mapper: Any, _connection: Any, target: AlertTimelineEntry) -> None:
    raise AppendOnlyError(f"alert timeline entries are append-only (entry {target.entry_id})")


event.listen(AlertTimelineEntry, "before_update", _refuse)
event.listen(AlertTimelineEntry, "before_delete", _refuse)
