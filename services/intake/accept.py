"""Accepting events: validate all, sort out duplicates and conflicts, publish, then record.

The order matters. Every new event of a request is published and acknowledged by Kafka (acks=all)
*before* the request is answered 202 and *before* the events are recorded in ``intake_event``: a
recorded event is durable, and an event that failed to publish is not recorded, so the sender's
retry publishes it again.

Races and retries may therefore put the same event on the topic more than once: a publish that
timed out may still land, and two intake instances that receive the same new ``event_id`` at the
same moment both see it as new and both publish it. That is acceptable only because the indicators
consumer de-duplicates by ``event_id`` downstream (an event counts once however often it is on the
topic). Intake's own guarantee is narrower: a request that was answered 202 is on the topic, and a
re-send after a 202 is never published again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from services.intake.body import parse_json, too_deep
from services.intake.errors import Rejection
from services.intake.group_commit import LedgerWorker
from services.intake.metrics import IntakeMetrics
from services.intake.publisher import OutgoingMessage, Publisher, PublishUnavailable, async_publish
from services.intake.store import LedgerRow
from services.intake.validation import batch_events, check_scope, single_event, validate_all
from shared.auth import Principal
from shared.catalogue import Catalogue
from shared.clock import Clock
from shared.events import (
    CONTENT_HASH_HEADER,
    RECEIVED_AT_HEADER,
    Event,
    EventContext,
    canonical_json,
    subject_key,
)

logger = logging.getLogger(__name__)

RETRY_AFTER = {"Retry-After": "5"}
# A batch body larger than this is parsed and validated on intake's batch thread, so that the event loop
# keeps answering (and completing acknowledged requests) meanwhile. One thread, not one per request: under
# the GIL, concurrent batches validate no faster in parallel, and threads that preempt each other cost more.
OFF_LOOP_BYTES = 64 * 1024
LOOKUP_CHUNK = 1000
PUBLISH_SLICE = 5000


@dataclass(frozen=True, slots=True)
class Summary:
    """What accepting needs of a validated event once its Kafka record is built: the model itself is let go
    (50,000 models of a spreadsheet upload would hold ~100 MB)."""

    event_id: str
    type: str
    lab_id: str
    occurred_at: dt.datetime
    subject: tuple[str, str] | None  # ("sample_id", "S-1") or ("project_id", "P-1")


@dataclass(frozen=True, slots=True)
class Prepared:
    """A validated event with what is published (the Kafka record) and recorded (its content hash)."""

    index: int
    event: Summary
    content_hash: str
    message: OutgoingMessage


@dataclass(frozen=True, slots=True)
class IntakeLimits:
    max_batch_events: int = 1000
    grace_period: dt.timedelta = dt.timedelta(days=400)
    future_skew: dt.timedelta = dt.timedelta(minutes=5)
    publish_timeout: float = 10.0


class EventIntake:
    def __init__(self, *, catalogue: Catalogue, clock: Clock, ledger: LedgerWorker, publisher: Publisher,
                 metrics: IntakeMetrics, topic: str, limits: IntakeLimits) -> None:
        self._catalogue = catalogue
        self._clock = clock
        self._ledger = ledger
        self._publish = async_publish(publisher)
        self._metrics = metrics
        self._topic = topic
        self._limits = limits
        self._batch_thread = ThreadPoolExecutor(1, thread_name_prefix="intake-batch")

    def close(self) -> None:
        self._batch_thread.shutdown(wait=True, cancel_futures=True)

    async def handle(self, principal: Principal, body: bytes, *, batch: bool) -> dict[str, Any]:
        """The 202 answer for a request body, or a Rejection saying why nothing was accepted."""
        if batch and len(body) > OFF_LOOP_BYTES:  # big batches validate in a worker thread, not on the loop
            events, now = await asyncio.get_running_loop().run_in_executor(
                self._batch_thread, functools.partial(self.validate, principal, body, batch=batch))
        else:
            events, now = self.validate(principal, body, batch=batch)
        return await self.accept(events, now)

    def validate(self, principal: Principal, body: bytes, *, batch: bool) -> tuple[list[Prepared], dt.datetime]:
        payload = parse_json(body)
        try:
            objects = batch_events(payload, self._limits.max_batch_events) if batch else single_event(payload)
            self._metrics.batch_size.observe(len(objects))
            return self.prepare(principal, objects)
        except Rejection as rejection:
            raise too_deep(payload) or rejection from None  # nesting too deep: 400, whatever else is wrong

    def prepare(self, principal: Principal, objects: list[Any]) -> tuple[list[Prepared], dt.datetime]:
        """Parsed events (dicts) checked for scope and validated: what the batch API and spreadsheet uploads
        both accept. Raises Rejection (403, 422) listing every problem."""
        check_scope(principal, objects)
        now = self._clock.now()
        context = EventContext(self._catalogue, now, self._limits.grace_period, self._limits.future_skew)
        events = validate_all(objects, context)
        # The Kafka records are built here (for big batches, off the event loop): canonical bytes and their hash
        # are computed once, and both published and recorded.
        received_at = now.astimezone(dt.UTC).isoformat().encode()
        return [_prepare(i, e, received_at) for i, e in enumerate(events)], now

    async def accept(self, prepared: list[Prepared], now: dt.datetime, *,
                     publish_timeout: float | None = None) -> dict[str, Any]:
        """Duplicates and conflicts sorted out, every new event published and acknowledged, then recorded."""
        first, duplicates = self._within_request(prepared)
        known = await self._lookup(list(first))
        conflicts = [(p.index, p.event.event_id) for p in first.values()
                     if p.event.event_id in known and known[p.event.event_id] != p.content_hash]
        if conflicts:
            raise self._conflict(conflicts, len(prepared), prepared=prepared)
        new = [p for p in first.values() if p.event.event_id not in known]
        duplicates += len(first) - len(new)
        if new:
            await self._publish_and_record(new, now, publish_timeout or self._limits.publish_timeout)
        if len(new) == 1:
            self._metrics.accept(new[0].event.type)
        else:
            for event_type, count in Counter(p.event.type for p in new).items():
                self._metrics.accept(event_type, count)
        if duplicates:
            self._metrics.duplicates.inc(duplicates)
        return {"accepted": len(new), "duplicates": duplicates, "event_ids": [p.event.event_id for p in prepared]}

    def _within_request(self, prepared: list[Prepared]) -> tuple[dict[str, Prepared], int]:
        """First occurrence of each event_id; a later same-content copy is a duplicate, other content a 409."""
        first: dict[str, Prepared] = {}
        duplicates = 0
        conflicts = []
        for p in prepared:
            seen = first.get(p.event.event_id)
            if seen is None:
                first[p.event.event_id] = p
            elif seen.content_hash == p.content_hash:
                duplicates += 1
            else:
                conflicts.append((p.index, p.event.event_id))
        if conflicts:
            raise self._conflict(conflicts, len(prepared), within=True, prepared=prepared)
        return first, duplicates

    def _conflict(self, conflicts: list[tuple[int, str]], events: int, within: bool = False,
                  prepared: list[Prepared] | None = None) -> Rejection:
        self._metrics.conflicts.inc(len(conflicts))
        where = "earlier in this request" if within else "already accepted"
        shown = ", ".join(f"{event_id!r} (index {index})" for index, event_id in conflicts[:10])
        by_index = {p.index: p for p in prepared or ()}
        return Rejection(409, "conflict",
                         f"event_id re-used with different content ({where}): {shown}; nothing was accepted. "
                         f"{CORRECTION}",
                         events=events, conflicts=[_named(i, e, by_index.get(i)) for i, e in conflicts],
                         correction=CORRECTION, correction_zh=CORRECTION_ZH)

    async def _lookup(self, event_ids: list[str]) -> dict[str, str]:
        try:
            if len(event_ids) <= LOOKUP_CHUNK:
                return await self._ledger.known_hashes(event_ids)
            found: dict[str, str] = {}  # a spreadsheet's 50,000 ids: in chunks a database takes as parameters
            for start in range(0, len(event_ids), LOOKUP_CHUNK):
                found.update(await self._ledger.known_hashes(event_ids[start:start + LOOKUP_CHUNK]))
            return found
        except SQLAlchemyError as exc:
            logger.error("intake ledger look-up failed", exc_info=exc)
            raise Rejection(503, "unavailable", "database unavailable, retry", events=len(event_ids),
                            headers=RETRY_AFTER) from exc

    async def _publish_and_record(self, new: list[Prepared], now: dt.datetime, timeout: float) -> None:
        started = time.perf_counter()
        try:
            # A spreadsheet's 50,000 records go out a slice at a time (the producer's per-record futures for all
            # of them at once cost ~100 MB); every slice is acknowledged before the next, and all before the 202.
            deliveries = []
            for start in range(0, len(new), PUBLISH_SLICE):
                messages = [p.message for p in new[start:start + PUBLISH_SLICE]]
                deliveries += await self._publish(self._topic, messages, timeout=timeout)
        except PublishUnavailable as exc:
            self._metrics.publish_failures.inc()
            logger.warning("publish failed; answering 503", extra={"events": len(new), "error": str(exc)})
            raise Rejection(503, "unavailable", "event store unavailable, retry", events=len(new),
                            headers=RETRY_AFTER) from exc
        finally:
            self._metrics.publish_seconds.observe(time.perf_counter() - started)
        rows = [LedgerRow(p.event.event_id, p.content_hash, p.event.type, p.event.lab_id, p.event.occurred_at, now,
                          d.partition, d.offset)
                for p, d in zip(new, deliveries, strict=True)]
        if logger.isEnabledFor(logging.INFO):
            logger.info("events accepted", extra={"event_ids": [p.event.event_id for p in new],
                                                  "lab_ids": sorted({p.event.lab_id for p in new})})
        try:
            await self._ledger.record(rows)
        except SQLAlchemyError as exc:
            # Published but not recorded: the retry publishes again and downstream dedup counts it once.
            logger.error("intake ledger write failed after publish", exc_info=exc)
            raise Rejection(503, "unavailable", "database unavailable, retry", events=len(new),
                            headers=RETRY_AFTER) from exc


CORRECTION = ("An accepted event never changes: to correct a result, send a new event (a new event_id) for the same "
              "sample_id or project_id with a higher revision (revision 2, 3, ...); it replaces the earlier verdict.")
CORRECTION_ZH = ("已接收的事件不能修改：如需更正结果，请为同一样品编号或项目编号发送一个新事件（新的 event_id），"
                 "并填写更高的修订号（revision 2、3……），新结果将取代原结果。")


def _named(index: int, event_id: str, prepared: Prepared | None) -> dict[str, Any]:
    """A conflict entry: the index and event_id, and the sample or project the event is about."""
    entry: dict[str, Any] = {"index": index, "event_id": event_id}
    if prepared and prepared.event.subject:
        key, value = prepared.event.subject
        entry[key] = value
    return entry


def _prepare(index: int, event: Event, received_at: bytes) -> Prepared:
    value = canonical_json(event)
    content_hash = hashlib.sha256(value).hexdigest()
    message = OutgoingMessage(subject_key(event).encode(), value,
                              [(CONTENT_HASH_HEADER, content_hash.encode()), (RECEIVED_AT_HEADER, received_at)])
    data = event.data
    subject_id = getattr(data, "sample_id", None) or getattr(data, "project_id", None)
    subject = (("sample_id" if hasattr(data, "sample_id") else "project_id"), subject_id) if subject_id else None
    return Prepared(index, Summary(event.event_id, event.type, event.lab_id, event.occurred_at, subject), content_hash,
                    message)
