"""Database side of applying a batch: claim event ids, load and save subject state, add tallies.

Every function takes the caller's session: the consumer runs them all in ONE transaction per batch.
Work is batched: one statement per table per batch, never a round trip per event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, func, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.indicators.apply import Applier, ReportKey, SubjectState
from services.indicators.models import (
    Acceptance,
    AppliedEvent,
    DailyTally,
    Inspection,
    ReportedFigure,
    Sample,
)
from services.indicators.state import AcceptanceState, InspectionState, ReportState, SampleState, Tallies

CHUNK = 1000


def _insert(session: Session, table: Table):  # type: ignore[no-untyped-def]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _chunks(rows: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def lock_subjects(session: Session, keys: Iterable[str]) -> None:
    """PostgreSQL: serialize concurrent batches about the same subjects (transaction-scoped locks,
    taken in sorted order so that two instances cannot deadlock). SQLite has one writer anyway."""
    ordered = sorted(set(keys))
    if not ordered or not is_postgres(session):
        return
    session.execute(text("SELECT count(*) FROM (SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) "
                         "FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k) AS locked"), {"keys": ordered})


def claim_events(session: Session, events: dict[str, str], now: dt.datetime) -> tuple[set[str], dict[str, str]]:
    """Record event ids as applied. Returns (newly claimed ids, {already applied id: its stored hash})."""
    table = AppliedEvent.__table__
    claimed: set[str] = set()
    rows = [{"event_id": eid, "content_hash": h, "applied_at": now} for eid, h in sorted(events.items())]
    stmt = _insert(session, table).on_conflict_do_nothing(index_elements=["event_id"]).returning(table.c.event_id)
    for chunk in _chunks(rows):
        claimed.update(session.execute(stmt, list(chunk)).scalars())
    others = [eid for eid in events if eid not in claimed]
    existing: dict[str, str] = {}
    for chunk in _chunks(others):
        query = select(AppliedEvent.event_id, AppliedEvent.content_hash).where(AppliedEvent.event_id.in_(chunk))
        existing.update((eid, h) for eid, h in session.execute(query))
    return claimed, existing


def unclaim_events(session: Session, event_ids: Iterable[str]) -> None:
    ids = list(event_ids)
    for chunk in _chunks(ids):
        session.execute(AppliedEvent.__table__.delete().where(AppliedEvent.event_id.in_(chunk)))


def load_state(session: Session, sample_ids: set[str], project_ids: set[str],
               report_keys: set[ReportKey]) -> SubjectState:
    state = SubjectState()
    state.inspections = dict.fromkeys(sample_ids)
    state.samples = dict.fromkeys(sample_ids)
    state.acceptances = dict.fromkeys(project_ids)
    state.reports = dict.fromkeys(report_keys)
    for chunk in _chunks(sorted(sample_ids)):
        for row in session.scalars(select(Inspection).where(Inspection.sample_id.in_(chunk))):
            state.inspections[row.sample_id] = InspectionState(
                row.sample_id, row.programme, row.indicator, row.category, row.region, row.verdict, row.revision,
                row.occurred_at, row.event_id)
        for row in session.scalars(select(Sample).where(Sample.sample_id.in_(chunk))):
            state.samples[row.sample_id] = SampleState(row.sample_id, row.programme, row.category, row.region,
                                                       row.collected_at, row.event_id)
    for chunk in _chunks(sorted(project_ids)):
        for row in session.scalars(select(Acceptance).where(Acceptance.project_id.in_(chunk))):
            state.acceptances[row.project_id] = AcceptanceState(
                row.project_id, row.size, row.region, row.first_time_pass, row.revision, row.occurred_at, row.event_id)
    for chunk in _chunks(sorted(report_keys)):
        cols = tuple_(ReportedFigure.indicator, ReportedFigure.region, ReportedFigure.period)
        for row in session.scalars(select(ReportedFigure).where(cols.in_(list(chunk)))):
            state.reports[(row.indicator, row.region, row.period)] = ReportState(
                row.indicator, row.region, row.period, row.numerator, row.denominator, row.value, row.occurred_at,
                row.event_id)
    return state


def save_state(session: Session, applier: Applier, tallies: Tallies, now: dt.datetime) -> None:
    _upsert_rows(session, Inspection.__table__, ["sample_id"],
                 [_fields(s) for s in sorted(applier.changed_inspections(), key=lambda s: s.sample_id)])
    _upsert_rows(session, Sample.__table__, ["sample_id"],
                 [_fields(s) for s in sorted(applier.changed_samples(), key=lambda s: s.sample_id)])
    _upsert_rows(session, Acceptance.__table__, ["project_id"],
                 [_fields(s) for s in sorted(applier.changed_acceptances(), key=lambda s: s.project_id)])
    reports = sorted(applier.changed_reports(), key=lambda r: (r.indicator, r.region, r.period))
    _upsert_rows(session, ReportedFigure.__table__, ["indicator", "region", "period"],
                 [{**_fields(r), "reported_at": now} for r in reports])
    add_tallies(session, tallies)


def add_tallies(session: Session, tallies: Tallies) -> None:
    """Add signed sums to the daily tallies (insert or increment), in key order."""
    rows = []
    for key, (num, den, extra, ssum, ssq) in sorted(tallies.nonzero().items()):
        indicator, region, day, category = key
        rows.append({"indicator": indicator, "region": region, "day": day, "category": category,
                     "numerator": int(num), "denominator": int(den), "extra": int(extra),
                     "score_sum": float(ssum), "score_sq_sum": float(ssq),
                     "last_event_at": tallies.last_event_at.get(key)})
    if not rows:
        return
    table = DailyTally.__table__
    latest = func.greatest if is_postgres(session) else func.max
    stmt = _insert(session, table)
    excluded = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=["indicator", "region", "day", "category"],
        set_={
            "numerator": table.c.numerator + excluded.numerator,
            "denominator": table.c.denominator + excluded.denominator,
            "extra": table.c.extra + excluded.extra,
            "score_sum": table.c.score_sum + excluded.score_sum,
            "score_sq_sum": table.c.score_sq_sum + excluded.score_sq_sum,
            "last_event_at": func.coalesce(latest(table.c.last_event_at, excluded.last_event_at),
                                           table.c.last_event_at, excluded.last_event_at),
        })
    for chunk in _chunks(rows):
        session.execute(stmt, list(chunk))


def _upsert_rows(session: Session, table: Table, keys: list[str], rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    stmt = _insert(session, table)
    stmt = stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in rows[0] if c not in keys})
    for chunk in _chunks(rows):
        session.execute(stmt, list(chunk))


def _fields(state: object) -> dict[str, Any]:
    return {name: getattr(state, name) for name in state.__slots__}  # type: ignore[attr-defined]
