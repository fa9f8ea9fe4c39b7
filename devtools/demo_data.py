"""Realistic Jiangsu lab activity for the demo feed, as a pure, seeded event generator.

``generate_events(rng, start, end, catalogue=...)`` yields contract event dicts in ``occurred_at``
order. Activity follows a province's working day (``activity``): busy 08:30–12:00 and 14:00–17:30
China Standard Time, a lunch dip, quiet evenings and nights, light weekends; reported figures are filed
monthly (on the 5th). Before ``live_from`` it comes at realistic daily volumes (a backfill of history);
from ``live_from`` on the same day is played ``speed`` times faster (default 60: a province day in 24
minutes, starting at the current time of day if it is a working hour, else at the next working morning),
so a demo moves within minutes while an hour of live feed adds only ``speed / 24`` days of activity and
never outweighs the history. One city's agricultural pass rate drifts below the plan's 97 % over the
last weeks of history and on into the live feed (see ``Drift``); every other figure is kept on the right
side of its target. Pass/fail verdicts are spread by error diffusion, so a city's realised pass rate
follows its intended one closely instead of wandering by chance.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shared.catalogue import Catalogue

CST = dt.timezone(dt.timedelta(hours=8))
AGRI = "agri-routine-monitoring"
SPOT = "national-spot-check"
PROVINCIAL_AGRI_LAB = "LAB-3280"  # 省农产品质量检验测试中心
PROVINCIAL_PRODUCT_LAB = "LAB-3290"  # 省产品质量监督检验研究院

# Relative size of each city's activity (bigger cities sample more).
CITY_WEIGHT: dict[str, float] = {
    "320100": 1.4, "320200": 1.3, "320300": 1.3, "320400": 1.0, "320500": 1.6, "320600": 1.2,
    "320700": 0.9, "320800": 1.0, "320900": 1.2, "321000": 1.0, "321100": 0.8, "321200": 1.0,
    "321300": 0.9,
}
# A few real county-level codes per city (GB/T 2260); samples name the county about half the time.
COUNTIES: dict[str, tuple[str, ...]] = {
    "320100": ("320115", "320116", "320117", "320118"),
    "320200": ("320205", "320206", "320281", "320282"),
    "320300": ("320321", "320322", "320324", "320381", "320382"),
    "320400": ("320412", "320413", "320481"),
    "320500": ("320506", "320581", "320582", "320583", "320585"),
    "320600": ("320612", "320623", "320681", "320682", "320685"),
    "320700": ("320722", "320723", "320724"),
    "320800": ("320803", "320826", "320830", "320831"),
    "320900": ("320921", "320922", "320923", "320924", "320925", "320981"),
    "321000": ("321023", "321081", "321084"),
    "321100": ("321181", "321182", "321183"),
    "321200": ("321281", "321282", "321283"),
    "321300": ("321322", "321323", "321324"),
}
# Test items per category: (name, unit, limit). A failing inspection exceeds the first item's limit.
AGRI_ITEMS: dict[str, tuple[tuple[str, str, float], ...]] = {
    "vegetables": (("chlorpyrifos", "mg/kg", 0.02), ("lead", "mg/kg", 0.3)),
    "fruit": (("carbendazim", "mg/kg", 0.5), ("cypermethrin", "mg/kg", 2.0)),
    "tea": (("bifenthrin", "mg/kg", 5.0), ("lead", "mg/kg", 5.0)),
    "grain": (("cadmium", "mg/kg", 0.2), ("aflatoxin B1", "ug/kg", 20.0)),
    "livestock": (("ractopamine", "ug/kg", 0.5), ("enrofloxacin", "ug/kg", 100.0)),
    "poultry": (("enrofloxacin", "ug/kg", 100.0), ("doxycycline", "ug/kg", 100.0)),
    "eggs": (("fipronil", "mg/kg", 0.02), ("florfenicol", "ug/kg", 1.0)),
    "aquatic": (("malachite green", "ug/kg", 1.0), ("nitrofuran metabolites", "ug/kg", 1.0)),
}
SPOT_ITEMS = ("marking and instructions", "safety performance", "material composition", "durability")
# Monthly reported figures per city and their ranges, all on the right side of the plan's target.
REPORTED = ("green_building_share", "three_products_share", "metrology_coverage", "manufacturing_quality_index")
SURVEY_RANGE = {"producer_services": (85.6, 93.0), "consumer_services": (80.8, 89.0)}
MILESTONES = ("new_international_standards", "new_national_standards", "new_inspection_centres",
              "consumer_brands", "china_quality_awards", "china_industry_awards", "luban_awards",
              "zhan_tianyou_awards", "dayu_awards")


@dataclass
class Rectification:
    """The demo's rectification loop (issue 19), shared with the feed: once the feed has set a plan on
    Xuzhou's alert (``start``), the drifting city samples at a clean pass rate again and its next
    ``follow_ups`` agricultural inspections are follow-ups (``follow_up_of``) of that alert."""

    alert_id: str | None = None
    since: dt.datetime | None = None
    follow_ups: int = 0

    def start(self, alert_id: str, at: dt.datetime, follow_ups: int) -> None:
        self.alert_id, self.since, self.follow_ups = alert_id, at, follow_ups


# The one report the demo leaves overdue (issue 19): Lianyungang's metrology coverage for the month before
# last, due ten days after that month ends, so it is overdue whenever the demo runs.
OVERDUE_REPORT = ("320700", "metrology_coverage")


@dataclass(frozen=True, slots=True)
class Drift:
    """One city whose pass rate slides: ``before`` until ``days`` before live, ``at_live`` at live, ``live`` after."""

    city: str = "320300"  # Xuzhou
    programme: str = AGRI
    before: float = 0.985
    at_live: float = 0.88
    live: float = 0.70
    days: float = 21.0


NORMAL_PASS = {AGRI: 0.991, SPOT: 0.935}
# Realistic volumes (per city of weight 1, per day) before live_from.
AGRI_PER_DAY = 1200 / 365  # the catalogue's annual quota per city, spread over the year
SPOT_PER_DAY = 600 / 365
ACCEPTANCE_PER_DAY = 0.4
SURVEY_PER_DAY = 2 / 7  # per sector
MILESTONE_PER_DAY = 0.3  # province-wide
REVISED_FAILURES = 0.25  # failures first reported as a pass, then revised (revision 2) to fail
OBJECTED_FAILURES = 0.1  # of the other failures: the enterprise objects and a re-test follows (issue 19)
OVERTURNED_RETESTS = 0.2  # of the re-tests: the failure is overturned


DEFAULT_SPEED = 60.0  # live: one province day in 24 real minutes
# Activity per hour of a working day (China Standard Time): sampling teams and labs at work 08:30–12:00 and
# 14:00–17:30, a lunch dip, a little overtime in the evening, almost nothing at night. Weekends: WEEKEND.
WORKDAY_HOURS = (0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.05, 0.3, 1.0, 2.0, 2.0, 1.8,
                 0.5, 0.9, 2.0, 2.0, 1.8, 1.0, 0.3, 0.15, 0.1, 0.05, 0.03, 0.02)
WEEKEND = 0.15
_WEEK_MEAN = (5 * sum(WORKDAY_HOURS) + 2 * WEEKEND * sum(WORKDAY_HOURS)) / (7 * 24)
PEAK_ACTIVITY = max(WORKDAY_HOURS) / _WEEK_MEAN


def activity(at: dt.datetime) -> float:
    """How busy the province is at ``at`` relative to its weekly average (the mean over a week is 1)."""
    local = at.astimezone(CST)
    weight = WORKDAY_HOURS[local.hour]
    return (weight if local.weekday() < 5 else weight * WEEKEND) / _WEEK_MEAN


def working_start(at: dt.datetime) -> dt.datetime:
    """``at`` if it falls in a weekday's working hours, else 08:30 CST of the next working day."""
    local = at.astimezone(CST)
    if local.weekday() < 5 and WORKDAY_HOURS[local.hour] >= 1.0:
        return at
    day = local.replace(hour=8, minute=30, second=0, microsecond=0)
    if local >= day:
        day += dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


AGENCY_STATEMENTS = ("figure.reported", "survey.scored", "milestone.reported")


def reporting_agency(catalogue: Catalogue, event_type: str, data: dict[str, Any]) -> str:
    """The agency that reports an agency statement: the lead agency of its indicator (a survey: of its
    sector's indicator)."""
    if event_type == "survey.scored":
        spec = next(s for s in catalogue.indicators if s.source == "survey" and s.survey_sector == data["sector"])
    else:
        found = catalogue.indicator(data["indicator"])
        assert found is not None, data["indicator"]
        spec = found
    return spec.lead_agency


def lab_regions(lab: str) -> list[str] | None:
    """The regions a demo lab is accredited for: a city lab its city; the provincial labs anywhere."""
    if lab in (PROVINCIAL_AGRI_LAB, PROVINCIAL_PRODUCT_LAB):
        return None
    return [f"{lab.removeprefix('LAB-')}00"]


def lab_ids() -> tuple[str, ...]:
    """Every lab the demo posts as: one per city (LAB-3201 … LAB-3213) and two provincial labs."""
    return (*(f"LAB-{code[:4]}" for code in sorted(CITY_WEIGHT)), PROVINCIAL_AGRI_LAB, PROVINCIAL_PRODUCT_LAB)


def wilson_interval(passes: int, total: int, z: float = 1.959964) -> tuple[float, float]:
    """The 95 % Wilson score interval of a pass rate (for checking the demo's design)."""
    if total == 0:
        return (0.0, 1.0)
    p = passes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return (max(0.0, centre - half), min(1.0, centre + half))


def generate_events(rng: random.Random, start: dt.datetime, end: dt.datetime | None, *, catalogue: Catalogue,
                    live_from: dt.datetime | None = None, speed: float = DEFAULT_SPEED, drift: Drift | None = Drift(),
                    run_tag: str | None = None, volume: float = 1.0, rectification: Rectification | None = None,
                    leave_overdue: bool = False) -> Iterator[dict[str, Any]]:
    """Events with ``start <= occurred_at < end`` (``end=None``: forever), oldest first; from ``live_from`` on,
    the province's day ``speed`` times faster.

    ``volume`` multiplies the backfill's daily volumes (samples, acceptances, surveys, milestones; monthly
    reported figures stay one per city and month): the province benchmark loads years at ~20x the demo's.
    ``rectification``: the demo's loop (issue 19); ``leave_overdue``: one city report is never filed."""
    generator = _Generator(rng, start, end, catalogue, live_from, speed, drift, run_tag, volume)
    generator.rectification = rectification
    if leave_overdue:
        month = _month_start((live_from or end or start).astimezone(CST))
        generator.skipped_report = (*OVERDUE_REPORT, _add_month(month, -2).strftime("%Y-%m"))
    return generator.events()


def samples_per_day(catalogue: Catalogue) -> float:
    """Samples (inspections) a day the backfill produces across the province at ``volume=1``."""
    mix = _Generator(random.Random(0), dt.datetime.now(CST), None, catalogue, None, DEFAULT_SPEED, None, None).mix
    return sum(weight for (kind, _), weight in mix if kind in (AGRI, SPOT))


class _Generator:
    def __init__(self, rng: random.Random, start: dt.datetime, end: dt.datetime | None, catalogue: Catalogue,
                 live_from: dt.datetime | None, speed: float, drift: Drift | None, run_tag: str | None,
                 volume: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be an aware datetime")
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.rng, self.start, self.end, self.catalogue = rng, start, end, catalogue
        self.live_from = live_from if live_from is not None else end
        self.drift = drift
        self.tag = run_tag or start.astimezone(dt.UTC).strftime("%Y%m%dT%H%M")
        self.cities = [c for c in sorted(CITY_WEIGHT) if c in catalogue.regions.cities]
        self.categories = {name: catalogue.programmes[name].categories for name in (AGRI, SPOT)}
        self.heap: list[tuple[dt.datetime, int, dict[str, Any]]] = []
        self.order = itertools.count()
        self.ids = itertools.count(1)
        self.debt: dict[tuple[str, str], tuple[float, float]] = {}
        self.decks: dict[tuple[str, str], list[str]] = {}
        self.mix = [(kind, weight * volume) for kind, weight in self._mix()]
        self.rectification: Rectification | None = None
        self.skipped_report: tuple[str, str, str] | None = None
        per_day = sum(weight for _, weight in self.mix)
        self.base_rate = per_day / 86400.0  # episodes per second, on average over a week
        self.speed = speed
        # The live feed's province clock: from the current working hour (or the next working morning).
        self.live_day_start = working_start(self.live_from) if self.live_from is not None else None

    def _mix(self) -> list[tuple[tuple[str, str], float]]:
        mix: list[tuple[tuple[str, str], float]] = []
        for city in self.cities:
            w = CITY_WEIGHT[city]
            ahead = 1.05 + 0.5 * (w - 0.8)  # every city a little ahead of its quota pace, bigger ones more
            mix += [((AGRI, city), AGRI_PER_DAY * ahead), ((SPOT, city), SPOT_PER_DAY * ahead),
                    (("acceptance", city), ACCEPTANCE_PER_DAY * w),
                    (("survey", city), 2 * SURVEY_PER_DAY)]
        mix.append((("milestone", self.catalogue.province_code), MILESTONE_PER_DAY))
        return mix

    # ---- the event stream -------------------------------------------------------------------
    def events(self) -> Iterator[dict[str, Any]]:
        self._schedule_catch_up_reports()
        kinds = [k for k, _ in self.mix]
        weights = list(itertools.accumulate(w for _, w in self.mix))
        t = self.start
        report_month = _month_start(self.start.astimezone(CST))
        while True:
            t = self._next_time(t)
            while report_month <= t.astimezone(CST):  # monthly reports fall due on the 5th
                self._schedule_monthly_reports(report_month)
                report_month = _add_month(report_month)
            yield from self._due(t)
            if self.end is not None and t >= self.end:
                return
            live = self.live_from is not None and t >= self.live_from
            kind, region = self.rng.choices(kinds, cum_weights=weights)[0]
            self._episode(kind, region, t, live)

    def province_time(self, t: dt.datetime) -> dt.datetime:
        """The time of the province's day that ``t`` plays: itself in history, compressed ``speed`` times live."""
        if self.live_from is None or self.live_day_start is None or t < self.live_from:
            return t
        return self.live_day_start + (t - self.live_from) * self.speed

    def _next_time(self, t: dt.datetime) -> dt.datetime:
        """The next episode: a Poisson process at the day's activity (thinned from its peak rate)."""
        while True:
            live = self.live_from is not None and t >= self.live_from
            peak = self.base_rate * PEAK_ACTIVITY * (self.speed if live else 1.0)
            nxt = t + dt.timedelta(seconds=self.rng.expovariate(peak))
            if not live and self.live_from is not None and nxt >= self.live_from:
                t = self.live_from  # the process restarts at live pace (memoryless)
                continue
            if self.end is not None and nxt >= self.end:
                return nxt
            t = nxt
            if self.rng.random() * PEAK_ACTIVITY < activity(self.province_time(t)):
                return t

    def _delay(self, live: bool, low: float, high: float) -> dt.timedelta:
        """A working delay of ``low``–``high`` seconds of province time (compressed when live)."""
        return dt.timedelta(seconds=self.rng.uniform(low, high) / (self.speed if live else 1.0))

    def _due(self, t: dt.datetime) -> Iterator[dict[str, Any]]:
        while self.heap and self.heap[0][0] <= t:
            at, _, event = heapq.heappop(self.heap)
            if self.end is not None and at >= self.end:
                self.heap.clear()
                return
            if at >= self.start:
                yield event

    def _emit(self, at: dt.datetime, type_: str, lab: str, data: dict[str, Any]) -> None:
        if type_ in AGENCY_STATEMENTS:  # reported by the indicator's lead agency, with its own key
            lab = reporting_agency(self.catalogue, type_, data)
        at = at.replace(microsecond=0)
        event = {"event_id": f"{lab.lower()}-{self.tag}-{next(self.ids):07d}", "type": type_,
                 "occurred_at": at.astimezone(CST).isoformat(), "lab_id": lab, "data": data}
        heapq.heappush(self.heap, (at, next(self.order), event))

    # ---- episodes ---------------------------------------------------------------------------
    def _episode(self, kind: str, city: str, t: dt.datetime, live: bool) -> None:
        match kind:
            case "acceptance":
                self._acceptance(city, t)
            case "survey":
                self._survey(city, t)
            case "milestone":
                self._emit(t, "milestone.reported", PROVINCIAL_PRODUCT_LAB,
                           {"indicator": self.rng.choice(MILESTONES), "region": city,
                            "count": self.rng.choice((1, 1, 1, 2, 3))})
            case _:
                self._sample(kind, city, t, live)

    def _sample(self, programme: str, city: str, t: dt.datetime, live: bool) -> None:
        rng = self.rng
        lab = f"LAB-{city[:4]}"
        if programme == AGRI and rng.random() < 0.15:
            lab = PROVINCIAL_AGRI_LAB
        elif programme == SPOT and rng.random() < 0.5:
            lab = PROVINCIAL_PRODUCT_LAB
        region = rng.choice(COUNTIES[city]) if rng.random() < 0.5 and city in COUNTIES else city
        inspected = t + self._delay(live, 2 * 3600, 86400)  # the lab's result, hours after collection
        verdict = self._verdict(programme, city, inspected)
        category = self._category(programme, "fail" if verdict == "fail" else "pass")
        sample_id = f"S{city[:4]}{'A' if programme == AGRI else 'N'}-{self.tag}-{next(self.ids):07d}"
        base = {"sample_id": sample_id, "programme": programme, "category": category, "region": region}
        follow_up = self._follow_up_of(programme, city, t)
        if follow_up is not None:  # a follow-up inspection (跟踪抽检) of the alert under rectification
            self._emit(t, "sample.collected", lab, dict(base))
            self._emit(inspected, "inspection.completed", lab,
                       {**base, "verdict": verdict, "items": self._items(programme, category, verdict),
                        "follow_up_of": follow_up})
            return
        collected = dict(base)
        if programme == SPOT:
            collected["enterprise_id"] = f"E{city[:4]}-{rng.randrange(1, 5000):05d}"
        self._emit(t, "sample.collected", lab, collected)
        if verdict == "fail" and rng.random() < REVISED_FAILURES:
            # A preliminary pass, overturned by a confirmatory test. (Only this direction: a premature
            # fail would dip a healthy figure below target until the revision lands.)
            self._emit(inspected, "inspection.completed", lab,
                       {**base, "verdict": "pass", "items": self._items(programme, category, "pass")})
            self._emit(inspected + self._delay(live, 2 * 3600, 24 * 3600), "inspection.completed", lab,
                       {**base, "verdict": verdict, "items": self._items(programme, category, verdict),
                        "revision": 2})
        else:
            self._emit(inspected, "inspection.completed", lab,
                       {**base, "verdict": verdict, "items": self._items(programme, category, verdict)})
            if verdict == "fail" and rng.random() < OBJECTED_FAILURES:
                self._objection(lab, base, programme, category, inspected, live)

    def _objection(self, lab: str, base: dict[str, Any], programme: str, category: str, inspected: dt.datetime,
                   live: bool) -> None:
        """The enterprise objects within its period (复检); the re-test (revision 2) confirms the failure, or
        now and then overturns it."""
        rng = self.rng
        objected = inspected + dt.timedelta(seconds=rng.uniform(60, 300) if live else rng.uniform(86400, 10 * 86400))
        self._emit(objected, "inspection.objected", lab, {**base, "reason": "企业对检验结果提出异议，申请复检"})
        retest = objected + dt.timedelta(seconds=rng.uniform(120, 600) if live else rng.uniform(86400, 4 * 86400))
        verdict = "pass" if rng.random() < OVERTURNED_RETESTS else "fail"
        self._emit(retest, "inspection.completed", lab,
                   {**base, "verdict": verdict, "items": self._items(programme, category, verdict), "revision": 2})

    def _follow_up_of(self, programme: str, city: str, at: dt.datetime) -> str | None:
        loop, drift = self.rectification, self.drift
        if loop is None or loop.alert_id is None or loop.follow_ups <= 0 or drift is None:
            return None
        if (programme, city) != (drift.programme, drift.city) or loop.since is None or at < loop.since:
            return None
        loop.follow_ups -= 1
        return loop.alert_id

    def pass_rate(self, programme: str, city: str, at: dt.datetime) -> float:
        drift = self.drift
        if drift is None or drift.city != city or drift.programme != programme:
            return NORMAL_PASS[programme]
        loop = self.rectification
        if loop is not None and loop.since is not None and at >= loop.since:
            return 1.0  # rectified: the sampled producers pass again
        live_from = self.live_from or self.end or at
        if at >= live_from:
            return drift.live
        begins = live_from - dt.timedelta(days=drift.days)
        if at <= begins:
            return drift.before
        share = (at - begins) / (live_from - begins)
        return drift.before + (drift.at_live - drift.before) * share

    def _verdict(self, programme: str, city: str, at: dt.datetime) -> str:
        """Error diffusion: failures accumulate as debt and fall due at a jittered threshold near 1."""
        debt, threshold = self.debt.get((programme, city), (0.0, self.rng.uniform(0.5, 1.0)))
        debt += 1 - self.pass_rate(programme, city, at)
        verdict = "pass"
        if debt >= threshold:
            verdict, debt, threshold = "fail", debt - 1, self.rng.uniform(0.75, 1.0)
        self.debt[(programme, city)] = (debt, threshold)
        return verdict

    def _category(self, programme: str, verdict: str) -> str:
        """Categories are dealt from a shuffled deck, passes and failures separately, so that no
        category's province-wide figure dips by chance alone."""
        deck = self.decks.setdefault((programme, verdict), [])
        if not deck:
            deck.extend(self.rng.sample(self.categories[programme], len(self.categories[programme])))
        return deck.pop()

    def _items(self, programme: str, category: str, verdict: str) -> list[dict[str, Any]]:
        rng = self.rng
        if programme != AGRI:
            names = rng.sample(SPOT_ITEMS, 2)
            return [{"name": name, "value": "non-compliant" if verdict == "fail" and i == 0 else "compliant",
                     "verdict": "fail" if verdict == "fail" and i == 0 else "pass"} for i, name in enumerate(names)]
        items = []
        for i, (name, unit, limit) in enumerate(AGRI_ITEMS.get(category, AGRI_ITEMS["vegetables"])):
            failing = verdict == "fail" and i == 0
            value = limit * (rng.uniform(1.2, 4.0) if failing else rng.uniform(0.0, 0.6))
            items.append({"name": name, "value": round(value, 4), "unit": unit, "limit": limit,
                          "verdict": "fail" if failing else "pass"})
        return items

    def _acceptance(self, city: str, t: dt.datetime) -> None:
        size = self.rng.choices(("large", "medium", "small"), weights=(15, 35, 50))[0]
        # Large and medium projects (the plan's 100 % target) pass first time; a few small ones do not.
        first_time = size != "small" or self.rng.random() < 0.97
        region = self.rng.choice(COUNTIES[city]) if self.rng.random() < 0.4 else city
        self._emit(t, "acceptance.completed", f"LAB-{city[:4]}",
                   {"project_id": f"P{city[:4]}-{self.tag}-{next(self.ids):07d}", "size": size,
                    "region": region, "first_time_pass": first_time})

    def _survey(self, city: str, t: dt.datetime) -> None:
        sector = self.rng.choice(tuple(SURVEY_RANGE))
        low, high = SURVEY_RANGE[sector]
        self._emit(t, "survey.scored", PROVINCIAL_PRODUCT_LAB,
                   {"sector": sector, "region": city, "score": round(self.rng.uniform(low, high), 1),
                    "respondents": self.rng.randrange(40, 400)})

    # ---- periodic reports -------------------------------------------------------------------
    def _figure_report(self, at: dt.datetime, city: str, indicator: str, period: str) -> None:
        if (city, indicator, period) == self.skipped_report:
            return  # left overdue on purpose
        rng = self.rng
        w = CITY_WEIGHT[city]
        data: dict[str, Any] = {"indicator": indicator, "region": city, "period": period}
        match indicator:
            case "green_building_share":
                total = int(rng.uniform(40, 160) * w)
                data |= {"numerator": total, "denominator": total}
            case "three_products_share":
                total = int(rng.uniform(40_000, 120_000) * w)
                data |= {"numerator": int(total * rng.uniform(0.57, 0.66)), "denominator": total}
            case "metrology_coverage":
                total = int(rng.uniform(300, 700) * w)
                data |= {"numerator": math.ceil(total * rng.uniform(0.987, 0.998)), "denominator": total}
            case _:
                data["value"] = round(rng.uniform(88.8, 92.5), 1)
        self._emit(at, "figure.reported", PROVINCIAL_PRODUCT_LAB, data)

    def _schedule_monthly_reports(self, month: dt.datetime) -> None:
        """Each city files last month's figures on the 5th, between 09:00 and 17:00."""
        due = month.replace(day=5, hour=9)
        period = (month - dt.timedelta(days=1)).strftime("%Y-%m")
        for city in self.cities:
            for indicator in REPORTED:
                at = due + dt.timedelta(seconds=self.rng.uniform(0, 8 * 3600))
                self._figure_report(max(at, self.start + dt.timedelta(minutes=1)), city, indicator, period)

    def _schedule_catch_up_reports(self) -> None:
        """On the first day: this year's earlier monthly figures and the plan's milestone tallies."""
        local = self.start.astimezone(CST)
        month = local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        offset = itertools.count(1)
        while _add_month(month) < _month_start(local):  # last month's figures come from the monthly schedule
            for city in self.cities:
                for indicator in REPORTED:
                    self._figure_report(self.start + dt.timedelta(seconds=next(offset)), city, indicator,
                                        month.strftime("%Y-%m"))
            month = _add_month(month)
        for indicator in MILESTONES:
            spec = self.catalogue.indicator(indicator)
            if spec is not None:
                count = math.ceil(spec.target.value * self.rng.uniform(1.0, 1.15))
                self._emit(self.start + dt.timedelta(seconds=next(offset)), "milestone.reported",
                           PROVINCIAL_PRODUCT_LAB, {"indicator": indicator, "region": self.catalogue.province_code,
                                                    "count": count, "reference": "cumulative tally since plan start"})


def _month_start(at: dt.datetime) -> dt.datetime:
    return at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _add_month(month: dt.datetime, n: int = 1) -> dt.datetime:
    index = month.year * 12 + month.month - 1 + n
    return month.replace(year=index // 12, month=index % 12 + 1)
