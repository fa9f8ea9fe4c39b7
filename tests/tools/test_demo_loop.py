"""The demo's part of the rectification loop (issue 19), on the pure generator: once a plan is in place the
drifting city's samples are follow-ups naming the alert and pass again; one city report is left overdue."""

from __future__ import annotations

import datetime as dt
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
    events = run(loop, LIVE + dt.timedelta(minutes=4))
    follow_ups = [e for e in events if e["data"].get("follow_up_of")]
    assert len(follow_ups) == 6 and loop.follow_ups == 0
    assert {e["data"]["follow_up_of"] for e in follow_ups} == {XUZHOU_ALERT}
    assert {e["data"]["region"][:4] for e in follow_ups} == {"3203"}
    assert all(e["data"]["verdict"] == "pass" for e in follow_ups)
    context = EventContext(CATALOGUE, LIVE + dt.timedelta(minutes=10))
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
