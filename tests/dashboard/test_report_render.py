"""The quality report's pure parts: periods, and the document built from figures and alerts."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from services.indicators.report import collect_figures, index_figures, parse_period, render_report
from shared.catalogue import load_catalogue
from shared.settings import DEFAULT_CATALOGUE

CST = dt.timezone(dt.timedelta(hours=8))
CATALOGUE = load_catalogue(DEFAULT_CATALOGUE)
GENERATED = dt.datetime(2026, 12, 1, 9, 0, tzinfo=CST)


@pytest.mark.parametrize(("text", "start", "end"), [
    ("2026-11", dt.datetime(2026, 11, 1, tzinfo=CST), dt.datetime(2026, 12, 1, tzinfo=CST)),
    ("2026-12", dt.datetime(2026, 12, 1, tzinfo=CST), dt.datetime(2027, 1, 1, tzinfo=CST)),
    ("2026-Q4", dt.datetime(2026, 10, 1, tzinfo=CST), dt.datetime(2027, 1, 1, tzinfo=CST)),
    ("2026-Q1", dt.datetime(2026, 1, 1, tzinfo=CST), dt.datetime(2026, 4, 1, tzinfo=CST)),
    ("2026", dt.datetime(2026, 1, 1, tzinfo=CST), dt.datetime(2027, 1, 1, tzinfo=CST)),
])
def test_a_period_is_a_month_a_quarter_or_a_year_in_plan_time(text: str, start: dt.datetime,
                                                                 end: dt.datetime) -> None:
    period = parse_period(text, CST)
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize("text", ["2026-13", "2026-Q5", "26-11", "2026-11-01", "november", ""])
def test_a_malformed_period_is_refused_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a month \(2026-11\), a quarter \(2026-Q4\) or a year"):
        parse_period(text, CST)


def _figure(indicator: str, region: str, num: int | None, den: int | None, value: float | None,
            ci: tuple[float, float] | None, status: str) -> dict[str, object]:
    spec = CATALOGUE.indicator(indicator)
    assert spec is not None
    return {"indicator": indicator, "region": region, "category": None, "window": "2026-11",
            "as_of": "2026-11-30T23:59:59+08:00", "numerator": num, "denominator": den, "value": value,
            "ci95": list(ci) if ci else None, "target": spec.target.model_dump(), "status": status,
            "last_event_at": None}


FIGURES = [
    _figure("agri_sampling_pass_rate", "320000", 2900, 3000, 0.9667, (0.9597, 0.9725), "at_risk"),
    _figure("agri_sampling_pass_rate", "320500", 951, 1000, 0.951, (0.9358, 0.9627), "breach"),
    _figure("agri_sampling_pass_rate", "320100", 990, 1000, 0.99, (0.9817, 0.9946), "ok"),
    _figure("producer_services_satisfaction", "320000", None, 120, 86.5, None, "ok"),
    _figure("new_national_standards", "320000", 250, None, 250, None, "behind"),
]


def _report(alerts: list[dict[str, object]] | None, error: str | None = None) -> str:
    # The scorecard may wrap figures in rows; collect_figures finds them wherever they are.
    wrapped = {"window": "2026-11", "rows": [{"indicator": f["indicator"], "cells": [f]} for f in FIGURES]}
    figures = index_figures(collect_figures(wrapped))
    return render_report(CATALOGUE, parse_period("2026-11", CST), figures, alerts, error, generated_at=GENERATED)


ALERT = {"alert_id": "a-1", "indicator": "agri_sampling_pass_rate", "region": "320500", "category": None,
         "window": "30d", "severity": "critical", "state": "firing", "value": 0.951, "ci95": [0.9358, 0.9627],
         "numerator": 951, "denominator": 1000, "target": {"op": ">=", "value": 0.97},
         "started_at": "2026-11-20T10:00:00+08:00", "resolved_at": None, "agencies": ["agri", "city-3205"]}


def test_the_report_names_plan_period_and_each_indicator_against_its_target() -> None:
    doc = _report([ALERT])
    assert "江苏省质量状况分析报告（2026年11月）" in doc
    assert "江苏省质量提升行动实施方案" in doc and "2026-11-01 – 2026-11-30" in doc
    for spec in CATALOGUE.indicators:
        assert f'id="{spec.id}"' in doc
    assert "目标 target ≥ 97.0 %" in doc
    assert "目标 target ≥ 600 by 2020-12-31" in doc


def test_the_report_shows_values_sample_sizes_and_intervals() -> None:
    doc = _report([ALERT])
    suzhou = re.search(r'<tr data-region="320500">.*?</tr>', doc[doc.index('id="agri_sampling_pass_rate"'):])
    assert suzhou is not None
    row = suzhou.group(0)
    assert "95.1 %" in row and "1,000" in row and "93.6 % – 96.3 %" in row and "status breach" in row
    assert "全省 Province: <strong>96.7 %</strong> (n = 3,000, 95 % CI 96.0 % – 97.2 %)" in doc
    assert "<strong>86.5</strong> (n = 120" in doc


def test_a_city_in_breach_is_named_and_drawn_in_the_city_chart() -> None:
    doc = _report([ALERT])
    assert "Cities in breach: 苏州市 (Suzhou)" in doc
    chart = re.search(r'<svg class="city-chart" data-indicator="agri_sampling_pass_rate".*?</svg>', doc)
    assert chart is not None
    svg = chart.group(0)
    assert svg.count("<rect") == 2  # Suzhou and Nanjing have figures; the other cities say n/a
    assert 'class="bar breach" data-region="320500"' in svg and 'class="target-line"' in svg


def test_the_alerts_of_the_period_are_listed() -> None:
    doc = _report([ALERT])
    alerts = doc[doc.index("Alerts of the period"):]
    assert "critical" in alerts and "苏州市" in alerts and "95.1 %" in alerts and "2026-11-20T10:00:00+08:00" in alerts


def test_an_unreachable_alert_service_is_a_visible_note_not_a_failure() -> None:
    doc = _report(None, "ConnectError: connection refused")
    assert 'class="note alerts-unavailable"' in doc and "could not be reached" in doc
    assert "Cities in breach: 苏州市" in doc


def test_names_from_outside_are_escaped() -> None:
    hostile = {**ALERT, "window": "<script>alert(1)</script>"}
    doc = _report([hostile])
    assert "<script>" not in doc and "&lt;script&gt;" in doc
