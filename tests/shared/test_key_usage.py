"""An API key's last use is recorded at most once a minute, never a write per request."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import event
from sqlalchemy.orm import sessionmaker

from shared.auth import ApiKey, Principal, UsageRecorder, create_key
from shared.db import make_engine, migrate

T0 = dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC)


def test_many_uses_within_a_minute_are_one_write_of_the_latest_time(sqlite_url: str) -> None:
    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as session:
        row, _ = create_key(session, role="lab", lab_id="LAB-0001", now=T0)
    updates: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *args: updates.append(statement) if statement.startswith("UPDATE")
                 else None)
    clock = [T0]
    usage = UsageRecorder(sessions, every=60.0, now=lambda: clock[0])
    lab = Principal(role="lab", key_id=row.key_id, lab_id="LAB-0001")
    assert usage.flush() == 0  # nothing noted, nothing written
    for second in range(1000):
        clock[0] = T0 + dt.timedelta(seconds=second / 100)
        usage.used(lab)
        usage.used(Principal(role="operator", key_id="admin-token"))  # the bootstrap token has no row
        usage.flush()
    assert len(updates) == 1  # the first flush wrote; the other 999 within the minute did not
    assert usage.flush(force=True) == 1
    with sessions() as session:
        stored = session.get(ApiKey, row.key_id)
        assert stored is not None and stored.last_used_at == T0 + dt.timedelta(seconds=9.99)
    assert len(updates) == 2
    engine.dispose()
