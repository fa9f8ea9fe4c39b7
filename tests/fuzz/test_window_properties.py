"""Properties of the window arithmetic (CST calendar days), for any instant.

Complements tests/indicators/test_windows.py (fixed examples): rolling windows always end today
and have exactly N days; to-date windows start on their period's first day and contain today;
calendar periods tile their year with no gap and no overlap; a window's instants map back to its days.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from services.indicators.windows import ROLLING, local_day, period_days, resolve_window

CST = dt.timezone(dt.timedelta(hours=8))
PLAN_START = dt.date(2018, 1, 1)

INSTANTS = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2090, 12, 31),
                        timezones=st.sampled_from([dt.UTC, CST, dt.timezone(dt.timedelta(hours=-11)),
                                                   dt.timezone(dt.timedelta(hours=14))]))
YEARS = st.integers(1901, 2990)


@settings(max_examples=300)
@given(INSTANTS, st.sampled_from(sorted(ROLLING)))
def test_every_rolling_window_ends_on_todays_cst_date_and_has_exactly_n_days(now: dt.datetime, name: str) -> None:
    today = now.astimezone(CST).date()
    window = resolve_window(name, now, CST, PLAN_START)
    assert window.last_day == today and window.contains(today)
    assert window.days == ROLLING[name]
    assert not window.contains(today - dt.timedelta(days=ROLLING[name]))
    assert window.start <= now < window.end
    assert window.end - window.start == dt.timedelta(days=ROLLING[name])


@settings(max_examples=300)
@given(INSTANTS)
def test_to_date_windows_start_on_their_periods_first_day_and_contain_today(now: dt.datetime) -> None:
    today = now.astimezone(CST).date()
    mtd, qtd, ytd = (resolve_window(n, now, CST, PLAN_START) for n in ("mtd", "qtd", "ytd"))
    assert mtd.first_day == today.replace(day=1)
    assert qtd.first_day.day == 1 and qtd.first_day.month in (1, 4, 7, 10)
    assert (today.month - qtd.first_day.month) in (0, 1, 2) and qtd.first_day.year == today.year
    assert ytd.first_day == dt.date(today.year, 1, 1)
    for window in (mtd, qtd, ytd):
        assert window.last_day == today and window.start <= now < window.end
    assert ytd.first_day <= qtd.first_day <= mtd.first_day


@given(YEARS)
def test_months_and_quarters_partition_their_year_without_gap_or_overlap(year: int) -> None:
    for parts in ([f"{year}-{m:02d}" for m in range(1, 13)], [f"{year}-Q{q}" for q in range(1, 5)]):
        spans = [period_days(p) for p in parts]
        assert spans[0][0] == dt.date(year, 1, 1) and spans[-1][1] == dt.date(year, 12, 31)
        for (_, last), (first, _) in zip(spans, spans[1:], strict=False):
            assert first == last + dt.timedelta(days=1)
        assert sum((last - first).days + 1 for first, last in spans) == (dt.date(year + 1, 1, 1)
                                                                          - dt.date(year, 1, 1)).days
    for q in range(1, 5):
        months = [period_days(f"{year}-{m:02d}") for m in range(3 * q - 2, 3 * q + 1)]
        assert period_days(f"{year}-Q{q}") == (months[0][0], months[-1][1])


@settings(max_examples=300)
@given(INSTANTS, st.sampled_from(["7d", "30d", "mtd", "qtd", "ytd"]), st.integers(0, 400 * 24 * 3600))
def test_an_instant_is_inside_a_window_exactly_when_its_cst_day_is(now: dt.datetime, name: str, back: int) -> None:
    window = resolve_window(name, now, CST, PLAN_START)
    instant = now - dt.timedelta(seconds=back)
    assert (window.start <= instant < window.end) == window.contains(local_day(instant, CST))
