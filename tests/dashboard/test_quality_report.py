"""The quality status report over the running stack: the seeded month's figures, n, intervals, the breach named,
the city chart and the alert the alert service raised; the PDF (its text read back, its pages rendered to PNG);
periods that cannot be reported; signed links that open the report without a token, and refuse when altered."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from pypdf import PdfReader

from tests.dashboard.conftest import ARTIFACTS, CST, Seeded
from tests.tooling import missing_tool

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def report(seeded: Seeded, period: str, token: str | None, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{seeded.indicators_url}/v1/reports/quality", params={"period": period, **params},
                     headers=headers, timeout=120)


def month_title(period: str) -> str:
    year, month = period.split("-")
    return f"江苏省质量状况分析报告（{year}年{int(month)}月）"


def test_the_monthly_report_shows_the_figures_the_breach_and_the_alerts(
        seeded: Seeded, firing_suzhou_alert: dict[str, Any]) -> None:
    response = report(seeded, seeded.period, seeded.agency_key)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    doc = response.text
    assert f"<h1>{month_title(seeded.period)}</h1>" in doc
    assert "江苏省质量发展委员会办公室" in doc and "江苏省质量提升行动实施方案" in doc

    # Suzhou 180/200: 90.0 %, Wilson 95 % interval 85.1–93.4 %, breach, named in the section and the summary.
    agri = doc[doc.index('<section class="indicator" id="agri_sampling_pass_rate">'):]
    agri = agri[:agri.index("</section>")]
    suzhou = re.search(r'<tr data-region="320500">.*?</tr>', agri)
    assert suzhou is not None
    assert all(part in suzhou.group(0) for part in ("90.0 %", ">200<", "85.1 % – 93.4 %", "status breach"))
    assert "未达标城市：苏州市" in agri
    overview = doc[doc.index('<section class="overview">'):]
    assert "主要拖累城市：苏州市" in overview[:overview.index("</section>")]
    # Province: 520 of 542; the city chart has a bar per city with data, and the target line.
    province = re.search(r'<tr data-region="320000">.*?</tr>', agri)
    assert province is not None and "95.9 %" in province.group(0) and ">542<" in province.group(0)
    assert agri.count('<rect class="bar') == 3 and 'class="target-line"' in agri
    # Sampling coverage is judged year to date, never a month against a year's pace (no thousands of percent).
    coverage = doc[doc.index('<tr data-indicator="sampling_coverage">'):]
    assert "年初至期末" in coverage[:coverage.index("</tr>")]

    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "quality-report.html").write_text(doc, encoding="utf-8")
    alerts = doc[doc.index("四、本期告警"):]
    assert "alerts-unavailable" not in doc
    assert "严重" in alerts and "苏州市" in alerts

    # The period is running: every verdict counts, and the recent failures are still provisional (issue 19).
    loop = doc[doc.index("五、结果确定性"):doc.index('<section class="notes">')]
    assert "本报告期尚未结束，合格率包含全部检验结果" in loop
    pending = re.search(r'<tr data-indicator="agri_sampling_pass_rate" data-region="320500">.*?</tr>', loop)
    assert pending is not None and "苏州市" in pending.group(0)
    # Nothing reported by the cities yet, but the running month's reports are not due: 0 of 13, not yet missing.
    completeness = loop[loop.index("六、数据报送完整率"):]
    assert "0 / 13" in completeness and "未到报送期限" in completeness and "南京市" not in completeness
    assert "数据报送不完整" not in overview[:overview.index("</section>")]


def test_the_report_as_pdf_is_the_chinese_official_version_with_its_issuer_and_named_cities(
        seeded: Seeded, firing_suzhou_alert: dict[str, Any]) -> None:
    response = report(seeded, seeded.period, seeded.agency_key, format="pdf")
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    by_accept = httpx.get(f"{seeded.indicators_url}/v1/reports/quality", params={"period": seeded.period},
                          headers={"Authorization": f"Bearer {seeded.agency_key}", "Accept": "application/pdf"},
                          timeout=120)
    assert by_accept.headers["content-type"] == "application/pdf"

    pdf = PdfReader(io.BytesIO(response.content))
    text = "\n".join(page.extract_text() for page in pdf.pages)
    flat = re.sub(r"\s+", "", text)
    assert re.sub(r"\s+", "", month_title(seeded.period)) in flat
    assert "江苏省质量发展委员会办公室" in flat
    assert "主要拖累城市：苏州市" in flat and "未达标城市：苏州市" in flat
    assert f"第1页，共{len(pdf.pages)}页" in flat  # every page numbered
    assert "五、结果确定性" in flat and "六、数据报送完整率" in flat and "待定不合格数" in flat
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "quality-report.pdf").write_bytes(response.content)

    # Pages as images, to look at (pdftoppm from poppler-utils).
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        missing_tool("no pdftoppm found (install the Debian package 'poppler-utils')")
    for old in ARTIFACTS.glob("quality-report-page-*.png"):
        old.unlink()
    subprocess.run([pdftoppm, "-r", "60", "-png", str(ARTIFACTS / "quality-report.pdf"),
                    str(ARTIFACTS / "quality-report-page")], check=True, timeout=120)
    assert len(list(ARTIFACTS.glob("quality-report-page-*.png"))) == len(pdf.pages)


def test_the_english_report(seeded: Seeded) -> None:
    response = report(seeded, seeded.period, seeded.agency_key, lang="en")
    assert response.status_code == 200 and response.headers["content-language"] == "en"
    year, month = seeded.period.split("-")
    assert f"quality status report, {dt.date(int(year), int(month), 1):%B} {year}</h1>" in response.text
    assert "Office of the Jiangsu Provincial Quality Development Committee" in response.text
    assert "5. Provisional results" in response.text and "6. Completeness of reported figures" in response.text
    assert "The period is still running: pass rates count every result" in response.text
    assert "0 / 13" in response.text and "not due yet" in response.text


def test_the_report_is_for_readers_only_and_refuses_periods_it_cannot_report(seeded: Seeded) -> None:
    assert report(seeded, seeded.period, None).status_code == 401
    assert report(seeded, seeded.period, seeded.lab_key).status_code == 403
    bad = report(seeded, "2026-13", seeded.agency_key)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "period"]
    next_year = str(dt.datetime.now(CST).year + 1)
    future = report(seeded, f"{next_year}-01", seeded.agency_key)
    assert future.status_code == 422 and "has not begun" in future.text
    assert report(seeded, "2017-12", seeded.agency_key).status_code == 422  # before the plan's start (2018-01-01)
    year = seeded.period[:4]
    assert report(seeded, f"{year}-Q4", seeded.agency_key).status_code == 200
    assert report(seeded, year, seeded.agency_key).status_code == 200


def test_a_signed_link_opens_the_pdf_without_a_token_and_an_altered_one_is_refused(seeded: Seeded) -> None:
    url = seeded.indicators_url
    headers = {"Authorization": f"Bearer {seeded.agency_key}"}
    assert httpx.post(f"{url}/v1/reports/quality/links", json={"period": seeded.period}).status_code == 401
    future = httpx.post(f"{url}/v1/reports/quality/links", headers=headers, json={"period": "2999-01"})
    assert future.status_code == 422
    minted = httpx.post(f"{url}/v1/reports/quality/links", headers=headers,
                        json={"period": seeded.period, "format": "pdf", "lang": "zh-CN"})
    assert minted.status_code == 201, minted.text
    link = minted.json()["url"]
    expires_at = dt.datetime.fromisoformat(minted.json()["expires_at"])
    assert dt.timedelta(minutes=1) < expires_at - dt.datetime.now(CST) <= dt.timedelta(minutes=10, seconds=5)
    opened = httpx.get(f"{url}{link}", timeout=120)  # no Authorization header
    assert opened.status_code == 200 and opened.headers["content-type"] == "application/pdf"

    query = dict(parse_qsl(link.split("?", 1)[1]))
    for change in ({"period": f"{seeded.period[:4]}-01" if seeded.period[5:] != "01" else f"{seeded.period[:4]}-02"},
                   {"lang": "en"}, {"format": "html"}, {"expires": str(int(query["expires"]) + 86400)},
                   {"sig": "0" * 64}):
        altered = httpx.get(f"{url}/reports/quality?{urlencode({**query, **change})}", timeout=60)
        assert altered.status_code == 403 and "not valid" in altered.json()["detail"], change
    expired_at = int(dt.datetime.now(CST).timestamp()) - 60
    expired = httpx.get(f"{url}/reports/quality?{urlencode({**query, 'expires': str(expired_at)})}", timeout=60)
    assert expired.status_code == 403  # an expiry moved into the past no longer matches its signature either
