"""The intake ledger: which events each sender sent, with which content hash, and who owns each subject.

A request's new events are *claimed* before they are published (``claim_group``: the claims of many
requests in one transaction, each decided as if it came alone), then *confirmed* with their Kafka position
once acknowledged (``record``: an ``UPDATE`` per row, the rows of many requests in one transaction), or
*released* if publishing failed. The claim is what makes two intake instances that receive one sender's
``event_id`` with different content at the same instant answer 202 to one and 409 to the other: the
second ``INSERT ... ON CONFLICT DO NOTHING`` waits for the first transaction and then finds the row (a
group that finds it so falls back to claiming its requests one by one).

A claim that a crash leaves behind (claimed, never confirmed nor released) blocks other content under
that id for ``STALE_CLAIM`` only: after that a new claim with other content takes it over (an ``UPDATE``
conditional on the old claim's hash and instant, so two take-overs cannot both win). Content equal to an
unconfirmed claim is published again at once: the indicators consumer counts an event once however often
it is on the topic.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from services.intake.models import IntakeEvent, IntakeSubject

logger = logging.getLogger(__name__)

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

    @property
    def refused(self) -> bool:
        return bool(self.foreign or self.conflicts)


@dataclass(frozen=True, slots=True)
class Claim:
    """One request's claim: its new events' rows and the subjects they report on."""

    sender: str
    rows: Sequence[LedgerRow]
    subjects: Sequence[str]
    now: dt.datetime


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
        with self._write_lock, self._engine.connect() as connection, connection.begin() as transaction:
            result = self._claim(connection, Claim(sender, rows, subjects, now))
            if result.refused:
                transaction.rollback()
        return result

    def claim_group(self, claims: Sequence[Claim]) -> list[ClaimResult | Exception]:
        """The claims of several requests in one transaction (one commit); a result (or the error) per claim, in
        order, each as ``claim`` would have answered it had the requests come one after another.

        Check, then insert: the owners of every subject and the rows of every id in the group are read with one
        ``SELECT`` each, each request is decided in order against them and against the requests before it in
        the group (a refused request adds nothing), and the accepted requests' subjects and ids are inserted
        with one statement each. This process's ledger worker is its only writer, and on SQLite the group holds
        the write lock from its first statement (``BEGIN IMMEDIATE``). Another intake instance on PostgreSQL
        may still insert between the read and the write: the unique constraints decide (an insert that does
        not take every row it should), and then nothing of the group is kept and each claim is tried again on
        its own (``claim``), as it is when the group fails in any other way (a deadlock between two instances,
        a lost connection): only the request an error belongs to gets it."""
        try:
            with self._write_lock, self._engine.connect() as connection, connection.begin():
                if self._engine.dialect.name == "sqlite":
                    # pysqlite begins a transaction only before an INSERT/UPDATE/DELETE: the reads must be in it.
                    # IMMEDIATE takes the write lock now, waiting in the busy handler, not at the first write.
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
                return list(self._claim_together(connection, claims))
        except _Raced:
            logger.info("intake claim group met another instance's claim; claiming its requests one by one",
                        extra={"requests": len(claims)})
        except SQLAlchemyError as exc:
            if len(claims) == 1:
                return [exc]
            logger.info("intake claim group failed; claiming its requests one by one",
                        extra={"requests": len(claims), "error": type(exc).__name__})
        return [self._claim_alone(claim) for claim in claims]

    def _claim_together(self, connection: Connection, claims: Sequence[Claim]) -> list[ClaimResult]:
        owners: dict[str, str] = {}
        subjects = sorted({s for c in claims for s in c.subjects})
        for start in range(0, len(subjects), CHUNK):
            chunk = subjects[start:start + CHUNK]
            query = select(SUBJECTS.c.subject, SUBJECTS.c.owner).where(SUBJECTS.c.subject.in_(chunk))
            owners.update((subject, owner) for subject, owner in connection.execute(query))
        known: dict[tuple[str, str], tuple[str, int | None, dt.datetime]] = {}
        ids: dict[str, set[str]] = {}
        for claim in claims:
            ids.setdefault(claim.sender, set()).update(r.event_id for r in claim.rows)
        for sender, sent in sorted(ids.items()):  # one sender at a time: its primary-key range (SQLite scans for
            ordered = sorted(sent)                # a (sender, event_id) IN list of row values)
            for start in range(0, len(ordered), CHUNK):
                query = (select(TABLE.c.event_id, TABLE.c.content_hash, TABLE.c.kafka_offset, TABLE.c.accepted_at)
                         .where(TABLE.c.sender == sender, TABLE.c.event_id.in_(ordered[start:start + CHUNK])))
                for found in connection.execute(query):
                    known[(sender, found.event_id)] = (found.content_hash, found.kafka_offset, found.accepted_at)
        new_subjects: list[dict[str, Any]] = []
        new_rows: list[LedgerRow] = []
        results: list[ClaimResult] = []
        for claim in claims:
            result = ClaimResult()
            results.append(result)
            sender = claim.sender
            if sender != "operator":  # operators correct any subject
                result.foreign = sorted({s for s in claim.subjects if owners.get(s, sender) != sender})
                if result.foreign:
                    continue
            take_overs: list[tuple[LedgerRow, str, dt.datetime]] = []
            fresh: list[LedgerRow] = []
            for row in sorted(claim.rows, key=lambda r: r.event_id):
                seen = known.get((sender, row.event_id))
                if seen is None:
                    fresh.append(row)
                    result.publish.add(row.event_id)
                elif seen[0] == row.content_hash:
                    (result.duplicates if seen[1] is not None else result.publish).add(row.event_id)
                elif seen[1] is None and _aware(seen[2]) < claim.now - self._stale:
                    take_overs.append((row, seen[0], seen[2]))
                    result.publish.add(row.event_id)
                else:
                    result.conflicts.append(row.event_id)
            if result.conflicts:
                result.publish.clear()
                result.duplicates.clear()
                continue
            for subject in sorted(set(claim.subjects)):
                if subject not in owners:
                    owners[subject] = sender
                    new_subjects.append({"subject": subject, "owner": sender, "claimed_at": claim.now})
            for row, old_hash, old_at in take_overs:
                if not self._take_over(connection, row, old_hash, old_at):
                    raise _Raced
                known[(sender, row.event_id)] = (row.content_hash, None, row.accepted_at)
            for row in fresh:
                known[(sender, row.event_id)] = (row.content_hash, None, row.accepted_at)
            new_rows.extend(fresh)
        # In key order, as every instance inserts: two instances' groups wait for each other, never in a cycle.
        new_subjects.sort(key=lambda v: v["subject"])
        new_rows.sort(key=lambda r: (r.sender, r.event_id))
        self._insert_all(connection, SUBJECTS, ["subject"], new_subjects)
        self._insert_all(connection, TABLE, ["sender", "event_id"], [r._asdict() for r in new_rows])
        return results

    def _insert_all(self, connection: Connection, table: Any, key: list[str], values: list[dict[str, Any]]) -> None:
        """Insert rows none of which may exist; _Raced if another instance wrote one first."""
        insert = self._dialect.insert(table).on_conflict_do_nothing(index_elements=key)
        returning = insert.returning(*(table.c[k] for k in key))
        for start in range(0, len(values), CHUNK):
            chunk = values[start:start + CHUNK]
            if len(connection.execute(returning, chunk).all()) != len(chunk):
                raise _Raced

    def _claim_alone(self, claim: Claim) -> ClaimResult | Exception:
        try:
            return self.claim(claim.sender, claim.rows, claim.subjects, claim.now)
        except Exception as exc:  # noqa: BLE001 - handed to the waiting request
            return exc

    def _claim(self, connection: Connection, claim: Claim) -> ClaimResult:
        result = ClaimResult()
        if claim.subjects:
            result.foreign = self._own(connection, claim.sender, claim.subjects, claim.now)
            if result.foreign:
                return result
        self._claim_ids(connection, claim.sender, claim.rows, claim.now, result)
        if result.conflicts:
            result.publish.clear()
            result.duplicates.clear()
        return result

    def _own(self, connection: Connection, sender: str, subjects: Sequence[str], now: dt.datetime) -> list[str]:
        ordered = sorted(set(subjects))  # the same order on every instance: no deadlock between two
        insert = self._dialect.insert(SUBJECTS).on_conflict_do_nothing(index_elements=["subject"])
        foreign: list[str] = []
        for start in range(0, len(ordered), CHUNK):
            chunk = ordered[start:start + CHUNK]
            values = [{"subject": s, "owner": sender, "claimed_at": now} for s in chunk]
            taken = {row[0] for row in connection.execute(insert.returning(SUBJECTS.c.subject), values)}
            others = [s for s in chunk if s not in taken]  # owned already: by whom?
            if sender == "operator" or not others:  # operators correct any subject
                continue
            owners = connection.execute(select(SUBJECTS.c.subject, SUBJECTS.c.owner)
                                        .where(SUBJECTS.c.subject.in_(others)))
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
        statement = delete(TABLE).where(TABLE.c.sender == bindparam("b_sender"),
                                        TABLE.c.event_id == bindparam("b_event_id"),
                                        TABLE.c.content_hash == bindparam("b_content_hash"),
                                        TABLE.c.kafka_offset.is_(None))
        # A primary-key look-up per row (SQLite would scan the sender's rows for a list of row values).
        params = [{"b_sender": sender, "b_event_id": r.event_id, "b_content_hash": r.content_hash} for r in rows]
        with self._write_lock, self._engine.begin() as connection:
            connection.execute(statement, params)

    def count(self) -> int:
        with self._engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(TABLE)
                                         .where(TABLE.c.kafka_offset.is_not(None))) or 0)


class _Raced(Exception):
    """Another intake instance claimed a row of the group between its read and its write."""


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


__all__ = ["Claim", "ClaimResult", "EventLedger", "LedgerRow", "STALE_CLAIM"]
