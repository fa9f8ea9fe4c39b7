"""The demo's part of the rectification loop (issue 19), on the pure generator: once a plan is in place the
drifting city's samples are follow-ups naming the alert and pass again; one city report is left overdue."""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any

from devtools.demo_data import OVERDUE_REPORT, Rectification, generate_events
from devtools.demo_loop import XUZHOU_ALERT
from shared.catalogue import load_catalogue
from shared.events import EventContext, parse_event
from shared.settings import DEFAULT_CATALOGUE

CATALOGUE = load_catalogue(DEFAULT_CATALOGUE)
LIVE = dt.datetime(2026, 12, 6, 2, 0, tzinfo=dt.UTC)
START = LIVE - dt.timedelta(days=70)


def run(rectification: Rectification | None, end: dt.datetime) -> list[dict[str, Any]]:
    return list(generate_events(random.Random(3), START, end, catalogue=CATALOGUE, live_from=LIVE,
                                rectification=rectification, leave_overdue=True))


def test_after_the_plan_the_drifting_city_sends_passing_follow_ups_naming_the_alert() -> None:
    loop = Rectification()
    loop.start(XUZHOU_ALERT, LIVE + dt.timedelta(seconds=60), follow_ups=6)
    events = run(loop, LIVE + dt.timedelta(hours=3))  # at the demo pace: some seven province days
    follow_ups = [e for e in events if e["data"].get("follow_up_of")]
    assert len(follow_ups) == 6 and loop.follow_ups == 0
    assert {e["data"]["follow_up_of"] for e in follow_ups} == {XUZHOU_ALERT}
    assert {e["data"]["region"][:4] for e in follow_ups} == {"3203"}
    assert all(e["data"]["verdict"] == "pass" for e in follow_ups)
    context = EventContext(CATALOGUE, LIVE + dt.timedelta(hours=3))
    for event in follow_ups:
        parse_event(event, context=context)


def test_one_city_report_is_left_overdue_and_every_other_is_filed() -> None:
    events = run(None, LIVE + dt.timedelta(seconds=10))
    reports = {(e["data"]["region"], e["data"]["indicator"], e["data"]["period"]) for e in events
               if e["type"] == "figure.reported"}
    assert (*OVERDUE_REPORT, "2026-10") not in reports
    assert (OVERDUE_REPORT[0], OVERDUE_REPORT[1], "2026-09") in reports
    assert all((city, OVERDUE_REPORT[1], "2026-10") in reports for city in CATALOGUE.city_codes
               if city != OVERDUE_REPORT[0])


def test_the_director_sets_a_plan_then_posts_a_campaign_that_lifts_the_figure() -> None:
    import httpx

    from devtools.demo_loop import FOLLOW_UPS, LoopDirector

    now = LIVE + dt.timedelta(minutes=10)
    alert = {"alert_id": XUZHOU_ALERT, "state": "firing", "started_at": (LIVE + dt.timedelta(minutes=5)).isoformat(),
             "numerator": 85, "denominator": 100, "target": {"op": ">=", "value": 0.97},
             "rectification": {"stage": "open"}}
    posted_plans: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posted_plans.append(json.loads(request.content))
            alert["rectification"] = {"stage": "planned"}
            return httpx.Response(200, json={})
        return httpx.Response(200, json=alert)

    batches: list[tuple[str, list[dict[str, Any]]]] = []
    loop = Rectification()
    director = LoopDirector(client=httpx.Client(transport=httpx.MockTransport(handler)), alerts_url="http://a",
                            token="t", rectification=loop, now=lambda: now, poll_interval=0,
                            post=lambda lab, events: batches.append((lab, events)))
    director.poll()  # fired 5 minutes ago: a plan
    assert posted_plans and posted_plans[0]["unit"] == "徐州市农业农村局"
    director.poll()  # the plan is in place: the campaign
    events = [e for _, batch in batches for e in batch]
    assert {lab for lab, _ in batches} == {"LAB-3203"} and loop.alert_id == XUZHOU_ALERT
    assert sum(1 for e in events if e["data"].get("follow_up_of") == XUZHOU_ALERT) == FOLLOW_UPS
    assert (85 + len(events)) / (100 + len(events)) >= 0.97
    context = EventContext(CATALOGUE, now)
    for event in events:
        parse_event(event, context=context)
