"""The quality status report over the running stack: the seeded month's figures, n, intervals,
the breach named, the city chart, and the alert the alert service raised."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.dashboard.conftest import ARTIFACTS, Seeded

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def report(seeded: Seeded, period: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{seeded.indicators_url}/v1/reports/quality", params={"period": period}, headers=headers,
                     timeout=30)


def test_the_monthly_report_shows_the_figures_the_breach_and_the_alerts(
        seeded: Seeded, firing_suzhou_alert: dict[str, Any]) -> None:
    response = report(seeded, seeded.period, seeded.agency_key)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    doc = response.text
    year, month = seeded.period.split("-")
    assert f"江苏省质量状况分析报告（{year}年{int(month)}月）" in doc
    assert "江苏省质量提升行动实施方案" in doc

    # Suzhou 180/200: 90.0 %, Wilson 95 % interval 85.1–93.4 %, breach, named.
    agri = doc[doc.index('<section class="indicator" id="agri_sampling_pass_rate">'):]
    agri = agri[:agri.index("</section>")]
    suzhou = re.search(r'<tr data-region="320500">.*?</tr>', agri)
    assert suzhou is not None
    assert all(part in suzhou.group(0) for part in ("90.0 %", ">200<", "85.1 % – 93.4 %", "status breach"))
    assert "Cities in breach: 苏州市 (Suzhou)" in agri
    # Province: 520 of 542.
    assert "全省 Province: <strong>95.9 %</strong> (n = 542, 95 % CI" in agri
    # The city chart: a bar per city with data, the target line.
    assert '<svg class="city-chart" data-indicator="agri_sampling_pass_rate"' in agri
    assert agri.count('<rect class="bar') == 3 and 'class="target-line"' in agri

    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "quality-report.html").write_text(doc, encoding="utf-8")
    alerts = doc[doc.index("Alerts of the period"):]
    assert "alerts-unavailable" not in doc
    assert "critical" in alerts and "苏州市" in alerts


def test_the_report_is_for_readers_only_and_names_a_bad_period(seeded: Seeded) -> None:
    assert report(seeded, seeded.period, None).status_code == 401
    assert report(seeded, seeded.period, seeded.lab_key).status_code == 403
    bad = report(seeded, "2026-13", seeded.agency_key)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "period"]
    year = seeded.period[:4]
    assert report(seeded, f"{year}-Q4", seeded.agency_key).status_code == 200
    assert report(seeded, year, seeded.agency_key).status_code == 200
