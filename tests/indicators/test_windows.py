"""Window arithmetic on CST calendar days, with a fixed clock."""

from __future__ import annotations

import datetime as dt

import pytest

from services.indicators.windows import UnknownWindow, local_day, resolve_window
from tests.support import FixedClock

CST = dt.timezone(dt.timedelta(hours=8))
PLAN_START = dt.date(2018, 1, 1)


def window(name: str, at: str):  # noqa: ANN201
    clock = FixedClock(dt.datetime.fromisoformat(at))
    return resolve_window(name, clock.now(), CST, PLAN_START)


def test_an_instant_after_1600_utc_belongs_to_the_next_cst_day() -> None:
    assert local_day(dt.datetime(2026, 11, 27, 16, 30, tzinfo=dt.UTC), CST) == dt.date(2026, 11, 28)
    assert local_day(dt.datetime(2026, 11, 27, 15, 59, 59, tzinfo=dt.UTC), CST) == dt.date(2026, 11, 27)


@pytest.mark.parametrize(("name", "at", "first", "last"), [
    ("7d", "2026-11-27T16:30:00+00:00", "2026-11-22", "2026-11-28"),
    ("7d", "2026-11-27T15:59:00+00:00", "2026-11-21", "2026-11-27"),
    ("30d", "2026-11-28T10:00:00+08:00", "2026-10-30", "2026-11-28"),
    ("90d", "2026-11-28T10:00:00+08:00", "2026-08-31", "2026-11-28"),
    ("365d", "2026-11-28T10:00:00+08:00", "2025-11-29", "2026-11-28"),
    ("mtd", "2026-11-28T10:00:00+08:00", "2026-11-01", "2026-11-28"),
    ("mtd", "2026-11-30T16:00:00+00:00", "2026-12-01", "2026-12-01"),  # already December in CST
    ("qtd", "2026-11-28T10:00:00+08:00", "2026-10-01", "2026-11-28"),
    ("qtd", "2026-03-31T23:59:00+08:00", "2026-01-01", "2026-03-31"),
    ("ytd", "2026-11-28T10:00:00+08:00", "2026-01-01", "2026-11-28"),
    ("ytd", "2025-12-31T16:00:00+00:00", "2026-01-01", "2026-01-01"),
    ("2026-11", "2026-11-28T10:00:00+08:00", "2026-11-01", "2026-11-30"),
    ("2026-02", "2026-11-28T10:00:00+08:00", "2026-02-01", "2026-02-28"),
    ("2024-02", "2026-11-28T10:00:00+08:00", "2024-02-01", "2024-02-29"),
    ("2026-Q4", "2026-11-28T10:00:00+08:00", "2026-10-01", "2026-12-31"),
    ("2026-Q1", "2026-11-28T10:00:00+08:00", "2026-01-01", "2026-03-31"),
    ("2026", "2026-11-28T10:00:00+08:00", "2026-01-01", "2026-12-31"),
    ("plan", "2026-11-28T10:00:00+08:00", "2018-01-01", "2026-11-28"),
])
def test_windows_cover_the_expected_cst_days(name: str, at: str, first: str, last: str) -> None:
    w = window(name, at)
    assert (w.first_day.isoformat(), w.last_day.isoformat()) == (first, last)


def test_window_bounds_are_cst_midnights() -> None:
    w = window("7d", "2026-11-27T16:30:00+00:00")
    assert w.start.isoformat() == "2026-11-22T00:00:00+08:00"
    assert w.end.isoformat() == "2026-11-29T00:00:00+08:00"
    assert w.days == 7


def test_elapsed_part_of_a_window_stops_at_now() -> None:
    w = window("2026", "2026-01-11T00:00:00+08:00")
    assert w.elapsed(dt.datetime(2026, 1, 11, tzinfo=CST)) == dt.timedelta(days=10)
    assert w.elapsed(dt.datetime(2025, 6, 1, tzinfo=CST)) == dt.timedelta(0)


@pytest.mark.parametrize("name", ["31d", "2026-13", "2026-Q5", "week", "", "26-11", "0999"])
def test_an_unknown_window_is_rejected(name: str) -> None:
    with pytest.raises(UnknownWindow, match="window|period"):
        window(name, "2026-11-28T10:00:00+08:00")
