"""Provisional results and follow-ups through the real batch processor and database (SQLite, PostgreSQL):
objections within the period open a re-test, late ones are dead-lettered with the reason, figures carry
``provisional`` and answer ``basis=final``; nothing reported reads ``no_data``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from services.indicators.reader import FigureRequest
from shared.figures import Figure
from shared.followups import FollowUpInspection
from tests.indicators import factory as f
from tests.indicators.conftest import Harness

pytestmark = pytest.mark.integration
SPOT = "national-spot-check"
NSC = "national_spot_check_pass_rate"


def objection(event_id: str, sample_id: str, at: dt.datetime, *, programme: str = SPOT,
              category: str = "electronics") -> dict[str, Any]:
    return {"event_id": event_id, "type": "inspection.objected", "occurred_at": at.isoformat(), "lab_id": "LAB-0001",
            "data": {"sample_id": sample_id, "programme": programme, "category": category, "region": "320500",
                     "reason": "申请复检"}}


def spot(event_id: str, sample_id: str, verdict: str, at: dt.datetime, revision: int = 1) -> dict[str, Any]:
    return f.inspection(event_id, sample_id, verdict, programme=SPOT, category="electronics", at=at,
                        revision=revision)


def fig(h: Harness, basis: str = "all", region: str = "320500", indicator: str = NSC, window: str = "90d") -> Figure:
    spec = h.catalogue.indicator(indicator)
    assert spec is not None
    return h.reader.figures([FigureRequest(spec, window, (region,), (None,), basis)])[0]  # type: ignore[arg-type]


def test_failures_are_provisional_until_the_period_passes_and_basis_final_leaves_them_out(harness: Harness) -> None:
    now = harness.clock.now()
    old, recent = now - dt.timedelta(days=20), now - dt.timedelta(days=3)
    events = [spot(f"p{i}", f"sp{i}", "pass", recent) for i in range(40)]
    events += [spot("f-old", "s-old", "fail", old), spot("f-new1", "s-new1", "fail", recent),
               spot("f-new2", "s-new2", "fail", recent)]
    harness.processor.process([f.message(e) for e in events])
    everything, final = fig(harness), fig(harness, "final")
    assert (everything.numerator, everything.denominator, everything.provisional) == (40, 43, 2)
    assert (final.numerator, final.denominator, final.provisional, final.basis) == (40, 41, 2, "final")
    assert fig(harness, region="320000").provisional == 2  # rolls up to the province
    harness.clock.advance(dt.timedelta(days=13))  # past the 15-day period of the recent failures
    assert fig(harness).provisional == 0 and fig(harness, "final").denominator == 43


def test_each_region_counts_the_provisional_failures_under_it_and_only_those(harness: Harness) -> None:
    recent = harness.clock.now() - dt.timedelta(days=3)
    where = {"320506": 3, "320505": 1, "320500": 2, "320102": 4}  # Wuzhong, Huqiu, Suzhou itself, Xuanwu
    harness.processor.process([f.message(f.inspection(f"{code}-{n}", f"s{code}-{n}", "fail", programme=SPOT,
                                                      category="electronics", region=code, at=recent))
                               for code, count in where.items() for n in range(count)])
    spec = harness.catalogue.indicator(NSC)
    assert spec is not None
    expected = {"320506": 3, "320505": 1, "320500": 6, "320100": 4, "320102": 4, "320000": 10, "320200": 0,
                "320583": 0}
    for code, count in expected.items():  # one region per read, as the figure endpoint asks
        assert fig(harness, region=code).provisional == count, code
    together = harness.reader.figures([FigureRequest(spec, "90d", tuple(expected), (None,))])
    assert {figure.region: figure.provisional for figure in together} == expected


def test_an_objection_opens_a_retest_that_settles_it_and_a_late_one_is_dead_lettered(harness: Harness) -> None:
    now = harness.clock.now()
    inspected = now - dt.timedelta(days=30)
    harness.processor.process([f.message(e) for e in (
        [spot(f"p{i}", f"sp{i}", "pass", inspected) for i in range(40)]
        + [spot("f1", "s1", "fail", inspected), spot("f2", "s2", "fail", inspected)])])
    assert fig(harness).provisional == 0  # both periods are over
    on_time = objection("o1", "s1", inspected + dt.timedelta(days=10))
    late = objection("o2", "s2", inspected + dt.timedelta(days=16))
    result = harness.processor.process([f.message(on_time), f.message(late)])
    (dead,) = result.dead_letters
    assert dead.reason == "refused" and "objection period of 15 days ended" in dead.error
    assert fig(harness).provisional == 1  # s1 is open again until its re-test
    harness.processor.process([f.message(spot("r1", "s1", "pass", inspected + dt.timedelta(days=12), revision=2))])
    settled = fig(harness)
    assert (settled.numerator, settled.denominator, settled.provisional) == (41, 42, 0)  # the re-test overturned it


def test_a_follow_up_inspection_is_recorded_for_the_alert_it_names(harness: Harness) -> None:
    event = f.inspection("fu1", "fu-s1", "pass", region="320321")
    event["data"]["follow_up_of"] = "0123456789abcdef"
    harness.processor.process([f.message(event)])
    with harness.sessions() as session:
        (row,) = session.scalars(select(FollowUpInspection)).all()
    assert (row.alert_id, row.region, row.verdict) == ("0123456789abcdef", "320321", "pass")


def test_a_figure_with_nothing_reported_reads_no_data_never_behind_or_breach(harness: Harness) -> None:
    statuses = {(spec.id, region): fig(harness, region=region, indicator=spec.id,
                                       window=harness.catalogue.windows(spec)[0]).status
                for spec in harness.catalogue.indicators for region in ("320000", "320300")}
    assert set(statuses.values()) == {"no_data"}, statuses
