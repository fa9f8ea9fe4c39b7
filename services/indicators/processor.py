"""One consumed batch → one database transaction → offsets committed (exactly-once effect through
``applied_event``).

``BatchProcessor.process`` is the batch's checkpoint, its steps in order: decode (no I/O), then in one
transaction claim the event ids, load the subjects' state, apply the events in memory, save the
changes and record the dead letters; after the commit, send the dead letters to their topic; last,
commit the consumer's offsets.

Dead letters are sent after the commit and before the offsets, so no Kafka wait holds the
transaction open and none is lost. When the topic refuses them, the batch's result still counts (its
figures go to the publisher) but its offsets are not committed: the batch comes again, its events are
skipped as applied, and its rejected messages are rejected again and sent again (a message rejected
because its event failed to apply is tried again, since its id was not kept). The same holds if the
process dies between the commit and the offsets. The ``dead_letter`` table keeps one row per source
message; the topic may see a message twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from services.indicators import store
from services.indicators.apply import Applier, Changes, SubjectState, Touched, subjects_of
from services.indicators.deadletters import DeadLetterSink, store_dead_letters
from services.indicators.decode import Decoded, Decoder, Record, Rejected, parse_received_at
from services.indicators.loop_store import save_loop_rows
from services.indicators.metrics import IndicatorsMetrics, observe_counts
from services.indicators.provisional import ObjectionRefused
from services.indicators.store import EventKey
from shared.catalogue import Catalogue
from shared.clock import Clock
from shared.db import transaction
from shared.events import owned_subject

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


def _nothing() -> None:
    """No offsets to commit: the batch was not polled from a consumer."""


class BatchProcessor:
    def __init__(self, catalogue: Catalogue, sessions: sessionmaker[Session], sink: DeadLetterSink,
                 metrics: IndicatorsMetrics, clock: Clock) -> None:
        self.catalogue = catalogue
        self.sessions = sessions
        self.sink = sink
        self.metrics = metrics
        self.clock = clock

    def process(self, messages: Sequence[Record], commit_offsets: Callable[[], None] = _nothing) -> BatchResult:
        """Apply ``messages`` as one checkpoint; raises if the transaction was not committed."""
        return self.apply(self.decode(messages), commit_offsets)

    def decode(self, messages: Sequence[Record]) -> DecodedBatch:
        """Each message to an event or to the reason it cannot be applied (no I/O)."""
        started = time.perf_counter()
        decoded: list[Decoded] = []
        rejected: list[Rejected] = []
        decode = Decoder(self.catalogue).decode
        for message in messages:
            item = decode(message)
            if isinstance(item, Decoded):
                decoded.append(item)
            else:
                rejected.append(item)
        return DecodedBatch(len(messages), decoded, rejected, started)

    def apply(self, batch: DecodedBatch, commit_offsets: Callable[[], None] = _nothing) -> BatchResult:
        """The checkpoint after decoding: claim, load, apply, save, dead letters, offsets."""
        result = BatchResult(messages=batch.messages, dead_letters=list(batch.rejected))
        now = self.clock.now()
        unique = self._unique(batch.decoded, result)
        subjects = subjects_of(d.event for d in unique.values())
        with transaction(self.sessions) as session:
            store.lock_subjects(session, subjects)
            claims = store.claim_events(session, {key: d.content_hash for key, d in unique.items()}, now)
            fresh = self._fresh(unique, claims, result)
            fresh, owners, refused = self._owned(session, fresh, result)
            if len(fresh) < len(unique):
                subjects = subjects_of(d.event for d in fresh)
            state = store.load_state(session, *subjects)
            changes, failed, ignored = self._apply_events(state, fresh, result)
            store.unclaim_events(session, failed + refused)
            store.mark_ignored(session, ignored)
            store.save_owners(session, owners, now)
            store.save_changes(session, changes, now)
            save_loop_rows(session, changes.objections, changes.follow_ups, now)
            store_dead_letters(session, result.dead_letters, now)
        if self._send_dead_letters(result.dead_letters):
            commit_offsets()
        result.touched = changes.touched
        # Wall time, not the injected clock: latency is measured against intake's real stamp.
        result.committed_at = dt.datetime.now(dt.UTC)
        result.seconds = time.perf_counter() - batch.started
        self._observe(result)
        return result

    def _send_dead_letters(self, dead_letters: list[Rejected]) -> bool:
        """Send the batch's dead letters to their topic; False if it refused them (the batch comes again)."""
        if not dead_letters:
            return True
        try:
            self.sink.send(dead_letters)
        except Exception:  # noqa: BLE001 - committed already: hold the offsets so the batch comes again
            logger.exception("dead letters not sent; the batch will be read again", extra={"count": len(dead_letters)})
            return False
        return True

    @staticmethod
    def _fresh(unique: dict[EventKey, Decoded], claims: store.Claims, result: BatchResult) -> list[Decoded]:
        """The events claimed now; one applied before is a duplicate (same hash) or a conflict."""
        if len(claims.claimed) == len(unique):  # the usual case: nothing in the batch was applied before
            return list(unique.values())
        fresh = []
        for key, item in unique.items():
            if key in claims.claimed:
                fresh.append(item)
            elif claims.applied_before.get(key, item.content_hash) == item.content_hash:
                result.duplicates += 1
            else:
                result.dead_letters.append(Rejected(
                    item.message, "conflict", f"event_id {key[1]!r} was applied with different content", key[1],
                    item.sender))
        return fresh

    @staticmethod
    def _owned(session: Session, fresh: list[Decoded],
               result: BatchResult) -> tuple[list[Decoded], dict[str, str], list[EventKey]]:
        """Ownership, as intake enforces it (and again here: two intake instances, or a record published
        before intake knew the owner): an event about a sample, project or reported figure another sender
        reported first is dead-lettered ``not_owner`` and never applied. Returns the events to apply, the
        subjects' new owners (their first sender in this batch) and the keys refused (to be unclaimed).
        Operators may correct any subject; a record without a sender (published before senders were
        named) is neither checked nor makes its sender an owner."""
        wanted: dict[int, str] = {}
        for i, item in enumerate(fresh):
            if item.sender and (subject := owned_subject(item.event)) is not None:
                wanted[i] = subject
        if not wanted:
            return fresh, {}, []
        owners = store.load_owners(session, set(wanted.values()))
        new: dict[str, str] = {}
        kept: list[Decoded] = []
        refused: list[EventKey] = []
        for i, item in enumerate(fresh):
            subject = wanted.get(i)
            owner = None if subject is None else owners.get(subject) or new.get(subject)
            if subject is not None and owner is None:
                new[subject] = item.sender
            elif owner is not None and owner != item.sender and item.sender != "operator":
                result.dead_letters.append(Rejected(
                    item.message, "not_owner", f"{subject} was first reported by another sender; only its first "
                    "sender may report on it or revise it", item.event.event_id, item.sender))
                refused.append(item.key)
                continue
            kept.append(item)
        return kept, new, refused

    def _apply_events(self, state: SubjectState, fresh: list[Decoded],
                      result: BatchResult) -> tuple[Changes, list[EventKey], list[tuple[EventKey, int | None]]]:
        """Apply ``fresh`` to the loaded ``state`` in memory; returns the changes, the keys of the events
        that failed (dead-lettered, to be unclaimed) and the events ignored as stale with the revision that
        stands."""
        applier = Applier(self.catalogue, state)
        apply = applier.apply
        failed: list[EventKey] = []
        stale: list[tuple[EventKey, int | None]] = []
        applied: dict[str, int] = {}
        received = result.received
        ignored = 0
        for item in fresh:
            event = item.event
            try:
                outcome = apply(event)
            except ObjectionRefused as exc:  # an objection too late or to a result that is not a failure
                result.dead_letters.append(Rejected(item.message, "refused", str(exc), event.event_id, item.sender))
                failed.append(item.key)
                continue
            except Exception as exc:  # noqa: BLE001 - one bad event must not block the partition
                logger.exception("event could not be applied", extra={"event_id": event.event_id})
                result.dead_letters.append(Rejected(item.message, "apply", f"{type(exc).__name__}: {exc}",
                                                    event.event_id, item.sender))
                failed.append(item.key)
                continue
            if outcome == "ignored":
                ignored += 1
                stale.append((item.key, applier.standing_revision(event)))
            else:
                applied[event.type] = applied.get(event.type, 0) + 1
            if (raw := item.received) is not None:  # counted by the raw header: hashing instants costs more
                received[raw] = received.get(raw, 0) + 1
        result.ignored += ignored
        result.applied = applied
        return applier.changes(), failed, stale

    @staticmethod
    def _unique(decoded: list[Decoded], result: BatchResult) -> dict[EventKey, Decoded]:
        """The first of each (sender, event id) in the batch; repeats are duplicates or conflicts."""
        first: dict[EventKey, Decoded] = {}
        for item in decoded:
            key = item.key
            seen = first.get(key)
            if seen is None:
                first[key] = item
            elif seen.content_hash == item.content_hash:
                result.duplicates += 1
            else:
                result.dead_letters.append(Rejected(item.message, "conflict",
                                                    f"event_id {key[1]!r} appears with different content", key[1],
                                                    item.sender))
        return first

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

