"""Whole months are read from ``monthly_tally``: it must always equal the daily tallies summed by month,
and every figure must come out exactly as summed day by day (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

import pytest
from sqlalchemy import select

from services.indicators import reader as reader_module
from services.indicators.models import DailyTally, MonthlyTally
from services.indicators.reader import EMPTY, FigureRequest, TallySpans, tally_spans
from services.indicators.rebuild import rebuild_tallies
from tests.indicators import factory as f
from tests.indicators.conftest import Harness

CITIES = ("320500", "320100")
COUNTIES = ("320506", "320102")
CATEGORIES = ("vegetables", "fruit")


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def _covered(spans: TallySpans) -> list[dt.date]:
    days = [d for first, last in spans.days for d in _days(first, last) if first <= last]
    if spans.months[0] <= spans.months[1]:
        for d in _days(spans.months[0], spans.months[1]):
            if d.day == 1 and d != spans.by_day:
                days.extend(x for x in _days(d, d + dt.timedelta(days=31)) if x.month == d.month)
    return days


def test_the_spans_cover_every_day_of_the_range_once_and_no_month_straddles_the_cutoff() -> None:
    rng = random.Random(20)
    base = dt.date(2023, 1, 1)
    for _ in range(3000):
        first = base + dt.timedelta(days=rng.randrange(1200))
        last = first + dt.timedelta(days=rng.choice((0, 1, 6, 27, 29, 30, 89, 364, 365, rng.randrange(800))))
        cutoff = rng.choice((last, first + dt.timedelta(days=rng.randrange((last - first).days + 1)),
                             first - dt.timedelta(days=3), last + dt.timedelta(days=40)))
        spans = tally_spans(first, last, cutoff)
        covered = _covered(spans)
        assert sorted(covered) == _days(first, last), (first, last, cutoff, spans)
        if spans.months[0] <= spans.months[1]:
            for d in _days(spans.months[0], spans.months[1]):
                if d.day == 1 and d != spans.by_day:
                    month_end = (d + dt.timedelta(days=31)).replace(day=1) - dt.timedelta(days=1)
                    assert not d <= cutoff < month_end, (first, last, cutoff, d)
    year = tally_spans(dt.date(2025, 1, 1), dt.date(2025, 12, 31), dt.date(2025, 12, 31))
    assert year.days == (EMPTY, EMPTY, EMPTY) and year.months == (dt.date(2025, 1, 1), dt.date(2025, 12, 1))


def _events(rng: random.Random) -> list[dict]:
    """Inspections, samples and acceptances over 16 months; a quarter of the samples re-tested later, often
    in another month, so months and days both see subtractions."""
    events: list[dict] = []
    start = f.NOW - dt.timedelta(days=480)
    for n in range(400):
        at = start + dt.timedelta(hours=rng.randrange(480 * 24))
        region = rng.choice(COUNTIES + CITIES)
        category = rng.choice(CATEGORIES)
        events.append(f.sample(f"s{n}", f"S{n}", region=region, category=category, at=at))
        tested = at + dt.timedelta(days=rng.randrange(1, 40))
        if tested < f.NOW and rng.random() < 0.85:
            verdict = "fail" if rng.random() < 0.2 else "pass"
            events.append(f.inspection(f"i{n}", f"S{n}", verdict, region=region, category=category, at=tested))
            retest = tested + dt.timedelta(days=rng.randrange(1, 50))
            if retest < f.NOW and rng.random() < 0.25:
                events.append(f.inspection(f"r{n}", f"S{n}", "pass" if verdict == "fail" else "fail", revision=2,
                                           region=region, category=category, at=retest))
    for n in range(40):
        events.append(f.acceptance(f"a{n}", f"P{n}", rng.random() < 0.7,
                                   at=start + dt.timedelta(hours=rng.randrange(480 * 24))))
    rng.shuffle(events)
    return events


def _months_from_days(harness: Harness) -> dict[tuple, tuple]:
    out: dict[tuple, list] = defaultdict(lambda: [0, 0, 0, 0.0, 0.0])
    with harness.sessions() as session:
        for t in session.scalars(select(DailyTally)):
            row = out[(t.indicator, t.region, t.day.replace(day=1), t.category)]
            for i, value in enumerate((t.numerator, t.denominator, t.extra, t.score_sum, t.score_sq_sum)):
                row[i] += value
    return {k: (v[0], v[1], v[2], pytest.approx(v[3]), pytest.approx(v[4])) for k, v in out.items() if any(v)}


def _months(harness: Harness) -> dict[tuple, tuple]:
    with harness.sessions() as session:
        return {(t.indicator, t.region, t.month, t.category): (t.numerator, t.denominator, t.extra, t.score_sum,
                                                               t.score_sq_sum)
                for t in session.scalars(select(MonthlyTally)) if t.numerator or t.denominator or t.extra}


def _by_day_only(first: dt.date, last: dt.date, cutoff: dt.date) -> TallySpans:
    return TallySpans(((first, last), EMPTY, EMPTY), EMPTY, dt.date.min)


def test_months_equal_the_days_summed_and_figures_equal_those_summed_by_day(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(7)
    events = _events(rng)
    for start in range(0, len(events), 97):  # several batches: months are added to, not only inserted
        harness.processor.process([f.message(e) for e in events[start:start + 97]])
    months = _months(harness)
    assert months == _months_from_days(harness)
    assert len({k[2] for k in months}) >= 15

    catalogue = harness.catalogue
    specs = [s for s in catalogue.indicators if s.kind in ("pass_rate", "completion_share", "quota_coverage")
             and s.source in ("inspection", "sample", "acceptance")]
    assert {s.kind for s in specs} == {"pass_rate", "completion_share", "quota_coverage"}
    windows = ("30d", "90d", "365d", "mtd", "qtd", "ytd", "plan", "2025", "2026", "2025-Q4", "2026-02", "2025-11")
    requests = [FigureRequest(spec, window, ("320000", *CITIES, *COUNTIES),
                              (None, *(CATEGORIES if spec.source != "acceptance" else ())))
                for spec in specs for window in windows]
    moments = [f.NOW, f.NOW - dt.timedelta(days=37), dt.datetime(2026, 3, 1, 0, 30, tzinfo=f.CST)]
    ours = [harness.reader.figures(requests, now=now) for now in moments]
    monkeypatch.setattr(reader_module, "tally_spans", _by_day_only)
    by_day = [harness.reader.figures(requests, now=now) for now in moments]
    assert ours == by_day
    assert sum(fig.denominator or 0 for figs in ours for fig in figs) > 10_000, "the figures counted something"

    rebuild_tallies(harness.sessions, catalogue)
    assert _months(harness) == _months_from_days(harness) == months


def test_the_migration_fills_the_months_from_the_days_a_database_already_has(db_url: str) -> None:
    from alembic import command

    from shared.db import alembic_config, make_engine, migrate

    command.upgrade(alembic_config(db_url), "0012_failure_index")  # before the months
    engine = make_engine(db_url)
    rows = [("agri_sampling_pass_rate", "320500", dt.date(2025, 1, d), "vegetables", 3, 4, 0, 0.0, 0.0,
             dt.datetime(2025, 1, d, 2, tzinfo=dt.UTC)) for d in (1, 15, 31)]
    rows += [("agri_sampling_pass_rate", "320500", dt.date(2025, 2, 1), "vegetables", 1, 2, 0, 0.0, 0.0, None),
             ("producer_services_satisfaction", "320000", dt.date(2025, 2, 28), "", 0, 10, 0, 850.0, 72250.0, None)]
    try:
        with engine.begin() as connection:
            connection.execute(DailyTally.__table__.insert(), [dict(zip(
                ("indicator", "region", "day", "category", "numerator", "denominator", "extra", "score_sum",
                 "score_sq_sum", "last_event_at"), row, strict=True)) for row in rows])
        migrate(db_url)
        with engine.connect() as connection:
            months = {(r.indicator, r.region, r.month, r.category): (r.numerator, r.denominator, r.score_sum,
                                                                     r.last_event_at)
                      for r in connection.execute(select(MonthlyTally))}
    finally:
        engine.dispose()
    assert months == {
        ("agri_sampling_pass_rate", "320500", dt.date(2025, 1, 1), "vegetables"):
            (9, 12, 0.0, dt.datetime(2025, 1, 31, 2, tzinfo=dt.UTC)),
        ("agri_sampling_pass_rate", "320500", dt.date(2025, 2, 1), "vegetables"): (1, 2, 0.0, None),
        ("producer_services_satisfaction", "320000", dt.date(2025, 2, 1), ""): (0, 10, 850.0, None)}
