"""The dashboard in real headless Chromium, against the running stack with seeded figures.

Driven over the DevTools protocol (tests/dashboard/cdp.py): real mouse clicks, the page's console
and uncaught exceptions collected, a full-page screenshot kept at test-artifacts/dashboard.png.
"""

from __future__ import annotations

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
    chromium = Browser(executable, width=1600, height=1000)
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Page:
    return browser.new_page()  # a new tab: its own sessionStorage, so no token carried over


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


def test_the_scorecard_shows_every_indicator_for_the_province_and_thirteen_cities(
        seeded: Seeded, firing_suzhou_alert: dict[str, Any], page: Page) -> None:
    page.goto(f"{seeded.indicators_url}/#token={seeded.agency_key}")
    page.wait_for(f"document.querySelector(\"{SUZHOU_AGRI}\").dataset.status === 'breach'",
                  what="Suzhou's agricultural pass rate in breach")

    columns = page.evaluate("[...document.querySelectorAll('#scorecard thead th.region')]"
                            ".map(th => th.firstChild.textContent)")
    expected = [CATALOGUE.regions.province.name] + [CATALOGUE.regions.cities[c].name for c in CATALOGUE.city_codes]
    assert columns == expected and len(columns) == 14
    rows = page.evaluate("[...document.querySelectorAll('#scorecard tbody tr')].map(tr => tr.dataset.indicator)")
    assert rows == [spec.id for spec in CATALOGUE.indicators]
    assert page.evaluate("document.querySelectorAll('#scorecard tbody td.cell').length") == 14 * len(rows)
    assert "主要地产农产品质量抽检合格率" in page.evaluate("document.querySelector('#scorecard tbody tr').innerText")

    # Suzhou: 180 of 200 passed — red, with its value, n and interval on the cell.
    red, green, blue = rgb(page.evaluate(f"getComputedStyle(document.querySelector(\"{SUZHOU_AGRI}\"))"
                                         ".backgroundColor"))
    assert red > 180 and green < 90 and blue < 90, (red, green, blue)
    text = page.evaluate(f"document.querySelector(\"{SUZHOU_AGRI}\").innerText")
    assert "90.0%" in text and "n=200" in text and "85.1%–93.4%" in text, text
    nanjing = "td.cell[data-indicator='agri_sampling_pass_rate'][data-region='320100']"
    assert page.evaluate(f"document.querySelector(\"{nanjing}\").dataset.status") == "ok"

    # The token left the address bar; the page says when it last refreshed.
    assert "token" not in page.evaluate("location.href")
    assert "更新 updated" in page.evaluate("document.getElementById('updated').textContent")

    # The firing alert from the alert service is listed and flags its cell.
    page.wait_for("document.querySelector('#alerts li')", what="the firing alerts list")
    assert "苏州市" in page.evaluate("document.getElementById('alerts').innerText")
    assert page.evaluate(f"!!document.querySelector(\"{SUZHOU_AGRI} .flag\")")

    # Clicking the cell draws its 90-day trend with the target line and the interval band.
    page.click(f"{SUZHOU_AGRI} button")
    page.wait_for("document.querySelector('#trend svg .value-line')", what="the trend chart")
    assert page.evaluate("document.querySelector('#trend svg .target-line').dataset.value") == "0.97"
    assert page.evaluate("document.querySelectorAll('#trend svg .ci-band').length") >= 1
    assert "苏州市" in page.evaluate("document.getElementById('trend-title').innerText")
    assert "cell=agri_sampling_pass_rate:320500" in page.evaluate("location.hash")
    assert page.evaluate("document.querySelector('#alerts li.match').innerText").count("苏州市") == 1

    page.screenshot(ARTIFACTS / "dashboard.png")
    assert page.errors() == []


def test_the_window_selector_and_a_cell_link_reopen_a_trend(seeded: Seeded, page: Page) -> None:
    page.goto(f"{seeded.indicators_url}/#token={seeded.agency_key}&window=90d&cell=agri_sampling_pass_rate:320100")
    page.wait_for("document.querySelector('#trend svg .target-line')", what="the linked trend")
    assert page.evaluate("document.getElementById('window').value") == "90d"
    assert "南京市" in page.evaluate("document.getElementById('trend-title').innerText")
    page.evaluate("(() => { const s = document.getElementById('window'); s.value = '7d';"
                  " s.dispatchEvent(new Event('change')); })()")
    page.wait_for("location.hash.includes('window=7d') && document.querySelector("
                  f"\"{SUZHOU_AGRI}\").dataset.status !== ''", what="the 7-day scorecard")
    assert page.errors() == []
