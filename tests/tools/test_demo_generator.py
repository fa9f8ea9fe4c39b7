import datetime as dt
import random
from collections import Counter, defaultdict
from typing import Any

import pytest

from devtools.demo_data import AGENCY_STATEMENTS, AGRI, SPOT, Drift, generate_events, lab_ids, wilson_interval
from shared.catalogue import load_catalogue
from shared.events import EVENT_TYPES, EventContext, parse_event
from shared.settings import DEFAULT_CATALOGUE

CATALOGUE = load_catalogue(DEFAULT_CATALOGUE)
LIVE = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)
START = LIVE - dt.timedelta(days=30)
END = LIVE + dt.timedelta(minutes=5)  # five minutes of live feed at the default 20 events/s


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
    # Labs post their results; reported figures, surveys and milestones come from the indicator's agency.
    assert {e["lab_id"] for e in events if e["type"] not in AGENCY_STATEMENTS} <= set(lab_ids())
    assert {e["lab_id"] for e in events if e["type"] in AGENCY_STATEMENTS} <= set(CATALOGUE.agencies)


def test_the_drifting_city_is_at_risk_after_the_backfill_and_in_breach_within_five_minutes_of_live() -> None:
    for seed in (1, 2, 3):
        events = generate(seed)
        passes, total = pass_rates(events, AGRI, LIVE)[Drift().city]
        assert total >= 30 and passes / total < 0.97, f"seed {seed}: {passes}/{total}"
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


def test_live_activity_runs_at_about_the_requested_rate() -> None:
    events = list(generate_events(random.Random(1), LIVE - dt.timedelta(minutes=10), LIVE + dt.timedelta(minutes=10),
                                  catalogue=CATALOGUE, live_from=LIVE - dt.timedelta(minutes=10), live_rate=20.0))
    steady = [e for e in events if at(e) >= LIVE]
    assert 17 <= len(steady) / 600 <= 23
