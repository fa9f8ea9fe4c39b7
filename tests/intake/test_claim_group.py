"""Claims grouped across requests (one transaction, a SAVEPOINT each) on SQLite and PostgreSQL: each request
gets its own answer, a refused one keeps nothing, and a request that fails makes the group retry its requests
one by one so that only it fails."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.intake.store import SUBJECTS, TABLE, Claim, ClaimResult, EventLedger, LedgerRow
from shared.db import make_engine, migrate
from tests.intake.support import NOW


def row(sender: str, event_id: str, content: str) -> LedgerRow:
    return LedgerRow(sender, event_id, content * 64, "inspection.completed", "L", NOW, NOW)


def test_each_request_of_a_group_gets_its_own_answer(db_url: str) -> None:
    migrate(db_url)
    engine = make_engine(db_url)
    try:
        ledger = EventLedger(engine)
        a, b = "lab:A", "lab:B"
        results = ledger.claim_group([
            Claim(a, [row(a, "e-1", "a")], ["sample:S1"], NOW),
            Claim(a, [row(a, "e-1", "b"), row(a, "e-9", "b")], [], NOW),  # e-1 again, other content: 409
            Claim(b, [row(b, "e-2", "a")], ["sample:S1"], NOW),  # A's sample: 403
            Claim(b, [row(b, "e-1", "c")], ["sample:S2"], NOW),  # B's own e-1: another event
            Claim(a, [row(a, "e-1", "a")], [], NOW),  # the same content again: published again (unconfirmed)
        ])
        assert all(isinstance(r, ClaimResult) for r in results)
        answers = [(r.publish, r.conflicts, r.foreign) for r in results if isinstance(r, ClaimResult)]
        assert answers == [({"e-1"}, [], []), (set(), ["e-1"], []), (set(), [], ["sample:S1"]),
                           ({"e-1"}, [], []), ({"e-1"}, [], [])]
        with engine.connect() as connection:
            events = sorted(connection.execute(select(TABLE.c.sender, TABLE.c.event_id, TABLE.c.content_hash)))
            owners = sorted(connection.execute(select(SUBJECTS.c.subject, SUBJECTS.c.owner)))
        assert events == [(a, "e-1", "a" * 64), (b, "e-1", "c" * 64)]  # nothing of the refused requests
        assert owners == [("sample:S1", a), ("sample:S2", b)]
    finally:
        engine.dispose()


def test_a_failing_request_fails_alone(db_url: str) -> None:
    migrate(db_url)
    engine = make_engine(db_url)
    try:
        ledger = EventLedger(engine)
        broken = row("lab:A", "e-2", "b")._replace(type=None)  # type: ignore[arg-type]  # NOT NULL: the group fails
        results = ledger.claim_group([
            Claim("lab:A", [row("lab:A", "e-1", "a")], ["sample:S1"], NOW),
            Claim("lab:A", [broken], ["sample:S2"], NOW),
            Claim("lab:B", [row("lab:B", "e-3", "a")], [], NOW + dt.timedelta(seconds=1)),
        ])
        assert isinstance(results[1], IntegrityError)
        assert [r.publish for r in (results[0], results[2]) if isinstance(r, ClaimResult)] == [{"e-1"}, {"e-3"}]
        with engine.connect() as connection:
            assert sorted(connection.execute(select(TABLE.c.event_id))) == [("e-1",), ("e-3",)]
            assert sorted(connection.execute(select(SUBJECTS.c.subject))) == [("sample:S1",)]
    finally:
        engine.dispose()
