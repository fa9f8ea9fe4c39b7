"""Tables owned by the intake service.

``intake_event`` remembers every event by its sender and ``event_id`` (the sender's idempotency key: two
senders may use the same id) with the hash of its canonical content, so that a re-send is recognised as a
duplicate and a re-use of the id with other content as a conflict. A row is a *claim* written before the
event is published (``kafka_offset`` NULL) and *confirmed* once Kafka acknowledged it (partition and offset
set): a confirmed row means "durably in the event store".

``intake_subject`` names the owner of each sample, project and reported figure: its first sender. Another
sender's event about it is refused with 403.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base

SENDER = String(120)  # "lab:<lab_id>", "agency:<agency_id>" or "operator"


class IntakeEvent(Base):
    __tablename__ = "intake_event"

    sender: Mapped[str] = mapped_column(SENDER, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(32))
    lab_id: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[dt.datetime]
    # When the claim was taken (and, once confirmed, when the event was accepted).
    accepted_at: Mapped[dt.datetime]
    # Where Kafka put it (for audits); NULL while the event is claimed but not yet acknowledged.
    kafka_partition: Mapped[int | None] = mapped_column(Integer)
    kafka_offset: Mapped[int | None] = mapped_column(BigInteger)


class IntakeSubject(Base):
    __tablename__ = "intake_subject"

    subject: Mapped[str] = mapped_column(String(255), primary_key=True)  # shared.events.owned_subject
    owner: Mapped[str] = mapped_column(SENDER)
    claimed_at: Mapped[dt.datetime]


class IntakeUpload(Base):
    """One spreadsheet upload: who sent which file when, and what came of it (accepted or refused)."""

    __tablename__ = "intake_upload"
    __table_args__ = (Index("ix_intake_upload_lab_received", "lab_id", "received_at"),)

    upload_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    lab_id: Mapped[str | None] = mapped_column(String(100))
    received_at: Mapped[dt.datetime]
    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str | None] = mapped_column(String(32))
    rows: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    # accepted | rejected | unavailable; status is the HTTP answer given, problems how many were listed
    outcome: Mapped[str] = mapped_column(String(16))
    status: Mapped[int] = mapped_column(Integer)
    problems: Mapped[int] = mapped_column(Integer)
