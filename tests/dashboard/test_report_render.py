"""The quality report's pure parts: periods, and the document built from figures and alerts."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qsl

import pytest

from services.indicators.report import collect_figures, index_figures, parse_period, render_report
from services.indicators.report_data import check_reportable
from services.indicators.report_links import link_refusal, signed_link
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
            ci: tuple[float, float] | None, status: str, n: int | None = None) -> dict[str, object]:
    spec = CATALOGUE.indicator(indicator)
    assert spec is not None
    return {"indicator": indicator, "region": region, "category": None, "window": "2026-11",
            "as_of": "2026-11-30T23:59:59+08:00", "numerator": num, "denominator": den, "value": value,
            "ci95": list(ci) if ci else None, "target": spec.target.model_dump(), "status": status,
            "sample_size": den if n is None else n, "last_event_at": None}


FIGURES = [
    _figure("agri_sampling_pass_rate", "320000", 2900, 3000, 0.9667, (0.9597, 0.9725), "at_risk"),
    _figure("agri_sampling_pass_rate", "320500", 951, 1000, 0.951, (0.9358, 0.9627), "breach"),
    _figure("agri_sampling_pass_rate", "320300", 440, 480, 0.9167, (0.888, 0.938), "breach"),
    _figure("agri_sampling_pass_rate", "320100", 990, 1000, 0.99, (0.9817, 0.9946), "ok"),
    _figure("producer_services_satisfaction", "320000", None, 120, 84.8, (84.8, 84.8), "at_risk"),
    _figure("three_products_share", "320000", 560, 1000, 0.56, (0.53, 0.59), "ok"),
    _figure("new_national_standards", "320000", 250, None, 250, None, "missed", n=0),
]
PREVIOUS = [_figure("agri_sampling_pass_rate", "320000", 2913, 3000, 0.971, (0.964, 0.977), "ok")]


def _report(alerts: list[dict[str, object]] | None, error: str | None = None, locale: str = "zh-CN") -> str:
    # The scorecard may wrap figures in rows; collect_figures finds them wherever they are.
    wrapped = {"window": "2026-11", "rows": [{"indicator": f["indicator"], "cells": [f]} for f in FIGURES]}
    figures = index_figures(collect_figures(wrapped))
    return render_report(CATALOGUE, parse_period("2026-11", CST), figures, alerts, error, generated_at=GENERATED,
                         previous=index_figures(PREVIOUS), locale=locale)


ALERT = {"alert_id": "a-1", "indicator": "agri_sampling_pass_rate", "region": "320500", "category": None,
         "window": "30d", "severity": "critical", "state": "firing", "value": 0.951, "ci95": [0.9358, 0.9627],
         "numerator": 951, "denominator": 1000, "target": {"op": ">=", "value": 0.97},
         "started_at": "2026-11-20T02:00:00.123456Z", "resolved_at": None, "agencies": ["agri", "city-3205"]}


def visible(doc: str) -> str:
    """The text a reader sees: the body without its tags."""
    return re.sub(r"<[^>]+>", " ", doc.split("<body>")[1])


def section(doc: str, indicator: str) -> str:
    part = doc[doc.index(f'<section class="indicator" id="{indicator}">'):]
    return part[:part.index("</section>")]


def test_the_official_report_heads_with_its_issuing_unit_title_plan_and_period() -> None:
    doc = _report([ALERT])
    assert '<p class="issuer">江苏省质量发展委员会办公室</p>' in doc
    assert "<h1>江苏省质量状况分析报告（2026年11月）</h1>" in doc
    assert "《江苏省质量提升行动实施方案》" in doc and "2026-11-01 至 2026-11-30" in doc
    assert "规划期：2018-01-01 至 2020-12-31" in doc and "规划期已于 2020-12-31 结束" in doc
    for spec in CATALOGUE.indicators:
        assert f'id="{spec.id}"' in doc
    text = visible(doc)
    assert "Quality status" not in text and "breach" not in text and "insufficient" not in text


def test_the_narrative_names_the_missed_targets_by_how_much_the_cities_behind_them_and_the_change() -> None:
    doc = _report([ALERT])
    overview = doc[doc.index('<section class="overview">'):doc.index("</section>")]
    assert "主要地产农产品质量抽检合格率全省为 96.7 %，低于目标 97.0 % 0.3 个百分点" in overview
    # Xuzhou is 5.3 points short on 480 results (25.6 missing passes), Suzhou 1.9 on 1000 (19): Xuzhou first.
    assert "主要拖累城市：徐州市（91.7 %，占全省差距的 57 %）、苏州市（95.1 %，占全省差距的 43 %）" in overview
    assert "较上期（2026年10月，97.1 %）下降 0.4 个百分点" in overview
    assert "规划期已于 2020-12-31 结束，1 项里程碑指标未完成：新增国家标准（累计 250 项，目标 600 项）" in overview


def test_values_sample_sizes_and_intervals_only_where_they_mean_something() -> None:
    doc = _report([ALERT])
    suzhou = re.search(r'<tr data-region="320500">.*?</tr>', section(doc, "agri_sampling_pass_rate"))
    assert suzhou is not None
    row = suzhou.group(0)
    assert "95.1 %" in row and "1,000" in row and "93.6 % – 96.3 %" in row and "status breach" in row
    assert ">未达标<" in row
    # A mean whose interval collapses to a point shows none, not "84.8 – 84.8".
    assert "84.8 – 84.8" not in doc
    # A reported share and a milestone have no sampling interval: 不适用.
    three = re.search(r'<tr data-region="320000">.*?</tr>', section(doc, "three_products_share"))
    assert three is not None and "不适用" in three.group(0) and "53.0 %" not in three.group(0)
    # A city with nothing reported reads 无数据, not 样本不足.
    wuxi = re.search(r'<tr data-region="320200">.*?</tr>', section(doc, "agri_sampling_pass_rate"))
    assert wuxi is not None and ">无数据<" in wuxi.group(0)


def test_a_city_in_breach_is_named_and_drawn_in_the_city_chart() -> None:
    doc = _report([ALERT])
    agri = section(doc, "agri_sampling_pass_rate")
    assert "未达标城市：徐州市、苏州市" in agri
    chart = re.search(r'<svg class="city-chart" data-indicator="agri_sampling_pass_rate".*?</svg>', agri)
    assert chart is not None
    svg = chart.group(0)
    assert svg.count("<rect") == 3 and 'class="bar breach" data-region="320500"' in svg and 'class="target-line"' in svg


def test_the_alerts_of_the_period_are_listed_with_severity_in_words_and_china_time() -> None:
    doc = _report([ALERT])
    alerts = visible(doc[doc.index("四、本期告警"):doc.index('<section class="notes">')].join(["<body>", ""]))
    assert "严重" in alerts and "critical" not in alerts and "苏州市" in alerts and "95.1 %" in alerts
    assert "2026-11-20 10:00" in alerts  # 02:00 UTC with microseconds, shown in China Standard Time


def test_the_english_version_is_english_throughout() -> None:
    doc = _report([ALERT], locale="en")
    assert '<html lang="en">' in doc
    assert "<h1>Jiangsu quality status report, November 2026</h1>" in doc
    assert "Office of the Jiangsu Provincial Quality Development Committee" in doc
    assert "Cities driving the shortfall: Xuzhou (91.7 %, 57 % of the province&#x27;s gap)" in doc
    assert "Critical" in doc and "Below target" in doc
    body = visible(doc)
    assert "未达标" not in body and "严重" not in body


def test_an_unreachable_alert_service_is_a_visible_note_not_a_failure() -> None:
    doc = _report(None, "ConnectError: connection refused")
    assert 'class="note alerts-unavailable"' in doc and "告警服务暂不可用" in doc
    assert "未达标城市：徐州市、苏州市" in doc


def test_names_from_outside_are_escaped() -> None:
    hostile = {**ALERT, "category": "<script>alert(1)</script>"}
    doc = _report([hostile])
    assert "<script>" not in doc and "&lt;script&gt;" in doc


def test_a_period_in_the_future_or_before_the_plan_is_not_reportable() -> None:
    now = dt.datetime(2026, 12, 6, 14, 0, tzinfo=CST)
    check_reportable(parse_period("2026-12", CST), CATALOGUE, now)  # under way: reportable, figures so far
    check_reportable(parse_period("2018-01", CST), CATALOGUE, now)
    with pytest.raises(ValueError, match="has not begun"):
        check_reportable(parse_period("2027-01", CST), CATALOGUE, now)
    with pytest.raises(ValueError, match="before the plan's start"):
        check_reportable(parse_period("2017-Q4", CST), CATALOGUE, now)


@pytest.mark.parametrize(("label", "previous"), [("2026-01", "2025-12"), ("2026-11", "2026-10"),
                                                 ("2026-Q1", "2025-Q4"), ("2026-Q3", "2026-Q2"), ("2026", "2025")])
def test_the_previous_period_is_the_one_just_before(label: str, previous: str) -> None:
    assert parse_period(label, CST).previous().label == previous


def test_a_signed_report_link_opens_only_its_own_report_until_it_expires() -> None:
    secret, expires = "s" * 32, 2_000_000_000
    url = signed_link(secret, "2026-11", "pdf", "zh-CN", expires)
    query = dict(parse_qsl(url.split("?", 1)[1]))
    assert query["period"] == "2026-11" and query["format"] == "pdf" and query["lang"] == "zh-CN"
    good = (secret, "2026-11", "pdf", "zh-CN", expires, query["sig"])
    assert link_refusal(*good, now=expires - 1) is None
    assert "expired" in str(link_refusal(*good, now=expires))
    for altered in [("other-secret" * 3, *good[1:]), (secret, "2026-10", *good[2:]),
                    (secret, "2026-11", "html", *good[3:]), (secret, "2026-11", "pdf", "en", *good[4:]),
                    (secret, "2026-11", "pdf", "zh-CN", expires + 3600, query["sig"]),
                    (secret, "2026-11", "pdf", "zh-CN", expires, "\u0080" + query["sig"][1:])]:
        assert "not valid" in str(link_refusal(*altered, now=expires - 100))


def _completeness() -> list[dict[str, object]]:
    from services.indicators.completeness import completeness
    cities = CATALOGUE.city_codes
    reported = {(e.indicator, c, "2026-11") for e in CATALOGUE.expected_reports for c in cities
                if not (e.indicator == "three_products_share" and c in ("320300", "320500"))
                and e.indicator != CATALOGUE.expected_reports[-1].indicator}
    due = [{**c, "due_on": "2026-12-10", "due": True} for c in completeness(CATALOGUE, reported, "2026-11")]
    return [*due[:-1], {**due[-1], "due": False}]  # the last one still inside its grace days


def _loop_report(locale: str, basis: str = "final") -> str:
    figures = index_figures([{**f, "provisional": 7} if (f["indicator"], f["region"]) in (
        ("agri_sampling_pass_rate", "320000"), ("agri_sampling_pass_rate", "320300")) else f for f in FIGURES])
    return render_report(CATALOGUE, parse_period("2026-11", CST), figures, [ALERT], None, generated_at=GENERATED,
                         previous=index_figures(PREVIOUS), locale=locale, completeness=_completeness(), basis=basis)


def test_the_report_says_which_figures_are_provisional_and_how_complete_the_reports_are() -> None:
    doc = _loop_report("zh-CN")
    part = doc[doc.index("五、结果确定性"):doc.index('<section class="notes">')]
    assert "本报告期已结束，合格率按已确定的结果计算" in part
    provisional = re.search(r'<table class="provisional">.*?</table>', part)
    assert provisional is not None and "农产品" in provisional.group(0) and "徐州市" in provisional.group(0)
    assert provisional.group(0).count("<tr data-indicator") == 2 and ">7<" in provisional.group(0)
    completeness = part[part.index("六、数据报送完整率"):]
    n = len(CATALOGUE.city_codes)
    row = re.search(r'<tr class="completeness-row short" data-indicator="three_products_share">.*?</tr>',
                    completeness)
    assert row is not None and f"{n - 2} / {n}" in row.group(0) and "徐州市、苏州市" in row.group(0)
    overview = visible(doc[doc.index('<section class="overview">'):doc.index("</section>")].join(["<body>", ""]))
    assert "全省共有 7 个不合格结果尚在异议期内或等待复检" in overview
    assert f"已报 {n - 2} / 应报 {n}，未报：徐州市、苏州市" in overview
    assert "本报告期尚未结束" in _loop_report("zh-CN", basis="all")
    last = CATALOGUE.expected_reports[-1].indicator
    pending = re.search(rf'<tr class="completeness-row" data-indicator="{last}">.*?</tr>', completeness)
    assert pending is not None and "未到报送期限（2026-12-10 前报送）" in pending.group(0)


def test_the_provisional_and_completeness_sections_in_english() -> None:
    doc = _loop_report("en")
    part = doc[doc.index("5. Provisional results"):doc.index('<section class="notes">')]
    assert "The period is closed: pass rates count settled results only" in part
    assert "6. Completeness of reported figures" in part and "Xuzhou, Suzhou" in part
    assert "7 failing results across the province are still provisional" in doc
    body = visible(part.join(["<body>", ""]))
    assert not re.search(r"[\u4e00-\u9fff]", body), body
