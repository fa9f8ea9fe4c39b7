"""Accepting events: validate all, check who may send them, claim their ids, publish, then confirm.

The order matters. A request's new events are first *claimed* in ``intake_event`` (per sender: the same
``event_id`` from two senders is two events) together with the subjects they report on (a sample, project
or reported figure belongs to its first sender; another sender's event about it is a 403). Only then are
they published and acknowledged by Kafka (acks=all), and only then confirmed in the ledger and answered
202: a confirmed event is durable, and an event that failed to publish has its claim released, so the
sender's retry publishes it again.

Two intake instances that receive one sender's ``event_id`` with different content at the same moment
therefore answer 202 to one and 409 to the other (the second claim finds the first). The same content may
still reach the topic twice (a publish that timed out may land, a claim left by a crash is re-published):
the indicators consumer de-duplicates by sender and ``event_id`` downstream, and enforces ownership again.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from services.intake.store import ClaimResult, LedgerRow
from services.intake.validation import batch_events, check_reach, check_scope, single_event, validate_all
from shared.auth import Principal
from shared.catalogue import Catalogue
from shared.clock import Clock
from shared.events import (
    CONTENT_HASH_HEADER,
    RECEIVED_AT_HEADER,
    SENDER_HEADER,
    Event,
    EventContext,
    canonical_json,
    owned_subject,
    subject_key,
)

logger = logging.getLogger(__name__)

RETRY_AFTER = {"Retry-After": "5"}
# A batch body larger than this is parsed and validated on intake's batch thread, so that the event loop
# keeps answering (and completing acknowledged requests) meanwhile. One thread, not one per request: under
# the GIL, concurrent batches validate no faster in parallel, and threads that preempt each other cost more.
OFF_LOOP_BYTES = 64 * 1024
PUBLISH_SLICE = 5000


@dataclass(frozen=True, slots=True)
class Summary:
    """What accepting needs of a validated event once its Kafka record is built: the model itself is let go
    (50,000 models of a spreadsheet upload would hold ~100 MB)."""

    event_id: str
    type: str
    lab_id: str
    occurred_at: dt.datetime
    subject: tuple[str, str] | None  # ("sample_id", "S-1") or ("project_id", "P-1"), for messages
    owned: str | None  # shared.events.owned_subject: what the first sender owns


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
        return await self.accept(events, now, sender=principal.sender)

    def validate(self, principal: Principal, body: bytes, *, batch: bool) -> tuple[list[Prepared], dt.datetime]:
        payload = parse_json(body)
        try:
            objects = batch_events(payload, self._limits.max_batch_events) if batch else single_event(payload)
            self._metrics.batch_size.observe(len(objects))
            return self.prepare(principal, objects)
        except Rejection as rejection:
            raise too_deep(payload) or rejection from None  # nesting too deep: 400, whatever else is wrong

    def prepare(self, principal: Principal, objects: list[Any]) -> tuple[list[Prepared], dt.datetime]:
        """Parsed events (dicts) checked for scope, validated and checked for reach: what the batch API and
        spreadsheet uploads both accept. Raises Rejection (403, 422) listing every problem."""
        check_scope(principal, objects)
        now = self._clock.now()
        context = EventContext(self._catalogue, now, self._limits.grace_period, self._limits.future_skew)
        events = validate_all(objects, context)
        check_reach(principal, events, self._catalogue)
        # The Kafka records are built here (for big batches, off the event loop): canonical bytes and their hash
        # are computed once, and both published and recorded.
        received_at = now.astimezone(dt.UTC).isoformat().encode()
        sender = principal.sender.encode()
        return [_prepare(i, e, received_at, sender) for i, e in enumerate(events)], now

    async def accept(self, prepared: list[Prepared], now: dt.datetime, *, sender: str,
                     publish_timeout: float | None = None) -> dict[str, Any]:
        """Claim, publish and confirm validated events of ``sender`` (``Principal.sender``): the 202 answer, or
        a Rejection (403 another sender's subject, 409 an id re-used with other content, 503)."""
        first, duplicates = self._within_request(prepared)
        rows = {eid: LedgerRow(sender, eid, p.content_hash, p.event.type, p.event.lab_id, p.event.occurred_at, now)
                for eid, p in first.items()}
        subjects: dict[str, int] = {}
        for p in first.values():
            if (subject := p.event.owned) is not None:
                subjects.setdefault(subject, p.index)
        claims = await self._claim(sender, list(rows.values()), list(subjects), now, len(prepared))
        if claims.foreign:
            raise self._not_owner([subjects[s] for s in claims.foreign], claims.foreign, len(prepared))
        if claims.conflicts:
            raise self._conflict([(first[e].index, e) for e in sorted(claims.conflicts)], len(prepared),
                                 prepared=prepared)
        new = [p for eid, p in first.items() if eid in claims.publish]
        duplicates += len(first) - len(new)
        if new:
            await self._publish_and_record(sender, new, [rows[p.event.event_id] for p in new],
                                           publish_timeout or self._limits.publish_timeout)
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

    def _not_owner(self, indexes: list[int], subjects: list[str], events: int) -> Rejection:
        shown = ", ".join(str(i) for i in sorted(indexes)[:20])
        what = ", ".join(repr(s) for s in subjects[:5])
        return Rejection(403, "not_owner",
                         f"event index {shown}: {what} was first reported by another sender; only its first "
                         "sender may report on it or revise it; nothing was accepted", events=events,
                         indexes=sorted(indexes), rule="not_owner",
                         detail_zh=f"第 {shown} 条事件：{what} 已由其他单位首次上报，只有首次上报的单位可以上报或修订；"
                                   "本次提交未被接受")

    async def _claim(self, sender: str, rows: list[LedgerRow], subjects: list[str], now: dt.datetime,
                     events: int) -> ClaimResult:
        try:
            return await self._ledger.claim(sender, rows, subjects, now)
        except SQLAlchemyError as exc:
            logger.error("intake ledger claim failed", exc_info=exc)
            raise Rejection(503, "unavailable", "database unavailable, retry", events=events,
                            headers=RETRY_AFTER) from exc

    async def _publish_and_record(self, sender: str, new: list[Prepared], claimed: list[LedgerRow],
                                  timeout: float) -> None:
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
            with contextlib.suppress(SQLAlchemyError):  # else the claims go stale and are taken over later
                await self._ledger.release(sender, claimed)
            raise Rejection(503, "unavailable", "event store unavailable, retry", events=len(new),
                            headers=RETRY_AFTER) from exc
        finally:
            self._metrics.publish_seconds.observe(time.perf_counter() - started)
        rows = [row._replace(kafka_partition=d.partition, kafka_offset=d.offset)
                for row, d in zip(claimed, deliveries, strict=True)]
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


def _prepare(index: int, event: Event, received_at: bytes, sender: bytes) -> Prepared:
    value = canonical_json(event)
    content_hash = hashlib.sha256(value).hexdigest()
    message = OutgoingMessage(subject_key(event).encode(), value,
                              [(CONTENT_HASH_HEADER, content_hash.encode()), (RECEIVED_AT_HEADER, received_at),
                               (SENDER_HEADER, sender)])
    data = event.data
    subject_id = getattr(data, "sample_id", None) or getattr(data, "project_id", None)
    subject = (("sample_id" if hasattr(data, "sample_id") else "project_id"), subject_id) if subject_id else None
    return Prepared(index, Summary(event.event_id, event.type, event.lab_id, event.occurred_at, subject,
                                   owned_subject(event)), content_hash, message)
