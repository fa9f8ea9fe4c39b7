"""The intake ledger: which events each sender sent, with which content hash, and who owns each subject.

A request's new events are *claimed* before they are published (``claim``: one transaction), then
*confirmed* with their Kafka position once acknowledged (``record``: an ``UPDATE`` per row, the rows of many
requests in one transaction), or *released* if publishing failed. The claim is what makes two intake
instances that receive one sender's ``event_id`` with different content at the same instant answer 202 to
one and 409 to the other: the second ``INSERT ... ON CONFLICT DO NOTHING`` waits for the first
transaction and then finds the row.

A claim that a crash leaves behind (claimed, never confirmed nor released) blocks other content under
that id for ``STALE_CLAIM`` only: after that a new claim with other content takes it over (an ``UPDATE``
conditional on the old claim's hash and instant, so two take-overs cannot both win). Content equal to an
unconfirmed claim is published again at once: the indicators consumer counts an event once however often
it is on the topic.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, bindparam, delete, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from services.intake.models import IntakeEvent, IntakeSubject

TABLE = IntakeEvent.__table__
SUBJECTS = IntakeSubject.__table__
# Longer than any publish attempt (publish timeout, 10 s by default, plus the confirmation) so that a live
# request's claim is never taken over.
STALE_CLAIM = dt.timedelta(seconds=60)
CHUNK = 500


class LedgerRow(NamedTuple):
    """One accepted event: its claim, and once published its Kafka position."""

    sender: str
    event_id: str
    content_hash: str
    type: str
    lab_id: str
    occurred_at: dt.datetime
    accepted_at: dt.datetime
    kafka_partition: int | None = None
    kafka_offset: int | None = None


@dataclass(slots=True)
class ClaimResult:
    """What claiming a request's events found; nothing is kept unless ``foreign`` and ``conflicts`` are empty."""

    publish: set[str] = field(default_factory=set)  # ids to publish (claimed now, taken over, or unconfirmed)
    duplicates: set[str] = field(default_factory=set)  # the same content, already confirmed
    conflicts: list[str] = field(default_factory=list)  # other content under an id this sender used
    foreign: list[str] = field(default_factory=list)  # subjects another sender owns


class EventLedger:
    def __init__(self, engine: Engine, *, stale_claim: dt.timedelta = STALE_CLAIM) -> None:
        self._engine = engine
        self._stale = stale_claim
        self._dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        # SQLite has one writer: threads that queue on a lock here wait microseconds, where SQLite's own
        # busy handler would put them to sleep for up to 100 ms each time the file is locked.
        self._write_lock = threading.Lock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()

    def claim(self, sender: str, rows: Sequence[LedgerRow], subjects: Sequence[str], now: dt.datetime) -> ClaimResult:
        """In one transaction: take ownership of the unowned ``subjects`` and claim the events' ids; rolled back
        (nothing kept) when a subject is another sender's or an id holds other content."""
        result = ClaimResult()
        with self._write_lock, self._engine.connect() as connection, connection.begin() as transaction:
            if subjects:
                result.foreign = self._own(connection, sender, subjects, now)
                if result.foreign:
                    transaction.rollback()
                    return result
            self._claim_ids(connection, sender, rows, now, result)
            if result.conflicts:
                transaction.rollback()
                result.publish.clear()
                result.duplicates.clear()
        return result

    def _own(self, connection: Connection, sender: str, subjects: Sequence[str], now: dt.datetime) -> list[str]:
        ordered = sorted(set(subjects))  # the same order on every instance: no deadlock between two
        insert = self._dialect.insert(SUBJECTS).on_conflict_do_nothing(index_elements=["subject"])
        foreign: list[str] = []
        for start in range(0, len(ordered), CHUNK):
            chunk = ordered[start:start + CHUNK]
            connection.execute(insert, [{"subject": s, "owner": sender, "claimed_at": now} for s in chunk])
            if sender == "operator":  # operators correct any subject
                continue
            owners = connection.execute(select(SUBJECTS.c.subject, SUBJECTS.c.owner)
                                        .where(SUBJECTS.c.subject.in_(chunk)))
            foreign.extend(subject for subject, owner in owners if owner != sender)
        return sorted(foreign)

    def _claim_ids(self, connection: Connection, sender: str, rows: Sequence[LedgerRow], now: dt.datetime,
                   result: ClaimResult) -> None:
        insert = self._dialect.insert(TABLE).on_conflict_do_nothing(index_elements=["sender", "event_id"])
        claimed: set[str] = set()
        ordered = sorted(rows, key=lambda r: r.event_id)
        for start in range(0, len(ordered), CHUNK):
            chunk = ordered[start:start + CHUNK]
            returned = connection.execute(insert.returning(TABLE.c.event_id), [r._asdict() for r in chunk])
            claimed.update(row[0] for row in returned)
        result.publish |= claimed
        others = {r.event_id: r for r in ordered if r.event_id not in claimed}
        if not others:
            return
        ids = list(others)
        found: list[Any] = []
        for start in range(0, len(ids), CHUNK):
            query = (select(TABLE.c.event_id, TABLE.c.content_hash, TABLE.c.kafka_offset, TABLE.c.accepted_at)
                     .where(TABLE.c.sender == sender, TABLE.c.event_id.in_(ids[start:start + CHUNK])))
            found.extend(connection.execute(query))
        for event_id, content_hash, offset, claimed_at in found:
            row = others[event_id]
            if content_hash == row.content_hash:
                (result.duplicates if offset is not None else result.publish).add(event_id)
            elif offset is None and _aware(claimed_at) < now - self._stale and self._take_over(
                    connection, row, content_hash, claimed_at):
                result.publish.add(event_id)
            else:
                result.conflicts.append(event_id)

    @staticmethod
    def _take_over(connection: Connection, row: LedgerRow, old_hash: str, old_at: dt.datetime) -> bool:
        """Replace a stale unconfirmed claim; False if another request changed it first."""
        changed = connection.execute(
            update(TABLE).where(TABLE.c.sender == row.sender, TABLE.c.event_id == row.event_id,
                                TABLE.c.content_hash == old_hash, TABLE.c.accepted_at == old_at,
                                TABLE.c.kafka_offset.is_(None))
            .values(content_hash=row.content_hash, type=row.type, lab_id=row.lab_id,
                    occurred_at=row.occurred_at, accepted_at=row.accepted_at))
        return changed.rowcount == 1

    def record(self, rows: Sequence[LedgerRow]) -> None:
        """Confirm claimed events with their Kafka position (a row another request confirmed first is updated
        to the later position: both records are on the topic)."""
        if not rows:
            return
        statement = (update(TABLE)
                     .where(TABLE.c.sender == bindparam("b_sender"), TABLE.c.event_id == bindparam("b_event_id"),
                            TABLE.c.content_hash == bindparam("b_content_hash"))
                     .values(kafka_partition=bindparam("b_partition"), kafka_offset=bindparam("b_offset"),
                             accepted_at=bindparam("b_accepted_at")))
        params = [{"b_sender": r.sender, "b_event_id": r.event_id, "b_content_hash": r.content_hash,
                   "b_partition": r.kafka_partition, "b_offset": r.kafka_offset, "b_accepted_at": r.accepted_at}
                  for r in rows]
        with self._write_lock, self._engine.begin() as connection:
            connection.execute(statement, params)

    def release(self, sender: str, rows: Sequence[LedgerRow]) -> None:
        """Drop this request's unconfirmed claims (publishing failed): the sender may retry with any content."""
        if not rows:
            return
        keys = [(r.event_id, r.content_hash) for r in rows]
        with self._write_lock, self._engine.begin() as connection:
            for start in range(0, len(keys), CHUNK):
                connection.execute(delete(TABLE).where(
                    TABLE.c.sender == sender, TABLE.c.kafka_offset.is_(None),
                    tuple_(TABLE.c.event_id, TABLE.c.content_hash).in_(keys[start:start + CHUNK])))

    def count(self) -> int:
        with self._engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(TABLE)
                                         .where(TABLE.c.kafka_offset.is_not(None))) or 0)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


__all__ = ["ClaimResult", "EventLedger", "LedgerRow", "STALE_CLAIM"]
