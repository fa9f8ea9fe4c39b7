import datetime as dt
import random
from collections import Counter, defaultdict
from typing import Any

import pytest

from devtools.demo_data import (
    AGRI,
    CST,
    SPOT,
    Drift,
    activity,
    generate_events,
    lab_ids,
    wilson_interval,
    working_start,
)
from shared.catalogue import load_catalogue
from shared.events import EVENT_TYPES, EventContext, parse_event
from shared.settings import DEFAULT_CATALOGUE

CATALOGUE = load_catalogue(DEFAULT_CATALOGUE)
LIVE = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)
START = LIVE - dt.timedelta(days=30)
END = LIVE + dt.timedelta(hours=1)  # an hour of live feed: two and a half province days at the default speed


def generate(seed: int = 1, end: dt.datetime = END) -> list[dict[str, Any]]:
    return list(generate_events(random.Random(seed), START, end, catalogue=CATALOGUE, live_from=LIVE))


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    return generate()


def at(event: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(event["occurred_at"])


def pass_rates(events: list[dict[str, Any]], programme: str, when: dt.datetime) -> dict[str, tuple[int, int]]:
    """(passes, total) per city over the 30 days before ``when``, the latest revision of each sample counting."""
    latest: dict[str, tuple[int, str, str]] = {}
    for e in events:
        data = e["data"]
        if e["type"] != "inspection.completed" or data["programme"] != programme:
            continue
        if not when - dt.timedelta(days=30) <= at(e) <= when:
            continue
        revision = data.get("revision", 1)
        if data["sample_id"] not in latest or revision >= latest[data["sample_id"]][0]:
            latest[data["sample_id"]] = (revision, data["region"][:4] + "00", data["verdict"])
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for _, city, verdict in latest.values():
        for region in (city, CATALOGUE.province_code):
            out[region][0] += verdict == "pass"
            out[region][1] += 1
    return {region: (p, n) for region, (p, n) in out.items()}


def test_every_generated_event_validates_against_the_catalogue(events: list[dict[str, Any]]) -> None:
    context = EventContext(CATALOGUE, END)
    for event in events:
        parse_event(event, context=context)


def test_all_six_event_types_are_generated(events: list[dict[str, Any]]) -> None:
    assert set(Counter(e["type"] for e in events)) == set(EVENT_TYPES)


def test_events_come_oldest_first_within_the_requested_span_with_unique_ids(events: list[dict[str, Any]]) -> None:
    times = [at(e) for e in events]
    assert times == sorted(times)
    assert times[0] >= START and times[-1] < END
    assert len({e["event_id"] for e in events}) == len(events)
    assert {e["lab_id"] for e in events} <= set(lab_ids())


def test_the_drifting_city_is_at_risk_after_the_backfill_and_in_breach_within_an_hour_of_live() -> None:
    for seed in (1, 2, 3):
        events = generate(seed)
        passes, total = pass_rates(events, AGRI, LIVE)[Drift().city]
        assert total >= 30 and passes / total < 0.97 <= wilson_interval(passes, total)[1], \
            f"seed {seed}: {passes}/{total} is not at risk when the backfill lands"
        passes, total = pass_rates(events, AGRI, END)[Drift().city]
        assert wilson_interval(passes, total)[1] < 0.97, f"seed {seed}: {passes}/{total} is not yet a breach"


def test_every_other_city_and_the_province_stay_on_target(events: list[dict[str, Any]]) -> None:
    for when in (LIVE, END):
        agri = pass_rates(events, AGRI, when)
        spot = pass_rates(events, SPOT, when)
        for city in CATALOGUE.city_codes:
            if city != Drift().city:
                assert agri[city][0] / agri[city][1] >= 0.97, (city, agri[city])
            assert spot[city][0] / spot[city][1] >= 0.90, (city, spot[city])
        assert agri["320000"][0] / agri["320000"][1] >= 0.97
        spot_rate = spot["320000"][0] / spot["320000"][1]
        assert 0.91 <= spot_rate <= 0.95


def test_volumes_follow_city_size(events: list[dict[str, Any]]) -> None:
    backfill = [e for e in events if e["type"] == "sample.collected" and at(e) < LIVE]
    per_city = Counter(e["data"]["region"][:4] for e in backfill)
    assert per_city["3205"] > per_city["3211"]  # Suzhou samples more than Zhenjiang
    assert per_city["3211"] >= 50 and per_city["3205"] <= 400


def test_some_inspections_are_revised_with_the_other_verdict(events: list[dict[str, Any]]) -> None:
    verdicts: dict[str, dict[int, str]] = defaultdict(dict)
    for e in events:
        if e["type"] == "inspection.completed":
            verdicts[e["data"]["sample_id"]][e["data"].get("revision", 1)] = e["data"]["verdict"]
    flipped = [s for s, v in verdicts.items() if 2 in v and v[1] != v[2]]
    assert len(flipped) >= 5


def test_large_and_medium_projects_pass_acceptance_first_time(events: list[dict[str, Any]]) -> None:
    acceptances = [e["data"] for e in events if e["type"] == "acceptance.completed"]
    assert {a["size"] for a in acceptances} == {"large", "medium", "small"}
    assert all(a["first_time_pass"] for a in acceptances if a["size"] != "small")


def test_reported_figures_surveys_and_milestones_meet_their_targets(events: list[dict[str, Any]]) -> None:
    reported = [e["data"] for e in events if e["type"] == "figure.reported"]
    assert {r["indicator"] for r in reported} == {"green_building_share", "three_products_share",
                                                   "metrology_coverage", "manufacturing_quality_index"}
    for r in reported:
        target = CATALOGUE.indicator(r["indicator"]).target
        value = r["value"] if "value" in r else r["numerator"] / r["denominator"]
        assert target.met_by(value), r
    # monthly: every city reports October 2026 (due 5 November) for each indicator
    october = {(r["region"], r["indicator"]) for r in reported if r["period"] == "2026-10"}
    assert len(october) == 13 * 4
    for e in events:
        if e["type"] == "survey.scored":
            sector = e["data"]["sector"]
            spec = next(s for s in CATALOGUE.indicators if s.survey_sector == sector)
            assert spec.target.met_by(e["data"]["score"])
    assert any(e["type"] == "milestone.reported" for e in events)


def test_the_generator_is_deterministic_for_a_seed() -> None:
    short_end = START + dt.timedelta(days=3)
    assert generate(7, short_end) == generate(7, short_end)
    assert generate(7, short_end) != generate(8, short_end)


def test_the_drift_is_in_the_history_not_only_in_the_live_feed(events: list[dict[str, Any]]) -> None:
    week_before = pass_rates(events, AGRI, LIVE - dt.timedelta(days=7))[Drift().city]
    month_before = pass_rates(events, AGRI, LIVE - dt.timedelta(days=21))[Drift().city]
    assert month_before[0] / month_before[1] >= 0.975 > week_before[0] / week_before[1]


def test_history_follows_the_working_day_with_a_lunch_dip_and_quiet_nights_and_weekends(
        events: list[dict[str, Any]]) -> None:
    collected = [at(e).astimezone(CST) for e in events if e["type"] == "sample.collected" and at(e) < LIVE]
    weekday = Counter(t.hour for t in collected if t.weekday() < 5)
    weekend = Counter(t.hour for t in collected if t.weekday() >= 5)
    morning, lunch, afternoon = weekday[10], weekday[12], weekday[15]
    night = sum(weekday[h] for h in range(0, 6))
    assert lunch < morning / 2 and lunch < afternoon / 2
    assert night < morning / 5
    weekdays, weekend_days = 22, 8  # in the 30 days before 28 November 2026 (a Saturday)
    assert sum(weekend.values()) / weekend_days < sum(weekday.values()) / weekdays / 3


def test_an_hour_of_live_feed_adds_a_few_days_of_activity_and_never_swamps_the_history() -> None:
    start = LIVE - dt.timedelta(days=7)
    events = list(generate_events(random.Random(1), start, LIVE + dt.timedelta(hours=1), catalogue=CATALOGUE,
                                  live_from=LIVE, speed=60))
    history = sum(1 for e in events if at(e) < LIVE)
    live = sum(1 for e in events if at(e) >= LIVE)
    assert 1.5 <= live / (history / 7) <= 4  # 2.5 province days in an hour at speed 60
    assert live / 3600 < 1  # not 20 events a second
    assert not any(e["type"] == "figure.reported" for e in events if at(e) >= LIVE)  # reported monthly, on the 5th


def test_the_live_day_starts_at_the_next_working_morning_outside_working_hours() -> None:
    saturday = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)  # 10:00 CST on a Saturday
    assert working_start(saturday).astimezone(CST) == dt.datetime(2026, 11, 30, 8, 30, tzinfo=CST)
    wednesday = dt.datetime(2026, 12, 2, 6, 19, tzinfo=dt.UTC)  # 14:19 CST
    assert working_start(wednesday) == wednesday
    evening = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)  # 20:00 CST
    assert working_start(evening).astimezone(CST) == dt.datetime(2026, 12, 3, 8, 30, tzinfo=CST)
    assert 0.99 < sum(activity(saturday + dt.timedelta(minutes=10 * i)) for i in range(6 * 24 * 7)) / (6 * 24 * 7) \
        < 1.01  # the weekly mean is 1: daily volumes stay realistic
