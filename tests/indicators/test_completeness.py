"""Completeness of reported figures (pure): reported ÷ expected per indicator and period, the missing named."""

from __future__ import annotations

import datetime as dt

from services.indicators.completeness import completeness, latest_due_period, periods_within
from shared.catalogue import ExpectedReport, load_catalogue
from shared.clock import CST
from shared.settings import Settings

CATALOGUE = load_catalogue(Settings().catalogue_path)


def test_one_missing_city_report_reads_twelve_of_thirteen() -> None:
    reported = {(e.indicator, city, "2026-10") for e in CATALOGUE.expected_reports for city in CATALOGUE.city_codes
                if (e.indicator, city) != ("metrology_coverage", "320700")}
    rows = {r["indicator"]: r for r in completeness(CATALOGUE, reported, "2026-10")}
    metrology = rows["metrology_coverage"]
    assert (metrology["reported"], metrology["expected"]) == (12, 13)
    assert metrology["missing"] == [{"region": "320700", "name": "连云港市", "period": "2026-10"}]
    assert rows["three_products_share"]["value"] == 1.0


def test_a_quarter_expects_its_three_months_and_a_month_its_own() -> None:
    monthly = ExpectedReport(indicator="metrology_coverage")
    assert periods_within(monthly, "2026-Q4") == ["2026-10", "2026-11", "2026-12"]
    assert periods_within(monthly, "2026-02") == ["2026-02"]
    assert len(periods_within(monthly, "2026")) == 12


def test_the_default_period_is_the_latest_month_already_due() -> None:
    assert latest_due_period(CATALOGUE, dt.datetime(2026, 12, 6, 10, 0, tzinfo=CST)) == "2026-10"
    assert latest_due_period(CATALOGUE, dt.datetime(2026, 12, 11, 0, 0, tzinfo=CST)) == "2026-11"
