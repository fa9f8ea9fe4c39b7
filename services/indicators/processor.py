"""One consumed batch → one database transaction (exactly-once effect through ``applied_event``).

``process`` runs two phases: ``decode`` (no I/O: JSON, validation, catalogue checks) and ``apply`` (one
transaction: drop in-batch repeats; lock the batch's subjects (PostgreSQL); claim event ids (already
applied → duplicate, same id with another hash → conflict); load subject state; apply in memory; save
state and tally deltas; store dead letters and publish them (acked) before the commit). The caller
commits offsets only after ``process`` returns.

On SQLite the claim is first optimistic (every id expected new, the usual case); when some were
applied before (a redelivery), that transaction is rolled back and the batch applied again in a new
one whose claim says which ids to skip.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from services.indicators import store
from services.indicators.apply import Applier, Touched, subjects_of
from services.indicators.deadletters import DeadLetterSink, store_dead_letters
from services.indicators.decode import Decoded, Decoder, Record, Rejected, parse_received_at
from services.indicators.metrics import IndicatorsMetrics, observe_counts
from shared.catalogue import Catalogue
from shared.clock import Clock
from shared.db import transaction

logger = logging.getLogger(__name__)


@dataclass
class BatchResult:
    messages: int = 0
    applied: dict[str, int] = field(default_factory=dict)  # event type → count
    duplicates: int = 0
    ignored: int = 0
    dead_letters: list[Rejected] = field(default_factory=list)
    touched: dict[Touched, list[str]] = field(default_factory=dict)  # figure → a few event ids
    received: dict[bytes, int] = field(default_factory=dict)  # processed events per raw qw-received-at header
    committed_at: dt.datetime | None = None
    seconds: float = 0.0

    def latencies(self) -> list[tuple[float, int]]:
        """(seconds from intake's acceptance to this batch's commit, events) per acceptance instant."""
        if self.committed_at is None:
            return []
        committed_at = self.committed_at
        return [(max(0.0, (committed_at - received_at).total_seconds()), count)
                for raw, count in self.received.items() if (received_at := parse_received_at(raw)) is not None]


@dataclass(slots=True)
class DecodedBatch:
    """A batch after ``BatchProcessor.decode``, before its transaction."""

    messages: int
    decoded: list[Decoded]
    rejected: list[Rejected]
    started: float  # perf_counter when decoding began


class BatchProcessor:
    def __init__(self, catalogue: Catalogue, sessions: sessionmaker[Session], sink: DeadLetterSink,
                 metrics: IndicatorsMetrics, clock: Clock) -> None:
        self.catalogue = catalogue
        self.sessions = sessions
        self.sink = sink
        self.metrics = metrics
        self.clock = clock

    def process(self, messages: Sequence[Record]) -> BatchResult:
        """Decode and apply ``messages`` in one transaction."""
        return self.apply(self.decode(messages))

    def decode(self, messages: Sequence[Record]) -> DecodedBatch:
        """Phase one (no I/O): each message to an event or to the reason it cannot be applied."""
        started = time.perf_counter()
        decoded: list[Decoded] = []
        rejected: list[Rejected] = []
        decode = Decoder(self.catalogue).decode
        for message in messages:
            item = decode(message)
            if type(item) is Decoded:
                decoded.append(item)
            else:
                rejected.append(item)  # type: ignore[arg-type]
        return DecodedBatch(len(messages), decoded, rejected, started)

    def apply(self, batch: DecodedBatch) -> BatchResult:
        """Phase two: apply a decoded batch in one transaction (raises if it was not committed)."""
        try:
            result = self._transaction(batch, optimistic=True)
        except store.ClaimsTaken:  # some events were applied before (a redelivery): say which, then skip them
            result = self._transaction(batch, optimistic=False)
        # Wall time, not the injected clock: latency is measured against intake's real stamp.
        result.committed_at = dt.datetime.now(dt.UTC)
        result.seconds = time.perf_counter() - batch.started
        self._observe(result)
        return result

    def _transaction(self, batch: DecodedBatch, *, optimistic: bool) -> BatchResult:
        result = BatchResult(messages=batch.messages, dead_letters=list(batch.rejected))
        with transaction(self.sessions) as session:
            self._apply(session, batch.decoded, result, optimistic=optimistic)
            store_dead_letters(session, result.dead_letters, self.clock.now())
            if result.dead_letters:
                self.sink.send(result.dead_letters)
        return result

    def _apply(self, session: Session, decoded: list[Decoded], result: BatchResult, *, optimistic: bool) -> None:
        now = self.clock.now()
        unique, hashes = self._unique(decoded, result)
        if not unique:
            return
        subjects = subjects_of(d.event for d in unique.values())
        if store.is_postgres(session):  # SQLite has one writer: nothing to lock
            samples, projects, reports = subjects
            store.lock_subjects(session, [f"sample:{s}" for s in samples] + [f"project:{p}" for p in projects]
                                + [f"figure:{i}:{r}:{p}" for i, r, p in reports])
        claimed, existing = store.claim_events(session, hashes, now, optimistic=optimistic)
        if len(claimed) == len(unique):  # the usual case: nothing in the batch was applied before
            fresh = list(unique.values())
        else:
            fresh = []
            for eid, item in unique.items():
                if eid in claimed:
                    fresh.append(item)
                elif existing.get(eid, item.content_hash) == item.content_hash:
                    result.duplicates += 1
                else:
                    result.dead_letters.append(Rejected(
                        item.message, "conflict", f"event_id {eid!r} was applied with different content", eid))
            subjects = subjects_of(d.event for d in fresh)
        if not fresh:
            return
        state = store.load_state(session, *subjects)
        applier = Applier(self.catalogue, state)
        apply = applier.apply
        failed: list[str] = []
        applied: dict[str, int] = {}
        received = result.received
        ignored = 0
        for item in fresh:
            event = item.event
            try:
                outcome = apply(event)
            except Exception as exc:  # noqa: BLE001 - one bad event must not block the partition
                logger.exception("event could not be applied", extra={"event_id": event.event_id})
                result.dead_letters.append(Rejected(item.message, "apply", f"{type(exc).__name__}: {exc}",
                                                    event.event_id))
                failed.append(event.event_id)
                continue
            if outcome == "ignored":
                ignored += 1
            else:
                applied[event.type] = applied.get(event.type, 0) + 1
            if (raw := item.received) is not None:  # counted by the raw header: hashing instants costs more
                received[raw] = received.get(raw, 0) + 1
        result.ignored += ignored
        result.applied = applied
        store.unclaim_events(session, failed)
        tallies = applier.tally_deltas()
        store.save_state(session, applier, tallies, now)
        result.touched = applier.event_ids

    @staticmethod
    def _unique(decoded: list[Decoded], result: BatchResult) -> tuple[dict[str, Decoded], dict[str, str]]:
        """The first of each event id in the batch, by id, and its content hash by id; repeats are duplicates
        or conflicts."""
        first: dict[str, Decoded] = {}
        hashes: dict[str, str] = {}
        for item in decoded:
            eid = item.event.event_id
            seen = first.get(eid)
            if seen is None:
                first[eid] = item
                hashes[eid] = item.content_hash
            elif seen.content_hash == item.content_hash:
                result.duplicates += 1
            else:
                result.dead_letters.append(Rejected(item.message, "conflict",
                                                    f"event_id {eid!r} appears with different content", eid))
        return first, hashes

    def _observe(self, result: BatchResult) -> None:
        m = self.metrics
        m.processing_seconds.observe(result.seconds)
        for event_type, count in result.applied.items():
            m.events_applied.labels(event_type).inc(count)
        if result.duplicates:
            m.duplicates.inc(result.duplicates)
        if result.ignored:
            m.revisions_ignored.inc(result.ignored)
        for rejected in result.dead_letters:
            m.dead_letters.labels(rejected.reason).inc()
            logger.warning("dead letter", extra={"event_id": rejected.event_id, "reason": rejected.reason,
                                                 "error": rejected.error[:500],
                                                 "partition": rejected.message.partition,
                                                 "offset": rejected.message.offset})
        if result.received:
            observe_counts(m.event_latency_seconds, result.latencies())
