"""The dashboard in real headless Chromium, against the running stack with seeded figures.

Driven over the DevTools protocol (tests/dashboard/cdp.py): real mouse clicks, the page's console
and uncaught exceptions collected, a full-page screenshot kept at test-artifacts/dashboard.png.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from shared.catalogue import load_catalogue
from shared.settings import DEFAULT_CATALOGUE
from tests.dashboard.cdp import Browser, Page, find_chromium
from tests.dashboard.conftest import ARTIFACTS, Seeded
from tests.tooling import missing_tool

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
CATALOGUE = load_catalogue(DEFAULT_CATALOGUE)
SUZHOU_AGRI = "td.cell[data-indicator='agri_sampling_pass_rate'][data-region='320500']"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = find_chromium()
    if executable is None:
        missing_tool("no Chromium found (install the Debian package 'chromium', or set QW_CHROMIUM)")
    chromium = Browser(executable, width=1366, height=900)  # a common office laptop screen
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    tab = browser.new_page()  # a new tab: its own sessionStorage, so no token carried over
    yield tab
    tab.send("Network.clearBrowserCookies")  # the language choice is a cookie: the next test starts in Chinese


def rgb(css: str) -> tuple[int, ...]:
    return tuple(int(float(part)) for part in css[css.index("(") + 1:css.index(")")].split(",")[:3])


def test_without_a_token_the_page_asks_for_an_api_key(seeded: Seeded, page: Page) -> None:
    page.goto(f"{seeded.indicators_url}/")
    page.wait_for("document.getElementById('auth') && !document.getElementById('auth').hidden",
                  what="the API key form")
    assert page.evaluate("document.getElementById('api-key').type") == "password"
    assert page.evaluate("document.getElementById('main').hidden") is True
    assert page.errors() == []


def test_a_refused_key_brings_the_form_back_with_a_reason(seeded: Seeded, page: Page) -> None:
    page.goto(f"{seeded.indicators_url}/#token=qw_not-a-real-key")
    page.wait_for("!document.getElementById('auth').hidden", what="the API key form")
    assert "401" in page.evaluate("document.getElementById('auth-message').textContent")
    # The browser logs the refused request itself; that is the only thing it may log.
    assert all("401" in error for error in page.errors()), page.errors()



def open_dashboard(seeded: Seeded, page: Page, fragment: str = "") -> None:
    page.goto(f"{seeded.indicators_url}/#token={seeded.agency_key}{fragment}")
    page.wait_for(f"document.querySelector(\"{SUZHOU_AGRI}\").dataset.status === 'breach'",
                  what="Suzhou's agricultural pass rate in breach")


def cst(instant: str) -> str:
    """An RFC 3339 instant as the page shows it: China Standard Time to the minute."""
    parsed = dt.datetime.fromisoformat(instant.replace("Z", "+00:00"))
    return parsed.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")


def test_the_scorecard_shows_every_indicator_for_the_province_and_thirteen_cities_in_chinese(
        seeded: Seeded, firing_suzhou_alert: dict[str, Any], page: Page) -> None:
    open_dashboard(seeded, page)
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    columns = page.evaluate("[...document.querySelectorAll('#scorecard thead th.region')].map(th => th.innerText)")
    expected = [CATALOGUE.regions.province.name] + [CATALOGUE.regions.cities[c].name for c in CATALOGUE.city_codes]
    assert columns == expected and len(columns) == 14
    rows = page.evaluate("[...document.querySelectorAll('#scorecard tbody tr')].map(tr => tr.dataset.indicator)")
    assert rows == [spec.id for spec in CATALOGUE.indicators]
    city_wide = [spec for spec in CATALOGUE.indicators if spec.scope == "all"]
    province_only = [spec for spec in CATALOGUE.indicators if spec.scope == "province"]
    assert page.evaluate("document.querySelectorAll('#scorecard tbody td.cell').length") == \
        14 * len(city_wide) + len(province_only)
    # A province-only row (milestones) is one cell across the row, saying so once.
    milestone = province_only[0].id
    assert page.evaluate(f"document.querySelector(\"td.cell[data-indicator='{milestone}']\").colSpan") == 14
    row_text = page.evaluate(f"document.querySelector(\"tr[data-indicator='{milestone}']\").innerText")
    assert "全省指标，不分市考核" in row_text

    # Suzhou: 180 of 200 passed — red, with its value, verdict in words, n and interval on the cell.
    red, green, blue = rgb(page.evaluate(f"getComputedStyle(document.querySelector(\"{SUZHOU_AGRI}\"))"
                                         ".backgroundColor"))
    assert red > 180 and green < 90 and blue < 90, (red, green, blue)
    text = page.evaluate(f"document.querySelector(\"{SUZHOU_AGRI}\").innerText")
    assert "90.0%" in text and "未达标" in text and "n=200" in text and "85.1–93.4" in text, text
    # Chinese only: no English words on the labels, the legend or the cells.
    legend = page.evaluate("document.getElementById('legend').innerText")
    assert "达标" in legend and "样本不足" in legend and "置信区间" in legend
    main_text = page.evaluate("document.querySelector('header').innerText + document.getElementById('main').innerText")
    for english in ("breach", "insufficient", "updated", "Window", "Firing", "critical", "target"):
        assert english not in main_text, english

    # All 13 cities readable at 1366 px: nothing scrolls sideways.
    assert page.evaluate("window.innerWidth") == 1366
    assert page.evaluate("(() => { const b = document.querySelector('.grid-box');"
                         " return b.scrollWidth <= b.clientWidth; })()")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # The token left the address bar; the plan period is shown, and that it is over.
    assert "token" not in page.evaluate("location.href")
    subtitle = page.evaluate("document.getElementById('plan-subtitle').innerText")
    assert f"规划期 {CATALOGUE.plan.start} 至 {CATALOGUE.plan.deadline}" in subtitle and "规划期已结束" in subtitle

    # The firing alert: severity in words, its start in China Standard Time (labelled), not acknowledged yet.
    page.wait_for("document.querySelector('#alerts li')", what="the firing alerts list")
    alerts = page.evaluate("document.getElementById('alerts').innerText")
    assert "苏州市" in alerts and "严重" in alerts and "critical" not in alerts
    assert f"始于 {cst(firing_suzhou_alert['started_at'])} (北京时间)" in alerts, alerts
    assert "未确认" in alerts
    assert page.evaluate(f"!!document.querySelector(\"{SUZHOU_AGRI} .flag\")")

    # Clicking the cell draws its 90-day trend with the target line and the interval band.
    page.click(f"{SUZHOU_AGRI} button")
    page.wait_for("document.querySelector('#trend svg .value-line')", what="the trend chart")
    assert page.evaluate("document.querySelector('#trend svg .target-line').dataset.value") == "0.97"
    assert "苏州市" in page.evaluate("document.getElementById('trend-title').innerText")
    assert "cell=agri_sampling_pass_rate:320500" in page.evaluate("location.hash")
    page.screenshot(ARTIFACTS / "dashboard.png")
    assert page.errors() == []


def test_an_acknowledged_alert_says_who_acknowledged_it_and_when_in_china_time(
        seeded: Seeded, firing_suzhou_alert: dict[str, Any], page: Page) -> None:
    with seeded.stack.client("alerts", seeded.agency_key) as client:
        answer = client.post(f"/v1/alerts/{firing_suzhou_alert['alert_id']}/ack", json={"comment": "已派员核查"})
        assert answer.status_code in (200, 201), answer.text
        acked = next(a for a in client.get("/v1/alerts", params={"state": "firing"}).json()["alerts"]
                     if a["alert_id"] == firing_suzhou_alert["alert_id"])
    open_dashboard(seeded, page)
    page.wait_for("document.querySelector('#alerts .ack.acked')", what="the acknowledgement")
    ack = page.evaluate("document.querySelector('#alerts .ack.acked').innerText")
    at = (acked.get("acks") or [{}])[-1].get("at") or acked["acked_at"]
    assert ack.startswith("已确认：") and f"{cst(at)} (北京时间)" in ack and "已派员核查" in ack, ack


def test_each_indicator_is_shown_at_its_judged_window_until_the_selector_overrides_it(seeded: Seeded,
                                                                                        page: Page) -> None:
    open_dashboard(seeded, page)
    assert page.evaluate("document.getElementById('window').value") == "judged"
    assert page.evaluate("document.getElementById('window').selectedOptions[0].text") == "按考核口径"
    for spec in CATALOGUE.indicators:
        judged = "plan" if spec.kind == "milestone" else CATALOGUE.windows(spec)[0]
        row = f"tr[data-indicator='{spec.id}']"
        assert page.evaluate(f"document.querySelector(\"{row} td.judged\").dataset.judged") == judged
        cell = page.evaluate(f"document.querySelector(\"{row} td.cell[data-region='320000']\").dataset.window")
        assert cell == judged, (spec.id, cell)
    assert page.evaluate("document.querySelector(\"tr[data-indicator='sampling_coverage'] td.judged\").innerText") \
        == "年初至今"
    # The selector overrides: 7 days for every indicator it applies to, and the judged column says so.
    page.evaluate("(() => { const s = document.getElementById('window'); s.value = '7d';"
                  " s.dispatchEvent(new Event('change')); })()")
    page.wait_for(f"document.querySelector(\"{SUZHOU_AGRI}\").dataset.window === '7d'", what="the 7-day scorecard")
    judged = page.evaluate("document.querySelector(\"tr[data-indicator='agri_sampling_pass_rate'] td.judged\")"
                           ".innerText")
    assert "近30天" in judged and "当前显示：近7天" in judged
    assert "window=7d" in page.evaluate("location.hash")
    assert page.errors() == []


def test_the_language_toggle_switches_to_english_and_is_remembered(seeded: Seeded, browser: Browser,
                                                                    page: Page) -> None:
    open_dashboard(seeded, page)
    assert page.evaluate("document.getElementById('lang-toggle').innerText") == "English"
    page.click("#lang-toggle")
    page.wait_for("document.documentElement.lang === 'en' && document.querySelector("
                  f"\"{SUZHOU_AGRI}\").dataset.status === 'breach'", what="the English dashboard")
    assert "qw_lang=en" in page.evaluate("document.cookie")
    text = page.evaluate(f"document.querySelector(\"{SUZHOU_AGRI}\").innerText")
    assert "Below target" in text and "未达标" not in text
    columns = page.evaluate("[...document.querySelectorAll('#scorecard thead th.region')].map(th => th.innerText)")
    assert columns[:2] == ["Jiangsu", "Nanjing"]
    updated = page.evaluate("document.getElementById('updated').innerText")
    assert "Refreshed" in updated and "China Standard Time" in updated and "刷新" not in updated
    assert page.evaluate("document.getElementById('window').selectedOptions[0].text") == "As judged"
    page.screenshot(ARTIFACTS / "dashboard-en.png")
    # Remembered: a new tab opens in English.
    other = browser.new_page()
    other.goto(f"{seeded.indicators_url}/#token={seeded.agency_key}")
    other.wait_for("document.documentElement.lang === 'en' && document.getElementById('lang-toggle').innerText"
                   " === '中文' && document.body.dataset.rendered === '1'", what="English remembered in a new tab")
    other.click("#lang-toggle")
    other.wait_for("document.documentElement.lang === 'zh-CN'", what="back to Chinese")
    assert page.errors() == [] and other.errors() == []


def test_clicking_a_city_shows_its_counties(seeded: Seeded, page: Page) -> None:
    open_dashboard(seeded, page)
    page.click("#scorecard thead th[data-region='320500'] button")
    page.wait_for("document.querySelector('#counties td.cell[data-region=\"320583\"]')", what="Suzhou's counties")
    assert "苏州市" in page.evaluate("document.getElementById('counties-title').innerText")
    counties = page.evaluate("[...document.querySelectorAll('#counties thead th.region')].map(th => th.dataset.region)")
    assert {"320583", "320506"} <= set(counties) and all(code.startswith("3205") for code in counties)
    kunshan = page.evaluate("document.querySelector(\"#counties td.cell[data-indicator='agri_sampling_pass_rate']"
                            "[data-region='320583']\").innerText")
    assert "n=100" in kunshan, kunshan  # half of Suzhou's 200 results were sent from 昆山市
    assert "county=320500" in page.evaluate("location.hash")
    page.click("#counties-close")
    page.wait_for("document.getElementById('counties').hidden", what="the counties panel closed")
    assert page.errors() == []


def test_the_report_link_opens_the_report_in_a_browser_without_a_token(seeded: Seeded, browser: Browser,
                                                                       page: Page) -> None:
    open_dashboard(seeded, page)
    year, month = seeded.period.split("-")
    label = page.evaluate("document.getElementById('report-label').innerText")
    assert label == f"本期质量报告（{year}年{int(month)}月）", label
    page.click("#report-html")
    url = page.wait_for("document.getElementById('report-links').dataset.lastUrl", what="the signed report link")
    assert url.startswith("/reports/quality?") and "sig=" in url and "token" not in url
    reader = browser.new_page()  # a fresh tab: no key in it
    reader.goto(f"{seeded.indicators_url}{url}")
    reader.wait_for("document.querySelector('h1')", what="the report")
    title = reader.evaluate("document.querySelector('h1').innerText")
    assert title == f"江苏省质量状况分析报告（{year}年{int(month)}月）"
    assert "江苏省质量发展委员会办公室" in reader.evaluate("document.querySelector('.issuer').innerText")
    assert reader.errors() == [] and page.errors() == []


def test_an_alert_with_a_rectification_plan_shows_the_plan_and_its_timeline_in_china_time(
        seeded: Seeded, firing_suzhou_alert: dict[str, Any], page: Page) -> None:
    alert_id = firing_suzhou_alert["alert_id"]
    # A deadline given in UTC: the page shows it in China Standard Time.
    deadline = (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).replace(hour=1, minute=30, second=0, microsecond=0)
    with seeded.stack.client("alerts", seeded.agency_key) as client:
        answer = client.post(f"/v1/alerts/{alert_id}/rectification",
                             json={"unit": "苏州市农业农村局", "deadline": deadline.isoformat(),
                                   "comment": "停售并复查"})
        assert answer.status_code in (200, 201), answer.text
        entries = client.get(f"/v1/alerts/{alert_id}/timeline").json()["entries"]
    plan_set = next(e for e in entries if e["kind"] == "plan_set")
    fired = next(e for e in entries if e["kind"] == "fired")
    box = f"#alerts .loop[data-alert='{alert_id}']"
    open_dashboard(seeded, page)
    page.wait_for(f"document.querySelector(\"{box} .loop-plan-line\")", what="the rectification plan")
    stage = page.evaluate(f"document.querySelector(\"{box} .rectification\").innerText")
    assert stage == "整改：整改中", stage
    plan = page.evaluate(f"document.querySelector(\"{box} .loop-plan-line\").innerText")
    assert plan == f"整改计划：苏州市农业农村局，期限 {cst(deadline.isoformat())} (北京时间) — 停售并复查", plan
    page.click(f"{box} .loop-timeline-toggle")
    page.wait_for(f"document.querySelector(\"{box} .loop-timeline li[data-kind='plan_set']\")",
                  what="the plan in the timeline")
    lines = page.evaluate(f"[...document.querySelectorAll(\"{box} .loop-timeline li\")].map(li => li.innerText)")
    assert lines[0].startswith(f"{cst(fired['at'])} (北京时间) 告警开始"), lines
    assert any(line.startswith(f"{cst(plan_set['at'])} (北京时间) 设定整改计划 — 整改计划：苏州市农业农村局")
               for line in lines), lines
    # The panel re-renders every refresh; the open timeline stays open.
    page.evaluate("new Promise(r => setTimeout(r, 11000))")
    assert page.evaluate(f"document.querySelector(\"{box} .loop-timeline\").hidden") is False
    text = page.evaluate("document.getElementById('alerts').innerText")
    assert "rectification" not in text.lower() and "timeline" not in text.lower(), text
    assert page.errors() == []
