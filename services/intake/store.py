"""The intake ledger: which event ids were accepted, with which content hash.

One ``SELECT ... WHERE event_id IN (...)`` per request and one ``INSERT ... ON CONFLICT DO NOTHING``
(executemany, one transaction) for the new events; SQLite and PostgreSQL both have it. This is the
request hot path, so the statements are prepared once as SQL text and run on the pooled DB-API
connection; values go through the columns' own SQLAlchemy bind processors, so rows read back through
the ORM exactly as if the ORM had written them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Engine, func, select

from services.intake.models import IntakeEvent

TABLE = IntakeEvent.__table__


class LedgerRow(NamedTuple):
    """One accepted event, in the column order of the INSERT."""

    event_id: str
    content_hash: str
    type: str
    lab_id: str
    occurred_at: dt.datetime
    accepted_at: dt.datetime
    kafka_partition: int
    kafka_offset: int


COLUMNS = LedgerRow._fields


class EventLedger:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        dialect = engine.dialect
        self._mark = "?" if dialect.paramstyle == "qmark" else "%s"
        marks = ", ".join([self._mark] * len(COLUMNS))
        self._insert_sql = (f"INSERT INTO {TABLE.name} ({', '.join(COLUMNS)}) VALUES ({marks}) "
                            f"ON CONFLICT (event_id) DO NOTHING")
        # Only the two instants have a bind processor (aware datetime -> UTC, the column type's own); the
        # other values go to the driver as they are.
        processors = {name: TABLE.c[name].type.bind_processor(dialect) for name in COLUMNS}
        unexpected = {name for name, p in processors.items() if p} - {"occurred_at", "accepted_at"}
        if unexpected:
            raise RuntimeError(f"intake_event columns with a bind processor the ledger does not apply: {unexpected}")
        self._convert = processors["occurred_at"] or _unchanged
        self._select_sql = lru_cache(maxsize=64)(self._select_for)
        # SQLite has one writer: threads that queue on a lock here wait microseconds, where SQLite's own
        # busy handler would put them to sleep for up to 100 ms each time the file is locked.
        self._write_lock = threading.Lock() if dialect.name == "sqlite" else contextlib.nullcontext()

    def _select_for(self, count: int) -> str:
        marks = ", ".join([self._mark] * count)
        return f"SELECT event_id, content_hash FROM {TABLE.name} WHERE event_id IN ({marks})"

    def known_hashes(self, event_ids: Iterable[str]) -> dict[str, str]:
        ids = list(event_ids)
        if not ids:
            return {}
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(self._select_sql(len(ids)), ids)
            found = {row[0]: row[1] for row in cursor.fetchall()}
            cursor.close()
            connection.rollback()
            return found
        finally:
            connection.close()

    def record(self, rows: Sequence[LedgerRow]) -> None:
        """Remember accepted events; a row that another instance wrote first is left as it is."""
        if not rows:
            return
        convert = self._convert
        values = [row._replace(occurred_at=convert(row.occurred_at), accepted_at=convert(row.accepted_at))
                  for row in rows]
        with self._write_lock:
            connection = self._engine.raw_connection()
            try:
                cursor = connection.cursor()
                cursor.executemany(self._insert_sql, values)
                cursor.close()
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
            finally:
                connection.close()

    def count(self) -> int:
        with self._engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(TABLE)) or 0)


def _unchanged(value: Any) -> Any:
    return value
