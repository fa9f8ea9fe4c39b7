"""Database side of applying a batch: claim event ids, load and save subject state, add tallies.

Every function takes the caller's session and plain data: the processor runs them all in ONE
transaction per batch. Work is batched: one statement per table per batch, never a round trip per
event. PostgreSQL gets whole columns as arrays (``unnest``). On SQLite the ids to claim and the
subjects to load go as one JSON array (``json_each``, serialized by orjson: one cached statement
whatever the batch size); upserts are multi-row ``INSERT ... VALUES`` statements of a few fixed sizes
(``SQLITE_LADDER``), each prepared once.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Column, String, Table, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.indicators.apply import Changes, ReportKey, SubjectState
from services.indicators.models import (
    Acceptance,
    AppliedEvent,
    DailyTally,
    Inspection,
    MonthlyTally,
    ReportedFigure,
    Sample,
    SubjectOwner,
)
from services.indicators.state import AcceptanceState, InspectionState, ReportState, SampleState, Tallies
from shared.db import UtcDateTime

CHUNK = 1000
PG_CHUNK = 5000  # rows per unnest statement


def dialect_insert(session: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An ``INSERT`` for the session's dialect, which offers ``on_conflict_do_nothing/update``."""
    dialect = postgresql if is_postgres(session) else sqlite
    return dialect.insert(table)


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _chunks(rows: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def lock_subjects(session: Session, subjects: tuple[set[str], set[str], set[ReportKey]]) -> None:
    """PostgreSQL: serialize concurrent batches about the same subjects (sample ids, project ids, report
    keys, as ``apply.subjects_of`` gives them) with transaction-scoped locks, taken in sorted order so
    that two instances cannot deadlock. SQLite has one writer anyway: nothing to do."""
    if not is_postgres(session):
        return
    samples, projects, reports = subjects
    ordered = sorted({*(f"sample:{s}" for s in samples), *(f"project:{p}" for p in projects),
                      *(f"figure:{i}:{r}:{p}" for i, r, p in reports)})
    if ordered:
        _cursor(session).execute("SELECT count(*) FROM (SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) "
                                 "FROM unnest(%b::text[]) AS k ORDER BY k) AS locked", (ordered,))


EventKey = tuple[str, str]  # (sender, event_id): event ids are unique per sender only


@dataclass(frozen=True, slots=True)
class Claims:
    """The outcome of claiming a batch's events: the keys claimed now, and for the keys applied
    before, the content hash stored with them."""

    claimed: set[EventKey]
    applied_before: dict[EventKey, str]


def claim_events(session: Session, events: dict[EventKey, str], now: dt.datetime) -> Claims:
    """Record events ((sender, event_id) → content hash) as applied, and say which were applied before.

    One ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` per chunk: the claim is atomic per row even
    with another instance inserting the same keys concurrently; the keys it did not return were
    there before, and their stored hashes are read next (none in the usual case)."""
    claimed: set[EventKey] = set()
    ordered = _ordered(session, [(s, e, h) for (s, e), h in events.items()])
    cursor = _cursor(session)
    if is_postgres(session):
        sql = ("INSERT INTO applied_event (sender, event_id, content_hash, applied_at, outcome) "
               "SELECT s, e, h, %b, 'applied' FROM unnest(%b::text[], %b::text[], %b::text[]) AS u(s, e, h) "
               "ON CONFLICT (sender, event_id) DO NOTHING RETURNING sender, event_id")
        for chunk in _chunks(ordered, PG_CHUNK):
            cursor.execute(sql, (now, [s for s, _, _ in chunk], [e for _, e, _ in chunk], [h for _, _, h in chunk]))
            claimed.update((row[0], row[1]) for row in cursor.fetchall())
    elif ordered:
        cursor.execute("INSERT INTO applied_event (sender, event_id, content_hash, applied_at, outcome) "
                       f"SELECT {_json_columns(3)}, ?, 'applied' FROM json_each(?) WHERE true "
                       "ON CONFLICT (sender, event_id) DO NOTHING RETURNING sender, event_id",
                       (_sqlite_timestamp(now), orjson.dumps(ordered)))
        claimed.update((row[0], row[1]) for row in cursor.fetchall())
    others = [key for key in events if key not in claimed]
    applied_before: dict[EventKey, str] = {}
    for chunk in _chunks(others):
        query = (select(AppliedEvent.sender, AppliedEvent.event_id, AppliedEvent.content_hash)
                 .where(tuple_(AppliedEvent.sender, AppliedEvent.event_id).in_(list(chunk))))
        applied_before.update(((s, e), h) for s, e, h in session.execute(query))
    return Claims(claimed, applied_before)


def unclaim_events(session: Session, keys: Iterable[EventKey]) -> None:
    ids = list(keys)
    for chunk in _chunks(ids):
        session.execute(AppliedEvent.__table__.delete().where(
            tuple_(AppliedEvent.sender, AppliedEvent.event_id).in_(list(chunk))))


def mark_ignored(session: Session, ignored: Sequence[tuple[EventKey, int | None]]) -> None:
    """Note the claimed events that changed nothing (a stale revision) and the revision that stands."""
    table = AppliedEvent.__table__
    for (sender, event_id), standing in ignored:
        session.execute(table.update().where(table.c.sender == sender, table.c.event_id == event_id)
                        .values(outcome="ignored", standing_revision=standing))


def load_owners(session: Session, subjects: set[str]) -> dict[str, str]:
    """The recorded owner (first sender) of each of ``subjects`` that has one."""
    found: dict[str, str] = {}
    for chunk in _chunks(sorted(subjects)):
        query = select(SubjectOwner.subject, SubjectOwner.owner).where(SubjectOwner.subject.in_(list(chunk)))
        found.update((subject, owner) for subject, owner in session.execute(query))
    return found


def save_owners(session: Session, owners: dict[str, str], now: dt.datetime) -> None:
    """Record new owners (subjects are locked by ``lock_subjects`` on PostgreSQL; SQLite has one writer)."""
    if not owners:
        return
    stmt = dialect_insert(session, SubjectOwner.__table__).on_conflict_do_nothing(index_elements=["subject"])
    rows = [{"subject": subject, "owner": owner, "claimed_at": now} for subject, owner in sorted(owners.items())]
    for chunk in _chunks(rows):
        session.execute(stmt, list(chunk))


def load_state(session: Session, sample_ids: set[str], project_ids: set[str],
               report_keys: set[ReportKey]) -> SubjectState:
    state = SubjectState()
    state.inspections = dict.fromkeys(sample_ids)
    state.samples = dict.fromkeys(sample_ids)
    state.acceptances = dict.fromkeys(project_ids)
    state.reports = dict.fromkeys(report_keys)
    for row in _select(session, "inspection", InspectionState.__slots__, "sample_id", sample_ids, 7):
        state.inspections[row[0]] = InspectionState(*row)
    for row in _select(session, "sample", SampleState.__slots__, "sample_id", sample_ids, 4):
        state.samples[row[0]] = SampleState(*row)
    for row in _select(session, "acceptance", AcceptanceState.__slots__, "project_id", project_ids, 5):
        state.acceptances[row[0]] = AcceptanceState(row[0], row[1], row[2], bool(row[3]), row[4], row[5], row[6])
    for chunk in _chunks(sorted(report_keys)):
        cols = tuple_(ReportedFigure.indicator, ReportedFigure.region, ReportedFigure.period)
        for figure in session.scalars(select(ReportedFigure).where(cols.in_(list(chunk)))):
            state.reports[(figure.indicator, figure.region, figure.period)] = ReportState(
                figure.indicator, figure.region, figure.period, figure.numerator, figure.denominator, figure.value,
                figure.occurred_at, figure.event_id)
    return state


def _select(session: Session, table: str, columns: Sequence[str], key: str, ids: set[str],
            timestamp: int) -> Iterable[tuple[Any, ...]]:
    """Rows of ``table`` whose ``key`` is in ``ids``, with the driver directly; column ``timestamp``
    comes back as an aware UTC datetime (as the ORM's UtcDateTime gives it)."""
    if not ids:
        return
    cursor = _cursor(session)
    ordered = _ordered(session, ids)
    head = f"SELECT {', '.join(columns)} FROM {table} WHERE {key} "
    postgres = is_postgres(session)
    for chunk in _chunks(ordered, PG_CHUNK) if postgres else (ordered,):
        if postgres:
            cursor.execute(head + "= ANY(%b::text[])", (list(chunk),))
        else:
            cursor.execute(head + "IN (SELECT value FROM json_each(?))", (orjson.dumps(chunk),))
        for row in cursor.fetchall():
            at = row[timestamp]
            at = at.astimezone(dt.UTC) if isinstance(at, dt.datetime) else dt.datetime.fromisoformat(at)
            yield (*row[:timestamp], at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at, *row[timestamp + 1:])


# Subject state → a row in the order of the class's fields (= its table's columns); ``instant`` converts the
# instant for the dialect (``_stored``), in the same pass as the row is built.
def _inspection_row(s: InspectionState, instant: Callable[[dt.datetime], Any]) -> tuple[Any, ...]:
    return (s.sample_id, s.programme, s.indicator, s.category, s.region, s.verdict, s.revision,
            instant(s.occurred_at), s.event_id)


def _sample_row(s: SampleState, instant: Callable[[dt.datetime], Any]) -> tuple[Any, ...]:
    return s.sample_id, s.programme, s.category, s.region, instant(s.collected_at), s.event_id


def _acceptance_row(s: AcceptanceState, instant: Callable[[dt.datetime], Any]) -> tuple[Any, ...]:
    return s.project_id, s.size, s.region, s.first_time_pass, s.revision, instant(s.occurred_at), s.event_id


def _as_is(value: Any) -> Any:
    return value


def _stored(session: Session) -> Callable[[Any], Any]:
    """How ``_upsert`` rows hold instants and days: as they are for PostgreSQL, as the text SQLAlchemy stores
    for SQLite."""
    return _as_is if is_postgres(session) else _sqlite_text


def save_changes(session: Session, changes: Changes, now: dt.datetime) -> None:
    """Upsert the changed subject states and reported figures, and add the tally deltas."""
    instant = _stored(session)
    for table, columns, key, rows in (
            (Inspection.__table__, InspectionState.__slots__, "sample_id",
             [_inspection_row(s, instant) for s in changes.inspections]),
            (Sample.__table__, SampleState.__slots__, "sample_id", [_sample_row(s, instant) for s in changes.samples]),
            (Acceptance.__table__, AcceptanceState.__slots__, "project_id",
             [_acceptance_row(s, instant) for s in changes.acceptances])):
        _upsert(session, table, columns, (key,), _ordered(session, rows))
    reports = sorted(changes.reports, key=lambda r: (r.indicator, r.region, r.period))
    _upsert_rows(session, ReportedFigure.__table__, ["indicator", "region", "period"],
                 [{**_fields(r), "reported_at": now} for r in reports])
    add_tallies(session, changes.tallies)


_TALLY_KEY = ("indicator", "region", "day", "category")
_TALLY_SUMS = ("numerator", "denominator", "extra", "score_sum", "score_sq_sum")


def add_tallies(session: Session, tallies: Tallies) -> None:
    """Add signed sums to the daily tallies and to their months' (insert or increment), in key order."""
    _add_sums(session, DailyTally.__table__, _TALLY_KEY, tallies)
    _add_sums(session, MonthlyTally.__table__, ("indicator", "region", "month", "category"), tallies.by_month())


def _add_sums(session: Session, table: Table, keys: tuple[str, ...], tallies: Tallies) -> None:
    stored = _stored(session)
    last = tallies.last_event_at
    rows = [(key[0], key[1], stored(key[2]), key[3], int(num), int(den), int(extra), float(ssum), float(ssq),
             None if (at := last.get(key)) is None else stored(at))
            for key, (num, den, extra, ssum, ssq) in sorted(tallies.nonzero().items())]
    latest = "greatest" if is_postgres(session) else "max"
    name = table.name
    update = {c: f"{name}.{c} + excluded.{c}" for c in _TALLY_SUMS}
    update["last_event_at"] = (f"coalesce({latest}({name}.last_event_at, excluded.last_event_at), "
                               f"{name}.last_event_at, excluded.last_event_at)")
    _upsert(session, table, (*keys, *_TALLY_SUMS, "last_event_at"), keys, rows, update)


def _upsert(session: Session, table: Table, columns: Sequence[str], keys: Sequence[str], rows: list[tuple],
            update: dict[str, str] | None = None) -> None:
    """Insert or update ``rows`` (tuples in ``columns`` order, unique by ``keys``, instants and days as
    ``_stored`` gives them) with the driver directly: PostgreSQL gets one ``INSERT ... SELECT FROM
    unnest(arrays)`` per chunk, SQLite multi-row VALUES statements."""
    if not rows:
        return
    if update is None:
        update = {c: f"excluded.{c}" for c in columns if c not in keys}
    head = f"INSERT INTO {table.name} ({', '.join(columns)}) "
    tail = f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET " + ", ".join(f"{c} = {e}" for c, e in update.items())
    cursor = _cursor(session)
    if is_postgres(session):
        types = [_pg_array_type(table.c[c]) for c in columns]
        sql = head + "SELECT * FROM unnest(" + ", ".join(f"%b::{t}" for t in types) + ")" + tail
        for chunk in _chunks(rows, PG_CHUNK):
            cursor.execute(sql, [list(column) for column in zip(*chunk, strict=True)])
    else:
        _sqlite_insert(cursor, head, tail, len(columns), rows)


# Rows per multi-row INSERT on SQLite: a batch is cut into statements of these sizes (largest first),
# so that each size's statement is prepared once and then served from the driver's statement cache.
SQLITE_LADDER = (256, 64, 16, 4, 1)


def _sqlite_insert(cursor: Any, head: str, tail: str, width: int, rows: Sequence[Sequence[Any]]) -> int:
    """``head VALUES (...), (...), ... tail`` over ``rows``: a few statements of up to 256 rows rather
    than one step per row (``executemany``): about half the database time per row, and the driver
    releases the GIL once per statement instead of once per row. Returns the rows changed."""
    limit = _variable_limit(cursor)
    done, total, changed = 0, len(rows), 0
    for size in SQLITE_LADDER:
        if size * width > limit and size > 1:
            continue
        sql = head + "VALUES " + ", ".join(["(" + ", ".join("?" * width) + ")"] * size) + tail
        while total - done >= size:
            cursor.execute(sql, list(itertools.chain.from_iterable(rows[done:done + size])))
            changed += cursor.rowcount
            done += size
    return changed


def _variable_limit(cursor: Any) -> int:
    """How many ``?`` one SQLite statement may hold (999 before SQLite 3.32, 32,766 since)."""
    getlimit = getattr(cursor.connection, "getlimit", None)
    return getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) if getlimit is not None else 999


def _ordered(session: Session, items: Iterable[Any]) -> list[Any]:
    """PostgreSQL: rows in key order, so that two instances writing overlapping keys cannot deadlock.
    SQLite has a single writer: order does not matter and sorting thousands of rows is skipped."""
    return sorted(items) if is_postgres(session) else list(items)


def _cursor(session: Session) -> Any:
    """A DBAPI cursor on the session's connection, inside the session's transaction.

    On PostgreSQL (psycopg 3) array parameters are passed as ``%b`` (binary): psycopg's text array
    dumper runs a regex over every element, five times the CPU of the binary one."""
    driver = session.connection().connection.driver_connection
    if driver is None:  # only after the connection was invalidated, never inside a live transaction
        raise RuntimeError("the session's database connection is closed")
    return driver.cursor()


def _pg_array_type(column: Column[Any]) -> str:
    kind = column.type
    if isinstance(kind, UtcDateTime):
        return "timestamptz[]"
    if isinstance(kind, String):
        return "text[]"
    return kind.compile(dialect=postgresql.dialect()).lower() + "[]"


def _sqlite_timestamp(value: dt.datetime) -> str:
    """What SQLAlchemy stores for a UtcDateTime on SQLite: naive UTC, always with microseconds."""
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _json_columns(count: int) -> str:
    """The columns of a ``json_each`` row that is a JSON array of ``count`` values."""
    return ", ".join(f"json_extract(value, '$[{i}]')" for i in range(count))


@functools.lru_cache(maxsize=4096)  # a batch repeats instants (events of one second) and days
def _sqlite_text(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return _sqlite_timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in SQLite")


def _upsert_rows(session: Session, table: Table, keys: list[str], rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    stmt = dialect_insert(session, table)
    stmt = stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in rows[0] if c not in keys})
    for chunk in _chunks(rows):
        session.execute(stmt, list(chunk))


def _fields(state: ReportState) -> dict[str, Any]:
    return {name: getattr(state, name) for name in ReportState.__slots__}
