"""The plan period, honestly: milestones judged finally at the deadline, counts after it left out; each indicator at
the window it is judged on; a city's counties; a second catalogue (a later plan period) served with no code change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from services.indicators.app import create_app
from services.indicators.processor import BatchProcessor
from services.indicators.windows import resolve_window
from shared.db import migrate
from shared.settings import DEFAULT_CATALOGUE, EXAMPLE_CATALOGUE, Settings
from tests.indicators import factory as f
from tests.indicators.conftest import ListSink
from tests.support import FixedClock

CST = f.CST
ADMIN = {"Authorization": "Bearer admin-token-for-tests"}


def make_client(tmp_path: Path, catalogue: Path, events: list[dict], now: dt.datetime = f.NOW) -> TestClient:
    url = f"sqlite:///{tmp_path / 'qw.db'}"
    migrate(url)
    settings = Settings(database_url=url, admin_token="admin-token-for-tests", kafka_bootstrap="127.0.0.1:1",
                        catalogue_path=catalogue, data_dir=tmp_path)
    app = create_app(settings, clock=FixedClock(now), registry=CollectorRegistry(), background=False)
    state = app.state
    BatchProcessor(state.catalogue, state.sessions, ListSink(), state.metrics, state.clock).process(
        [f.message(e) for e in events])
    return TestClient(app)


@pytest.fixture
def jiangsu(tmp_path: Path) -> Iterator[TestClient]:
    events = [
        # Plan 2018–2020: 20 international standards by the deadline (achieved), 400 national ones (missed: 600),
        # and 500 more national ones in 2026, after the deadline, which do not count toward it.
        f.milestone("m1", "new_international_standards", 20, at=dt.datetime(2020, 6, 1, tzinfo=CST)),
        f.milestone("m2", "new_national_standards", 400, at=dt.datetime(2019, 3, 1, tzinfo=CST)),
        f.milestone("m3", "new_national_standards", 500, at=f.NOW - dt.timedelta(days=1)),
        *[f.inspection(f"k{i}", f"ks{i}", "fail" if i < 3 else "pass", region="320583") for i in range(60)],
        *[f.inspection(f"w{i}", f"ws{i}", region="320506") for i in range(40)],
    ]
    with make_client(tmp_path, DEFAULT_CATALOGUE, events) as client:
        yield client


def figure(client: TestClient, indicator: str, **params: str) -> dict:
    answer = client.get(f"/v1/indicators/{indicator}", params=params, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_after_the_deadline_a_milestone_is_achieved_or_missed_and_later_counts_do_not_count(
        jiangsu: TestClient) -> None:
    achieved = figure(jiangsu, "new_international_standards")
    assert (achieved["value"], achieved["status"], achieved["window"]) == (20, "achieved", "plan")
    missed = figure(jiangsu, "new_national_standards")
    assert (missed["value"], missed["status"]) == (400, "missed")  # the 500 of 2026 are after the deadline
    # Nothing reported at all is no_data, not missed: missing is not bad (issue 19), and it fires nothing.
    assert figure(jiangsu, "consumer_brands")["status"] == "no_data"


def test_the_plan_window_ends_at_the_deadline_once_it_has_passed() -> None:
    start, deadline = dt.date(2018, 1, 1), dt.date(2020, 12, 31)
    over = resolve_window("plan", f.NOW, CST, start, deadline)
    assert (over.first_day, over.last_day) == (start, deadline)
    during = resolve_window("plan", dt.datetime(2019, 5, 1, 12, tzinfo=CST), CST, start, deadline)
    assert during.last_day == dt.date(2019, 5, 1)


def test_the_judged_scorecard_shows_each_indicator_at_its_own_window(jiangsu: TestClient) -> None:
    body = jiangsu.get("/v1/scorecard", params={"window": "judged"}, headers=ADMIN).json()
    rows = {row["indicator"]: row for row in body["indicators"]}
    assert rows["agri_sampling_pass_rate"]["window"] == rows["agri_sampling_pass_rate"]["judged_window"] == "30d"
    assert rows["sampling_coverage"]["window"] == "ytd" and rows["three_products_share"]["window"] == "ytd"
    assert rows["project_first_acceptance_rate"]["window"] == "90d"
    assert rows["new_national_standards"]["window"] == "plan"
    assert all(fig["window"] == row["window"] for row in body["indicators"] for fig in row["figures"])
    # A chosen window overrides; each row still says what it is judged on.
    chosen = {row["indicator"]: row for row in
              jiangsu.get("/v1/scorecard", params={"window": "7d"}, headers=ADMIN).json()["indicators"]}
    assert chosen["sampling_coverage"]["window"] == "7d" and chosen["sampling_coverage"]["judged_window"] == "ytd"
    assert jiangsu.get("/v1/scorecard", params={"window": "judgd"}, headers=ADMIN).status_code == 422


def test_a_city_s_counties_and_their_figures(jiangsu: TestClient) -> None:
    children = jiangsu.get("/v1/regions/320500/children", headers=ADMIN).json()["children"]
    assert {c["code"] for c in children} >= {"320583", "320506"}
    assert all(c["code"].startswith("3205") and c["code"] != "320500" for c in children)
    body = jiangsu.get("/v1/scorecard", params={"window": "judged", "parent": "320500"}, headers=ADMIN).json()
    assert {r["code"] for r in body["regions"]} == {c["code"] for c in children}
    agri = next(row for row in body["indicators"] if row["indicator"] == "agri_sampling_pass_rate")
    kunshan = next(fig for fig in agri["figures"] if fig["region"] == "320583")
    assert (kunshan["numerator"], kunshan["denominator"]) == (57, 60)
    assert all(row["indicator"] != "new_national_standards" for row in body["indicators"])  # province-only
    province = jiangsu.get("/v1/regions/320000/children", headers=ADMIN).json()["children"]
    assert len(province) == 13
    assert jiangsu.get("/v1/regions/999999/children", headers=ADMIN).status_code == 404
    assert jiangsu.get("/v1/scorecard", params={"parent": "320583"}, headers=ADMIN).status_code == 422
    assert jiangsu.get("/v1/regions/320500/children").status_code == 401


def test_a_catalogue_for_a_later_plan_period_loads_and_serves_figures_with_no_code_change(tmp_path: Path) -> None:
    now = dt.datetime(2026, 3, 10, 10, tzinfo=CST)
    events = [*[f.inspection(f"e{i}", f"s{i}", "fail" if i < 3 else "pass", at=now - dt.timedelta(days=1))
                for i in range(100)],
              f.milestone("m1", "new_international_standards", 4, at=now - dt.timedelta(days=5))]
    with make_client(tmp_path, EXAMPLE_CATALOGUE, events, now=now) as client:
        listed = client.get("/v1/indicators", headers=ADMIN).json()
        assert listed["plan"] == "jiangsu-quality-2025-2027-example"
        agri = figure(client, "agri_sampling_pass_rate", region="320500")
        assert agri["target"] == {"op": ">=", "value": 0.98} and agri["value"] == 0.97
        milestone = figure(client, "new_international_standards")
        assert milestone["value"] == 4 and milestone["status"] in ("on_track", "behind")  # the plan runs to 2027
        config = client.get("/dashboard/config.json").json()
        assert config["plan"]["start"] == "2025-01-01" and config["plan"]["deadline"] == "2027-12-31"
        assert config["plan"]["illustrative"] is True
        report = client.get("/v1/reports/quality", params={"period": "2026-02"}, headers=ADMIN)
        assert report.status_code == 200 and "示例" in report.text and "2025-01-01 至 2027-12-31" in report.text
        assert client.get("/v1/reports/quality", params={"period": "2024-12"}, headers=ADMIN).status_code == 422
