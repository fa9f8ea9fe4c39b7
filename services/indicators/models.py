"""Tables owned by the indicators service.

- ``applied_event``: every event applied once (exactly-once effect across redeliveries).
- ``inspection`` / ``acceptance`` / ``sample``: the current state of each subject.
- ``daily_tally``: per indicator, region (every roll-up level), category and CST day, the sums a
  figure needs; maintained incrementally (a replaced verdict subtracts its old contribution).
- ``monthly_tally``: the same sums per calendar month, for long windows.
- ``reported_figure``: the latest report per indicator, region and period.
- ``dead_letter``: messages that could not be applied, for an operator to list and replay.
- ``published_figure``: the last figure published on ``qw.figures`` per figure key.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Date,
    Float,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base
from shared.figures import FigureStatus

ID = String(100)
# Category value used where a figure has no category (acceptances, surveys, milestones).
NO_CATEGORY = ""


class AppliedEvent(Base):
    __tablename__ = "applied_event"

    # The event's sender (the qw-sender header; '' for messages published before senders were recorded).
    sender: Mapped[str] = mapped_column(String(120), primary_key=True)
    event_id: Mapped[str] = mapped_column(ID, primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    applied_at: Mapped[dt.datetime]
    outcome: Mapped[str] = mapped_column(String(16))  # "applied" or "ignored" (stale: a newer state stands)
    standing_revision: Mapped[int | None] = mapped_column(Integer)  # for an ignored revision: the one that stands


class SubjectOwner(Base):
    """The first sender of each sample, project and reported figure (``shared.events.owned_subject``)."""

    __tablename__ = "subject_owner"

    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    owner: Mapped[str] = mapped_column(String(120))
    claimed_at: Mapped[dt.datetime]


class Inspection(Base):
    __tablename__ = "inspection"

    sample_id: Mapped[str] = mapped_column(ID, primary_key=True)
    programme: Mapped[str] = mapped_column(ID)
    indicator: Mapped[str] = mapped_column(ID)
    category: Mapped[str] = mapped_column(ID)
    region: Mapped[str] = mapped_column(String(6))
    verdict: Mapped[str] = mapped_column(String(8))
    revision: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[dt.datetime]
    event_id: Mapped[str] = mapped_column(ID)

    # Failures by time: provisional counts read only the last objection period's failures, and those awaiting
    # a re-test without a visit to the table (issue 20).
    __table_args__ = (Index("ix_inspection_failure_time", "occurred_at", postgresql_where=text("verdict = 'fail'"),
                            postgresql_include=["indicator", "programme", "region", "category", "sample_id",
                                                "revision"],
                            sqlite_where=text("verdict = 'fail'")),)


class Acceptance(Base):
    __tablename__ = "acceptance"

    project_id: Mapped[str] = mapped_column(ID, primary_key=True)
    size: Mapped[str] = mapped_column(String(8))
    region: Mapped[str] = mapped_column(String(6))
    first_time_pass: Mapped[bool]
    revision: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[dt.datetime]
    event_id: Mapped[str] = mapped_column(ID)


class Sample(Base):
    __tablename__ = "sample"

    sample_id: Mapped[str] = mapped_column(ID, primary_key=True)
    programme: Mapped[str] = mapped_column(ID)
    category: Mapped[str] = mapped_column(ID)
    region: Mapped[str] = mapped_column(String(6))
    collected_at: Mapped[dt.datetime]
    event_id: Mapped[str] = mapped_column(ID)


class _TallySums:
    """The sums every tally row keeps (see ``DailyTally``); added to, never recomputed."""

    indicator: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(6))
    category: Mapped[str] = mapped_column(ID)
    numerator: Mapped[int] = mapped_column(BigInteger, default=0)
    denominator: Mapped[int] = mapped_column(BigInteger, default=0)
    extra: Mapped[int] = mapped_column(BigInteger, default=0)
    score_sum: Mapped[float] = mapped_column(Float, default=0.0)
    score_sq_sum: Mapped[float] = mapped_column(Float, default=0.0)
    # Latest occurred_at of an event that touched the row (not lowered when one is replaced).
    last_event_at: Mapped[dt.datetime | None]


class DailyTally(_TallySums, Base):
    """Sums per (indicator, region, day, category). Column use by kind:

    pass_rate: numerator = passes, denominator = results. mean_score: denominator = respondents,
    score_sum = Σ score·respondents, score_sq_sum = Σ score²·respondents. milestone: numerator =
    Σ count, denominator = reports. quota_coverage: numerator = denominator = samples collected.
    completion_share (by collection day): denominator = collected, extra = inspected at all,
    numerator = inspected within completion_days.
    """

    __tablename__ = "daily_tally"
    __table_args__ = (PrimaryKeyConstraint("indicator", "region", "day", "category"),)

    day: Mapped[dt.date] = mapped_column(Date)


class MonthlyTally(_TallySums, Base):
    """The daily tallies summed per CST calendar month (``month`` = its first day), written with them in
    the same transaction: a window's whole months are read here, 30× fewer rows than by day."""

    __tablename__ = "monthly_tally"
    __table_args__ = (PrimaryKeyConstraint("indicator", "region", "month", "category"),)

    month: Mapped[dt.date] = mapped_column(Date)


class ReportedFigure(Base):
    __tablename__ = "reported_figure"

    indicator: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(6), primary_key=True)
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    numerator: Mapped[int | None] = mapped_column(BigInteger)
    denominator: Mapped[int | None] = mapped_column(BigInteger)
    value: Mapped[float | None] = mapped_column(Float)
    occurred_at: Mapped[dt.datetime]
    reported_at: Mapped[dt.datetime]
    event_id: Mapped[str] = mapped_column(ID)


class DeadLetter(Base):
    __tablename__ = "dead_letter"
    __table_args__ = (UniqueConstraint("source_topic", "source_partition", "source_offset",
                                       name="uq_dead_letter_source"),
                      Index("ix_dead_letter_sender_event", "sender", "event_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reason: Mapped[str] = mapped_column(String(16))
    error: Mapped[str] = mapped_column(Text)
    event_id: Mapped[str | None] = mapped_column(ID)
    sender: Mapped[str | None] = mapped_column(String(120))
    source_topic: Mapped[str] = mapped_column(String(255))
    source_partition: Mapped[int] = mapped_column(Integer)
    source_offset: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[bytes | None] = mapped_column(LargeBinary)
    raw_value: Mapped[bytes | None] = mapped_column(LargeBinary)
    headers: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of [name, value-as-text]
    received_at: Mapped[dt.datetime]
    replayed_at: Mapped[dt.datetime | None]


class PublishedFigure(Base):
    __tablename__ = "published_figure"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    status: Mapped[FigureStatus] = mapped_column(String(24))
    value: Mapped[float | None] = mapped_column(Float)
    numerator: Mapped[float | None] = mapped_column(Float)
    denominator: Mapped[float | None] = mapped_column(Float)
    published_at: Mapped[dt.datetime]
