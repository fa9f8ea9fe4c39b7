"""Provisional results (pure): objection periods by CST calendar day, across month and year ends."""

from __future__ import annotations

import datetime as dt

import pytest

from services.indicators.provisional import (
    ObjectionRefused,
    check_objection,
    is_provisional,
    objection_deadline,
    window_open_since,
)
from shared.clock import CST

UTC = dt.UTC


@pytest.mark.parametrize(("inspected_at", "days", "deadline"), [
    # 1 March 07:30 CST (still 28 February in UTC): the period runs to the end of 16 March CST.
    (dt.datetime(2026, 2, 28, 23, 30, tzinfo=UTC), 15, dt.datetime(2026, 3, 17, tzinfo=CST)),
    # 31 January 23:59 CST: fifteen days later is 15 February (a short month follows).
    (dt.datetime(2026, 1, 31, 23, 59, tzinfo=CST), 15, dt.datetime(2026, 2, 16, tzinfo=CST)),
    # Across the year end.
    (dt.datetime(2026, 12, 20, 9, 0, tzinfo=CST), 15, dt.datetime(2027, 1, 5, tzinfo=CST)),
    # A leap-year February.
    (dt.datetime(2028, 2, 20, 12, 0, tzinfo=CST), 15, dt.datetime(2028, 3, 7, tzinfo=CST)),
    (dt.datetime(2026, 11, 30, 16, 0, tzinfo=UTC), 0, dt.datetime(2026, 12, 2, tzinfo=CST)),  # 1 Dec CST
])
def test_the_objection_period_ends_with_the_cst_day_n_days_after_the_inspection(
        inspected_at: dt.datetime, days: int, deadline: dt.datetime) -> None:
    assert objection_deadline(inspected_at, days, CST) == deadline


def test_a_failure_is_provisional_until_its_period_has_passed_without_objection() -> None:
    inspected = dt.datetime(2026, 2, 28, 23, 30, tzinfo=UTC)
    deadline = dt.datetime(2026, 3, 17, tzinfo=CST)
    kwargs = {"verdict": "fail", "inspected_at": inspected, "revision": 1, "objected_revision": None, "days": 15,
              "tz": CST}
    assert is_provisional(**kwargs, now=deadline - dt.timedelta(microseconds=1))  # type: ignore[arg-type]
    assert not is_provisional(**kwargs, now=deadline)  # type: ignore[arg-type]
    assert not is_provisional(**{**kwargs, "verdict": "pass"}, now=inspected)  # type: ignore[arg-type]
    assert window_open_since(deadline - dt.timedelta(microseconds=1), 15, CST) <= inspected
    assert window_open_since(deadline, 15, CST) > inspected


def test_an_objected_failure_stays_provisional_until_the_retest_revision_settles_it() -> None:
    inspected = dt.datetime(2026, 11, 1, tzinfo=CST)
    long_after = inspected + dt.timedelta(days=90)
    common = {"verdict": "fail", "inspected_at": inspected, "objected_revision": 1, "days": 15, "tz": CST,
              "now": long_after}
    assert is_provisional(revision=1, **common)  # type: ignore[arg-type]
    assert not is_provisional(revision=2, **common)  # type: ignore[arg-type]  # the re-test failed again: final


def test_an_objection_after_the_period_is_refused_with_the_deadline_named() -> None:
    inspected = dt.datetime(2026, 2, 28, 23, 30, tzinfo=UTC)
    on_time = dt.datetime(2026, 3, 16, 23, 59, tzinfo=CST)
    check_objection(verdict="fail", inspected_at=inspected, objected_at=on_time, days=15, tz=CST, sample_id="S-1")
    late = r"after its objection period of 15 days ended \(2026-03-17T00:00:00\+08:00\)"
    with pytest.raises(ObjectionRefused, match=late):
        check_objection(verdict="fail", inspected_at=inspected, objected_at=dt.datetime(2026, 3, 17, tzinfo=CST),
                        days=15, tz=CST, sample_id="S-1")


@pytest.mark.parametrize(("verdict", "match"), [(None, "no inspection result"), ("pass", "only a failing result")])
def test_an_objection_without_a_failing_result_is_refused(verdict: str | None, match: str) -> None:
    at = dt.datetime(2026, 11, 1, tzinfo=CST)
    with pytest.raises(ObjectionRefused, match=match):
        check_objection(verdict=verdict, inspected_at=at if verdict else None, objected_at=at, days=15, tz=CST,
                        sample_id="S-1")
