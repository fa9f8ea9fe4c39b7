"""Overdue reports: pure due-date arithmetic in CST, and the notices through the alert outbox on a real
database (SQLite and PostgreSQL): one when a report falls overdue, a reminder per repeat interval, a
resolved notice when it arrives — and nothing at all on a system that never received a report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from services.alerts.evaluate import Rule
from services.alerts.loop_models import AlertTimelineEntry
from services.alerts.models import Alert
from services.alerts.overdue import overdue
from services.indicators.models import ReportedFigure
from shared.catalogue import ExpectedReport, load_catalogue
from shared.clock import CST
from shared.settings import Settings
from tests.alerts.support import Harness, Receiver

CATALOGUE = load_catalogue(Settings().catalogue_path)
MONTHLY = (ExpectedReport(indicator="metrology_coverage", level="city", period="month", due_days=10),)
ALL_CITIES = CATALOGUE.city_codes


def reported(*periods: str, skip: tuple[str, str] | None = None) -> set[tuple[str, str, str]]:
    return {("metrology_coverage", city, period) for period in periods for city in ALL_CITIES
            if (city, period) != skip}


def test_a_month_is_overdue_from_the_start_of_the_cst_day_after_its_due_day() -> None:
    have = reported("2026-09", skip=None) | reported("2026-10", skip=("320700", "2026-10"))
    just_before = dt.datetime(2026, 11, 10, 23, 59, 59, tzinfo=CST)
    assert overdue(CATALOGUE, MONTHLY, have, just_before) == []
    (due,) = overdue(CATALOGUE, MONTHLY, have, dt.datetime(2026, 11, 10, 16, 0, tzinfo=dt.UTC))  # 11 Nov 00:00 CST
    assert (due.region, due.period, due.due_at) == ("320700", "2026-10", dt.datetime(2026, 11, 11, tzinfo=CST))


def test_nothing_is_overdue_for_an_indicator_nobody_ever_reported() -> None:
    assert overdue(CATALOGUE, MONTHLY, set(), dt.datetime(2026, 12, 6, tzinfo=CST)) == []


def test_tracking_starts_with_the_first_reported_period_across_the_year_end() -> None:
    have = reported("2026-12")
    late = dt.datetime(2027, 3, 1, tzinfo=CST)
    periods = sorted({d.period for d in overdue(CATALOGUE, MONTHLY, have, late)})
    assert periods == ["2027-01"]  # February is not due until 10 March; 2026-11 was never tracked


@pytest.fixture
def harness(db_url: str, tmp_path: Path) -> Iterator[Harness]:
    h = Harness(db_url, tmp_path)
    yield h
    h.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def _report(harness: Harness, city: str, period: str) -> None:
    now = harness.clock.now()
    with harness.rt.service.write() as session:
        session.add(ReportedFigure(indicator="metrology_coverage", region=city, period=period, numerator=99,
                                   denominator=100, value=None, occurred_at=now, reported_at=now,
                                   event_id=f"r-{city}-{period}"))


def test_a_fresh_system_with_no_data_sends_no_notification_at_all(harness: Harness, receiver: Receiver) -> None:
    for agency in ("agri", "market-supervision", "city-3207"):
        harness.subscribe(agency, receiver.url(f"/{agency}"))
    for _ in range(3):
        harness.periodic()
        harness.advance(40 * 86400)
    assert harness.deliver() == 0 and receiver.requests == []
    with harness.rt.sessions() as session:
        assert session.scalars(select(Alert)).all() == []


def test_an_overdue_city_report_notifies_agency_and_city_once_reminds_and_resolves(
        harness: Harness, receiver: Receiver) -> None:
    harness.clock.set(dt.datetime(2026, 11, 12, 9, 0, tzinfo=CST))
    harness.subscribe("market-supervision", receiver.url("/ms"))
    harness.subscribe("city-3207", receiver.url("/lyg"))
    harness.subscribe("city-3205", receiver.url("/sz"))
    for city in ALL_CITIES:
        if city != "320700":
            _report(harness, city, "2026-10")
    harness.periodic()
    harness.periodic()  # a second pass the same minute: nothing new
    harness.deliver()
    got = sorted((r.json["agency_id"], r.json["alerts"][0]["kind"], r.json["alerts"][0]["region"])
                 for r in receiver.requests)
    assert got == [("city-3207", "report_overdue", "320700"), ("market-supervision", "report_overdue", "320700")]
    receiver.requests.clear()
    harness.advance(24 * 3600)
    harness.periodic()
    harness.deliver()
    assert sorted(r.json["alerts"][0]["notice"] for r in receiver.requests) == ["reminder", "reminder"]
    receiver.requests.clear()
    _report(harness, "320700", "2026-10")
    harness.advance(60)
    harness.periodic()
    harness.deliver()
    assert sorted((r.json["status"], r.json["alerts"][0]["notice"]) for r in receiver.requests) == [
        ("resolved", "resolved"), ("resolved", "resolved")]
    with harness.rt.sessions() as session:
        kinds = [e.kind for e in session.scalars(select(AlertTimelineEntry).order_by(AlertTimelineEntry.entry_id))]
    assert kinds[0] == "report_overdue" and "report_received" in kinds


def test_reports_a_backfill_brings_within_the_wait_notify_nobody_and_one_still_missing_fires_after_it(
        db_url: str, tmp_path: Path, receiver: Receiver) -> None:
    """A new deployment loading last months' reports (or indicators catching up after an outage) sees every
    report missing at first: those that arrive within ``overdue_for_seconds`` cause no notice at all."""
    harness = Harness(db_url, tmp_path, rule=Rule(repeat_interval_seconds=24 * 3600, overdue_for_seconds=900))
    try:
        harness.clock.set(dt.datetime(2026, 11, 12, 9, 0, tzinfo=CST))
        harness.subscribe("market-supervision", receiver.url("/ms"))
        _report(harness, "320100", "2026-09")  # the backfill's first report: the other months look missing
        harness.periodic()
        assert harness.deliver() == 0
        with harness.rt.sessions() as session:
            assert {a.state for a in session.scalars(select(Alert))} == {"pending"}
        harness.advance(300)
        for city in ALL_CITIES:
            for period in ("2026-09", "2026-10"):
                if (city, period) not in (("320100", "2026-09"), ("320700", "2026-10")):
                    _report(harness, city, period)
        harness.periodic()
        harness.advance(599)
        harness.periodic()
        assert harness.deliver() == 0 and receiver.requests == []  # Lianyungang's October: 899 s missing
        harness.advance(1)
        harness.periodic()
        harness.deliver()
        assert [(r.json["alerts"][0]["region"], r.json["alerts"][0]["window"]) for r in receiver.requests] == [
            ("320700", "2026-10")]
        with harness.rt.sessions() as session:
            states = {a.region + " " + a.window: a.state for a in session.scalars(select(Alert))}
            kinds = [e.kind for e in session.scalars(select(AlertTimelineEntry))]
        assert states.pop("320700 2026-10") == "firing" and set(states.values()) == {"inactive"}
        assert kinds.count("report_overdue") == 1 and "report_received" not in kinds
    finally:
        harness.close()
