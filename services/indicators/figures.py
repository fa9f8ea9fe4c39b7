"""Building a figure from summed tallies or reports (pure).

Per kind:
- ``pass_rate`` / ``reported_share``: value = numerator / denominator, 95 % Wilson interval, judged
  against the target (``stats.judge``); n = denominator.
- ``completion_share``: of the samples collected in the window, those at least ``completion_days``
  old (by CST day: collected on or before today − N) or already inspected are due; value = due
  samples inspected within N days of collection / due samples; Wilson interval.
- ``mean_score``: respondent-weighted mean; a normal interval from Σscore²·respondents (every
  respondent of a survey counts with the survey's score); n = respondents.
- ``reported_value``: the reported value; no interval (the value itself is judged), no minimum sample.
- ``quota_coverage``: collected / expected to date, expected = Σ programme quotas per city × cities in
  scope (13 for the province, 1 for a city; none for a county: no figure) × the elapsed share of the
  year covered by the window ("linear pace"); ok ≥ target, at_risk below, breach below 0.9 × target.
  n is the expected count: insufficient_data while fewer than ``min_sample`` samples are due, or
  while no collection at all has been reported for the region in the window.
- nothing reported at all (no sample, no report, no milestone): ``no_data`` whatever the kind; it is
  never ``behind`` or ``breach``, and the alert service never fires on it.
- ``milestone``: cumulative count in the window (``plan``: since the plan's start); on_track when
  count ≥ target × the elapsed share of [plan start, deadline] covered by the window (capped at 1),
  else behind (the contract's two milestone statuses).

Reported figures: for ``ytd`` and calendar-year windows the year's report; otherwise (or when the
year has none) the overlapping report with the latest period start (ties: the shortest period). The
province figure is the province's own report if any, else the cities' reports of the chosen period:
summed for shares, the unweighted mean of city values for values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from services.indicators.state import ReportState
from services.indicators.stats import judge, judge_milestone, judge_pace, mean_interval, wilson_interval
from services.indicators.windows import Window, day_start, period_days, year_length
from shared.catalogue import Catalogue, IndicatorSpec
from shared.figures import Basis, Contributor, Figure


@dataclass(frozen=True, slots=True)
class Sums:
    numerator: float = 0
    denominator: float = 0
    extra: float = 0
    score_sum: float = 0.0
    score_sq_sum: float = 0.0
    settled: float = 0  # completion_share: samples collected on or before the cut-off day
    recent_inspected: float = 0  # completion_share: inspected samples collected after the cut-off day
    last_event_at: dt.datetime | None = None

    def __add__(self, other: Sums) -> Sums:
        last = max((t for t in (self.last_event_at, other.last_event_at) if t is not None), default=None)
        return Sums(self.numerator + other.numerator, self.denominator + other.denominator, self.extra + other.extra,
                    self.score_sum + other.score_sum, self.score_sq_sum + other.score_sq_sum,
                    self.settled + other.settled, self.recent_inspected + other.recent_inspected, last)


@dataclass(frozen=True, slots=True)
class Reported:
    numerator: float | None
    denominator: float | None
    value: float | None
    last_event_at: dt.datetime | None
    period: str


def completion_cutoff(spec: IndicatorSpec, today: dt.date) -> dt.date:
    return today - dt.timedelta(days=spec.completion_days or 30)


def build_figure(catalogue: Catalogue, spec: IndicatorSpec, region: str, category: str | None, window: Window,
                 now: dt.datetime, sums: Sums | None = None, reported: Reported | None = None,
                 provisional: int | None = None, basis: Basis = "all",
                 cities: dict[str, Sums] | None = None) -> Figure:
    sums = sums or Sums()
    if basis == "final" and provisional:
        # Settled verdicts only: the failures still open to objection (or awaiting a re-test) leave the count.
        sums = replace(sums, denominator=max(sums.numerator, sums.denominator - provisional))
    n: float | None
    ci: tuple[float, float] | None = None
    numerator: float | None
    denominator: float | None
    value: float | None
    last = sums.last_event_at
    min_sample = catalogue.min_sample(spec)
    match spec.kind:
        case "pass_rate":
            numerator, denominator = sums.numerator, sums.denominator
            value, ci = _rate(numerator, denominator)
            n = denominator
            status = judge(value, ci, n, spec.target, min_sample)
        case "completion_share":
            numerator, denominator = sums.numerator, sums.settled + sums.recent_inspected
            value, ci = _rate(numerator, denominator)
            n = denominator
            status = judge(value, ci, n, spec.target, min_sample)
        case "mean_score":
            numerator, denominator = sums.score_sum, sums.denominator
            value = sums.score_sum / denominator if denominator else None
            ci = mean_interval(sums.score_sum, sums.score_sq_sum, denominator)
            n = denominator
            status = judge(value, ci, n, spec.target, min_sample)
        case "reported_share" | "reported_value":
            numerator = reported.numerator if reported else None
            denominator = reported.denominator if reported else None
            last = reported.last_event_at if reported else None
            if spec.kind == "reported_share" and denominator:
                value, ci = _rate(numerator or 0, denominator)
                n = denominator
            else:
                value, n = (reported.value if reported else None), None
            status = judge(value, ci, n, spec.target, min_sample)
        case "quota_coverage":
            numerator = sums.numerator
            expected = expected_samples(catalogue, region, window, now)
            denominator = round(expected, 2) if expected is not None else None
            value = numerator / expected if expected else None
            n = expected
            # No collection reported at all: the programme is not reporting through QualityWatch
            # here yet; that is "no data", not fourteen breaches.
            no_data = expected is None or expected < min_sample or not numerator
            status = "insufficient_data" if no_data else judge_pace(value, spec.target)
        case "milestone":
            numerator, denominator = sums.numerator, None
            value, n = sums.numerator, None
            # The contract knows two milestone statuses: nothing reported yet is "behind" once pace > 0.
            status = judge_milestone(sums.numerator, spec.target.value * plan_elapsed_share(catalogue, window, now),
                                     final=plan_over(catalogue, now))
        case _:  # pragma: no cover - the catalogue model allows no other kind
            raise ValueError(f"unknown indicator kind {spec.kind!r}")
    if nothing_reported(spec, sums, reported):
        status = "no_data"
    contributors = None
    if cities is not None and status in ("at_risk", "breach") and spec.target.higher_is_better:
        contributors = shortfall_contributors(spec.target.value, sums.denominator, cities)
    tz = catalogue.tz
    return Figure(
        indicator=spec.id, region=region, category=category, window=window.name, as_of=now.astimezone(tz),
        numerator=numerator, denominator=denominator, value=value,
        ci95=(round(ci[0], 4), round(ci[1], 4)) if ci else None, target=spec.target, status=status,
        last_event_at=last.astimezone(tz) if last else None,
        sample_size=int(n) if n is not None else None, min_sample=min_sample,
        window_start=window.start, window_end=window.end, provisional=provisional, basis=basis,
        contributors=contributors)


def shortfall_contributors(target: float, total: float, cities: dict[str, Sums],
                           limit: int = 3) -> tuple[Contributor, ...]:
    """The cities contributing most to a provincial pass rate's shortfall (pure).

    The province's gap is ``target − Σnum/Σden = Σ_c (target·den_c − num_c) / Σden``: city c contributes
    ``(target·den_c − num_c) / Σden`` of it (in percentage points ×100). Cities above target contribute
    negatively and are left out; the largest contributors come first."""
    if not total:
        return ()
    found = []
    for region, sums in cities.items():
        if not sums.denominator:
            continue
        points = 100 * (target * sums.denominator - sums.numerator) / total
        if points > 0:
            found.append(Contributor(region=region, points=round(points, 2), numerator=sums.numerator,
                                     denominator=sums.denominator, value=sums.numerator / sums.denominator))
    return tuple(sorted(found, key=lambda c: (-c.points, c.region))[:limit])


def nothing_reported(spec: IndicatorSpec, sums: Sums, reported: Reported | None) -> bool:
    """True when no event at all stands behind the figure: its status is ``no_data`` (missing is not bad)."""
    match spec.kind:
        case "reported_share" | "reported_value":
            return reported is None or (reported.value is None and not reported.denominator)
        case "quota_coverage":
            return not sums.numerator
        case "milestone":
            return not sums.numerator and not sums.denominator
        case _:
            return not sums.denominator and not sums.numerator


def _rate(numerator: float, denominator: float) -> tuple[float | None, tuple[float, float] | None]:
    if not denominator:
        return None, None
    return numerator / denominator, wilson_interval(numerator, denominator)


def expected_samples(catalogue: Catalogue, region: str, window: Window, now: dt.datetime) -> float | None:
    """Samples due by ``now`` at linear pace through the year, for the province or a city."""
    if region == catalogue.province_code:
        cities = len(catalogue.city_codes)
    elif region in catalogue.regions.cities:
        cities = 1
    else:
        return None
    quota = sum(p.annual_quota_per_city for p in catalogue.programmes.values())
    share = window.elapsed(now) / year_length(window.first_day.year)
    return quota * cities * share


def plan_over(catalogue: Catalogue, now: dt.datetime) -> bool:
    """True once the plan's deadline day has ended (CST): milestones are then judged, finally, at the deadline."""
    return now >= day_start(catalogue.plan.deadline + dt.timedelta(days=1), catalogue.tz)


def plan_elapsed_share(catalogue: Catalogue, window: Window, now: dt.datetime) -> float:
    """The share of the plan period [start, deadline] covered by the window up to ``now`` (≤ 1)."""
    tz = catalogue.tz
    plan_start = day_start(catalogue.plan.start, tz)
    plan_end = day_start(catalogue.plan.deadline + dt.timedelta(days=1), tz)
    start = max(plan_start, window.start)
    end = min(plan_end, window.end, now)
    if end <= start:
        return 0.0
    return min(1.0, (end - start) / (plan_end - plan_start))


# ---- reported figures -----------------------------------------------------------------------------
Reports = Mapping[tuple[str, str], list[ReportState]]  # by (indicator, region)


def reports_by_region(reports: Iterable[ReportState]) -> dict[tuple[str, str], list[ReportState]]:
    out: dict[tuple[str, str], list[ReportState]] = {}
    for report in reports:
        out.setdefault((report.indicator, report.region), []).append(report)
    return out


def pick_report(catalogue: Catalogue, spec: IndicatorSpec, region: str, window: Window,
                reports: Reports) -> Reported | None:
    """The reported figure for a region and window (see the module docstring)."""
    own = _choose(reports.get((spec.id, region), []), window)
    if own is not None:
        return Reported(own.numerator, own.denominator, own.value, own.occurred_at, own.period)
    if region != catalogue.province_code:
        return None
    cities = [r for city in catalogue.regions.cities for r in reports.get((spec.id, city), [])]
    chosen = _choose(cities, window)
    if chosen is None:
        return None
    same = [r for r in cities if r.period == chosen.period]
    last = max(r.occurred_at for r in same)
    if spec.kind == "reported_share":
        num = sum(r.numerator or 0 for r in same)
        den = sum(r.denominator or 0 for r in same)
        return Reported(num, den, num / den if den else None, last, chosen.period)
    values = [r.value for r in same if r.value is not None]
    return Reported(None, None, sum(values) / len(values) if values else None, last, chosen.period)


def _choose(reports: list[ReportState], window: Window) -> ReportState | None:
    overlapping = []
    for report in reports:
        first, last = period_days(report.period)
        if first <= window.last_day and last >= window.first_day:
            overlapping.append((first, last, report))
    if not overlapping:
        return None
    if window.name == "ytd" or window.name.isdigit():
        year = str(window.first_day.year)
        for _first, _last, report in overlapping:
            if report.period == year:
                return report
    return max(overlapping, key=lambda item: (item[0], item[0] - item[1]))[2]
