"""Tables owned by the intake service.

``intake_event`` remembers every accepted event by its ``event_id`` (the sender's idempotency key)
with the hash of its canonical content, so that a re-send is recognised as a duplicate and a re-use
of the id with other content as a conflict. A row is written only after Kafka acknowledged the
event: a row means "durably in the event store".
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class IntakeEvent(Base):
    __tablename__ = "intake_event"

    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(32))
    lab_id: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[dt.datetime]
    accepted_at: Mapped[dt.datetime]
    # Where Kafka put it (for audits); the partition and offset of the acknowledged record.
    kafka_partition: Mapped[int] = mapped_column(Integer)
    kafka_offset: Mapped[int] = mapped_column(BigInteger)
