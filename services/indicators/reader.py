"""Reading figures from the daily tallies and reports: a few grouped queries per call, O(days).

``figures(...)`` computes many figures at once (the scorecard, the publisher's passes): one query per
distinct window range over ``daily_tally`` and ``monthly_tally`` (whole months by month, the days around
them by day) grouped by indicator, region and category, and one query
for the reported figures. ``trend(...)`` loads one per-day series and slides the window over it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Date, Select, Subquery, bindparam, case, func, select, union_all
from sqlalchemy.orm import Session, sessionmaker

from services.indicators.figures import Reports, Sums, build_figure, completion_cutoff, pick_report, reports_by_region
from services.indicators.models import DailyTally, MonthlyTally, ReportedFigure
from services.indicators.provisional_reader import provisional_counts
from services.indicators.state import ReportState
from services.indicators.windows import Window, day_start, local_day, period_days, resolve_window
from shared.catalogue import Catalogue, IndicatorSpec
from shared.clock import Clock
from shared.figures import Basis, Figure

TALLY_KINDS = ("pass_rate", "completion_share", "mean_score", "quota_coverage", "milestone")


@dataclass(frozen=True, slots=True)
class FigureRequest:
    spec: IndicatorSpec
    window: str
    regions: tuple[str, ...]
    categories: tuple[str | None, ...] = (None,)
    basis: Basis = "all"  # "final": settled verdicts only (provisional failures left out)


def inspection_categories(catalogue: Catalogue, spec: IndicatorSpec) -> tuple[str, ...]:
    """Categories a figure can be narrowed to: those of the programmes counting toward it."""
    if spec.source != "inspection":
        return ()
    found: list[str] = []
    for name in catalogue.programme_for_indicator(spec.id):
        found.extend(catalogue.programmes[name].categories)
    return tuple(dict.fromkeys(found))


# A day range no day falls in (first > last).
EMPTY = (dt.date.max, dt.date.min)
DAY_RANGES = 3


@dataclass(frozen=True, slots=True)
class TallySpans:
    """How a day range is read: its whole months from ``monthly_tally``, the days around them from
    ``daily_tally``. A month the completion cut-off splits is read by day (its days fall on both sides)."""

    days: tuple[tuple[dt.date, dt.date], ...]  # DAY_RANGES inclusive ranges, unused ones EMPTY
    months: tuple[dt.date, dt.date]  # first days of the first and the last whole month, or EMPTY
    by_day: dt.date  # a month inside ``months`` read from ``days`` instead (date.min: none)


def _month_end(day: dt.date) -> dt.date:
    return period_days(f"{day:%Y-%m}")[1]


def tally_spans(first: dt.date, last: dt.date, cutoff: dt.date) -> TallySpans:
    """Split [first, last] into whole months and the days before and after them."""
    one = dt.timedelta(days=1)
    lo = first if first.day == 1 else _month_end(first) + one
    hi_end = last if _month_end(last) == last else last.replace(day=1) - one
    if lo > hi_end:
        return TallySpans(((first, last), EMPTY, EMPTY), EMPTY, dt.date.min)
    head = (first, lo - one) if first < lo else EMPTY
    tail = (hi_end + one, last) if hi_end < last else EMPTY
    split, by_day = EMPTY, dt.date.min
    if lo <= cutoff < hi_end and cutoff < (month_end := _month_end(cutoff)):
        by_day = cutoff.replace(day=1)
        split = (by_day, month_end)
    return TallySpans((head, tail, split), (lo, hi_end.replace(day=1)), by_day)


def _tally_rows(table: type[DailyTally] | type[MonthlyTally], day: Any, *where: Any) -> Select[*tuple[Any, ...]]:
    """A tally table's rows for the bound indicators and regions, with what settled and what is recent."""
    t, cutoff = table, bindparam("cutoff", type_=Date)
    return (select(t.indicator, t.region, t.category, t.numerator, t.denominator, t.extra, t.score_sum,
                   t.score_sq_sum, t.last_event_at,
                   case((day <= cutoff, t.denominator), else_=0).label("settled"),
                   case((day > cutoff, t.extra), else_=0).label("recent"))
            .where(t.indicator.in_(bindparam("indicators", expanding=True)),
                   t.region.in_(bindparam("regions", expanding=True)), *where))


def _summed(rows: Subquery) -> Select[*tuple[Any, ...]]:
    """Sums per (indicator, region, category); built once, its values bound per call (building a statement
    cost ~80 % of a figure read: its cache key is made anew for a new statement)."""
    u = rows.c
    return (select(u.indicator, u.region, u.category, func.sum(u.numerator), func.sum(u.denominator),
                   func.sum(u.extra), func.sum(u.score_sum), func.sum(u.score_sq_sum), func.max(u.last_event_at),
                   func.sum(u.settled), func.sum(u.recent))
            .group_by(u.indicator, u.region, u.category))


def _day_range(n: int) -> tuple[Any, Any]:
    d = DailyTally
    return d.day >= bindparam(f"day{n}_first", type_=Date), d.day <= bindparam(f"day{n}_last", type_=Date)


_m = MonthlyTally
# A window without a whole month (30 days and less): its days only.
_SUMS_BY_DAY = _summed(_tally_rows(DailyTally, DailyTally.day, *_day_range(0)).subquery())
# Longer windows: their whole months from monthly_tally, the days around them (``tally_spans``).
_SUMS_BY_MONTH = _summed(union_all(
    *[_tally_rows(DailyTally, DailyTally.day, *_day_range(n)) for n in range(DAY_RANGES)],
    _tally_rows(_m, _m.month, _m.month >= bindparam("month_first", type_=Date),
                _m.month <= bindparam("month_last", type_=Date), _m.month != bindparam("by_day", type_=Date)),
).subquery())


def _span_params(spans: TallySpans) -> dict[str, dt.date]:
    params = {"month_first": spans.months[0], "month_last": spans.months[1], "by_day": spans.by_day}
    for n, (first, last) in enumerate(spans.days):
        params[f"day{n}_first"], params[f"day{n}_last"] = first, last
    return params


class FigureReader:
    def __init__(self, catalogue: Catalogue, sessions: sessionmaker[Session], clock: Clock) -> None:
        self.catalogue = catalogue
        self.sessions = sessions
        self.clock = clock

    def window(self, name: str, now: dt.datetime) -> Window:
        return resolve_window(name, now, self.catalogue.tz, self.catalogue.plan.start, self.catalogue.plan.deadline)

    def figure(self, spec: IndicatorSpec, region: str, category: str | None, window: str) -> Figure:
        return self.figures([FigureRequest(spec, window, (region,), (category,))])[0]

    def figures(self, requests: Sequence[FigureRequest], now: dt.datetime | None = None) -> list[Figure]:
        now = now or self.clock.now()
        today = local_day(now, self.catalogue.tz)
        resolved = [(r, self.window(r.window, now)) for r in requests]
        # One tally query per (first day, last day, cut-off day).
        groups: dict[tuple[dt.date, dt.date, dt.date], tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
        for request, window in resolved:
            if request.spec.kind in TALLY_KINDS:
                cutoff = self._cutoff(request.spec, today, window)
                indicators, regions = groups[(window.first_day, window.last_day, cutoff)]
                indicators.add(request.spec.id)
                regions.update(request.regions)
                if _with_contributors(self.catalogue, request):
                    regions.update(self.catalogue.city_codes)
        reported_ids = {r.spec.id for r, _ in resolved if r.spec.kind not in TALLY_KINDS}
        # Provisional failures per window, for the inspection pass rates (issue 19).
        provisional_windows: dict[tuple[dt.datetime, dt.datetime], tuple[set[str], set[str]]] = defaultdict(
            lambda: (set(), set()))
        for request, window in resolved:
            if request.spec.kind == "pass_rate" and request.spec.source == "inspection":
                indicators, regions = provisional_windows[(window.start, window.end)]
                indicators.add(request.spec.id)
                regions.update(request.regions)
        with self.sessions() as session:
            sums = {key: self._tally_sums(session, key, *group) for key, group in groups.items()}
            reports = self._reports(session, reported_ids) if reported_ids else {}
            provisional = {span: provisional_counts(session, self.catalogue, ids, regions, span[0], span[1], now)
                           for span, (ids, regions) in provisional_windows.items()}
        out: list[Figure] = []
        for request, window in resolved:
            spec = request.spec
            for region in request.regions:
                for category in request.categories:
                    if spec.kind in TALLY_KINDS:
                        key = (window.first_day, window.last_day, self._cutoff(spec, today, window))
                        by_cat = sums[key].get((spec.id, region), {})
                        total = _total(by_cat.values()) if category is None else by_cat.get(category, Sums())
                        counts = provisional.get((window.start, window.end))
                        cities = None
                        if region == self.catalogue.province_code and _with_contributors(self.catalogue, request):
                            cities = {}
                            for city in self.catalogue.city_codes:
                                city_cat = sums[key].get((spec.id, city), {})
                                cities[city] = _total(city_cat.values()) if category is None \
                                    else city_cat.get(category, Sums())
                        out.append(build_figure(
                            self.catalogue, spec, region, category, window, now, sums=total,
                            provisional=None if counts is None else counts.get((spec.id, region, category), 0),
                            basis=request.basis, cities=cities))
                    else:
                        picked = pick_report(self.catalogue, spec, region, window, reports)
                        out.append(build_figure(self.catalogue, spec, region, category, window, now,
                                                reported=picked))
        return out

    @staticmethod
    def _cutoff(spec: IndicatorSpec, today: dt.date, window: Window) -> dt.date:
        return completion_cutoff(spec, today) if spec.kind == "completion_share" else window.last_day

    def _tally_sums(self, session: Session, key: tuple[dt.date, dt.date, dt.date], indicators: set[str],
                    regions: set[str]) -> dict[tuple[str, str], dict[str, Sums]]:
        first, last, cutoff = key
        spans = tally_spans(first, last, cutoff)
        statement = _SUMS_BY_DAY if spans.months == EMPTY else _SUMS_BY_MONTH
        params = {"indicators": sorted(indicators), "regions": sorted(regions), "cutoff": cutoff,
                  **_span_params(spans)}
        out: dict[tuple[str, str], dict[str, Sums]] = defaultdict(dict)
        for ind, region, cat, num, den, extra, ssum, ssq, latest, settled, recent in session.execute(statement,
                                                                                                     params):
            out[(ind, region)][cat] = Sums(int(num or 0), int(den or 0), int(extra or 0), float(ssum or 0.0),
                                           float(ssq or 0.0), int(settled or 0), int(recent or 0), _aware(latest))
        return out

    def counted_regions(self, prefix: str, *, limit: int) -> list[str]:
        """Region codes starting with ``prefix`` that any tally has been counted for (at most ``limit``)."""
        t = DailyTally
        with self.sessions() as session:
            rows = session.scalars(select(t.region).where(t.region.like(f"{prefix}%")).distinct()
                                   .order_by(t.region).limit(limit))
            return list(rows)

    @staticmethod
    def _reports(session: Session, indicators: Iterable[str]) -> Reports:
        r = ReportedFigure
        rows = session.execute(select(r.indicator, r.region, r.period, r.numerator, r.denominator, r.value,
                                      r.occurred_at, r.event_id).where(r.indicator.in_(sorted(indicators))))
        return reports_by_region(ReportState(*row) for row in rows)

    # ---- trend ------------------------------------------------------------------------------
    def trend(self, spec: IndicatorSpec, region: str, category: str | None, window: str,
              days: int) -> list[Figure]:
        """The figure as it stood at the end of each of the last ``days`` CST days (today: now)."""
        now = self.clock.now()
        tz = self.catalogue.tz
        today = local_day(now, tz)
        points = [today - dt.timedelta(days=i) for i in range(days - 1, -1, -1)]
        as_of = [min(now, day_start(d + dt.timedelta(days=1), tz) - dt.timedelta(microseconds=1)) for d in points]
        windows = [self.window(window, t) for t in as_of]
        first = min(w.first_day for w in windows)
        if spec.kind not in TALLY_KINDS:
            with self.sessions() as session:
                reports = self._reports(session, [spec.id])
            return [build_figure(self.catalogue, spec, region, category, w, t,
                                 reported=pick_report(self.catalogue, spec, region, w, reports))
                    for w, t in zip(windows, as_of, strict=True)]
        series = self._series(spec, region, category, first, today)
        out = []
        for day, w, t in zip(points, windows, as_of, strict=True):
            cutoff = completion_cutoff(spec, day) if spec.kind == "completion_share" else w.last_day
            total = Sums()
            for d, (num, den, extra, ssum, ssq, latest) in series.items():
                if w.first_day <= d <= min(w.last_day, day):
                    total = total + Sums(num, den, extra, ssum, ssq, den if d <= cutoff else 0,
                                         extra if d > cutoff else 0, latest)
            out.append(build_figure(self.catalogue, spec, region, category, w, t, sums=total))
        return out

    def _series(self, spec: IndicatorSpec, region: str, category: str | None, first: dt.date,
                last: dt.date) -> dict[dt.date, tuple]:
        t = DailyTally
        query = (select(t.day, func.sum(t.numerator), func.sum(t.denominator), func.sum(t.extra),
                        func.sum(t.score_sum), func.sum(t.score_sq_sum), func.max(t.last_event_at))
                 .where(t.indicator == spec.id, t.region == region, t.day >= first, t.day <= last)
                 .group_by(t.day))
        if category is not None:
            query = query.where(t.category == category)
        with self.sessions() as session:
            return {day: (int(num or 0), int(den or 0), int(extra or 0), float(ssum or 0.0), float(ssq or 0.0),
                          _aware(latest))
                    for day, num, den, extra, ssum, ssq, latest in session.execute(query)}


def _with_contributors(catalogue: Catalogue, request: FigureRequest) -> bool:
    """Provincial pass rates name the cities behind a shortfall (basis ``all``: what alerting judges)."""
    return (request.spec.kind == "pass_rate" and request.basis == "all"
            and catalogue.province_code in request.regions)


def _total(items: Iterable[Sums]) -> Sums:
    total = Sums()
    for item in items:
        total = total + item
    return total


def _aware(value: object) -> dt.datetime | None:
    """MAX() over a datetime column comes back as text on SQLite."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    assert isinstance(value, dt.datetime)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
