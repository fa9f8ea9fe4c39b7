"""Dead letters: messages that cannot be applied go to the dead-letter topic (original key, value and
headers plus the reason) and to the ``dead_letter`` table, from which an operator replays them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.indicators.decode import Rejected
from services.indicators.models import DeadLetter
from services.indicators.store import dialect_insert
from shared.kafka import Producer

REPLAYED_HEADER = "qw-replayed-from"


class DeadLetterSink(Protocol):
    def send(self, rejected: Sequence[Rejected]) -> None:
        """Publish and wait for the acknowledgement (raise if the broker does not take them); called
        after the batch's transaction committed, before its offsets are."""
        ...


class KafkaDeadLetterSink:
    def __init__(self, producer: Producer, topic: str, timeout: float = 10.0) -> None:
        self._producer = producer
        self._topic = topic
        self._timeout = timeout

    def send(self, rejected: Sequence[Rejected]) -> None:
        futures = [self._producer.send(self._topic, key=r.message.key, value=r.message.value,
                                       headers=dead_letter_headers(r)) for r in rejected]
        for future in futures:
            future.get(timeout=self._timeout)


def dead_letter_headers(rejected: Rejected) -> list[tuple[str, bytes]]:
    m = rejected.message
    original = [(k, v) for k, v in m.headers or () if not k.startswith("qw-dlq-") and not k.startswith("qw-source-")]
    return [*original,
            ("qw-dlq-reason", rejected.reason.encode()),
            ("qw-dlq-error", rejected.error[:2000].encode()),
            ("qw-source-topic", m.topic.encode()),
            ("qw-source-partition", str(m.partition).encode()),
            ("qw-source-offset", str(m.offset).encode())]


def store_dead_letters(session: Session, rejected: Sequence[Rejected], now: dt.datetime) -> None:
    """One row per source message (a redelivered batch does not add a second row)."""
    if not rejected:
        return
    rows = [{"reason": r.reason, "error": r.error[:4000], "event_id": r.event_id, "sender": r.sender,
             "source_topic": r.message.topic, "source_partition": r.message.partition,
             "source_offset": r.message.offset, "key": r.message.key, "raw_value": r.message.value,
             "headers": orjson.dumps([[k, v.decode(errors="replace")] for k, v in r.message.headers or ()]).decode(),
             "received_at": now, "replayed_at": None} for r in rejected]
    stmt = dialect_insert(session, DeadLetter.__table__).on_conflict_do_nothing(
        index_elements=["source_topic", "source_partition", "source_offset"])
    session.execute(stmt, rows)


def list_dead_letters(session: Session, *, include_replayed: bool, limit: int) -> list[DeadLetter]:
    query = select(DeadLetter).order_by(DeadLetter.id).limit(limit)
    if not include_replayed:
        query = query.where(DeadLetter.replayed_at.is_(None))
    return list(session.scalars(query))


def replay_dead_letters(session: Session, producer: Producer, events_topic: str, ids: Sequence[int] | None,
                        now: dt.datetime, timeout: float = 10.0) -> list[int]:
    """Re-publish stored messages to the events topic and mark them replayed (ids None: every one not
    yet replayed). Marked only once the broker acknowledged them."""
    query = select(DeadLetter).where(DeadLetter.replayed_at.is_(None)).order_by(DeadLetter.id)
    if ids is not None:
        query = query.where(DeadLetter.id.in_(list(ids)))
    rows = list(session.scalars(query.with_for_update()))
    futures = []
    for row in rows:
        headers = [(k, v.encode()) for k, v in orjson.loads(row.headers) if k != REPLAYED_HEADER]
        headers.append((REPLAYED_HEADER, str(row.id).encode()))
        futures.append(producer.send(events_topic, key=row.key, value=row.raw_value,
                                     headers=headers))
    for future in futures:
        future.get(timeout=timeout)
    for row in rows:
        row.replayed_at = now
    return [row.id for row in rows]
