"""The HTTP API: contract shape of a figure, scorecard, trend, errors and access."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from services.indicators.app import create_app
from services.indicators.processor import BatchProcessor
from shared.auth import create_key
from shared.db import migrate, transaction
from shared.settings import Settings
from tests.indicators import factory as f
from tests.indicators.conftest import ListSink

pytestmark = pytest.mark.integration
ADMIN = {"Authorization": "Bearer admin-token-for-tests"}
CONTRACT_FIELDS = {"indicator", "region", "category", "window", "as_of", "numerator", "denominator", "value", "ci95",
                   "target", "status", "last_event_at"}


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    migrate(db_url)
    settings = Settings(database_url=db_url, admin_token="admin-token-for-tests", kafka_bootstrap="127.0.0.1:1")
    from tests.support import FixedClock

    app = create_app(settings, clock=FixedClock(f.NOW), registry=CollectorRegistry(), background=False)
    state = app.state
    processor = BatchProcessor(state.catalogue, state.sessions, ListSink(), state.metrics, state.clock)
    events = [f.inspection(f"e{i}", f"s{i}", "fail" if i < 30 else "pass") for i in range(1000)]
    processor.process([f.message(e) for e in events])
    with TestClient(app) as test_client:
        yield test_client


def _key(client: TestClient, role: str, **ids: str) -> dict[str, str]:
    with transaction(client.app.state.sessions) as session:  # type: ignore[attr-defined]
        _row, raw = create_key(session, role=role, **ids)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {raw}"}


def test_a_figure_has_exactly_the_contract_fields(client: TestClient) -> None:
    agency = _key(client, "agency", agency_id="agri")
    resp = client.get("/v1/indicators/agri_sampling_pass_rate",
                      params={"region": "320500", "window": "30d"}, headers=agency)
    assert resp.status_code == 200
    body = resp.json()
    assert body.keys() >= CONTRACT_FIELDS
    assert {k: body[k] for k in ("indicator", "region", "category", "window", "as_of", "numerator", "denominator",
                                 "value", "ci95", "target", "status", "last_event_at")} == {
        "indicator": "agri_sampling_pass_rate", "region": "320500", "category": None, "window": "30d",
        "as_of": "2026-11-28T10:00:00+08:00", "numerator": 970, "denominator": 1000, "value": 0.97,
        "ci95": [0.9575, 0.9789], "target": {"op": ">=", "value": 0.97}, "status": "ok",
        "last_event_at": "2026-11-28T09:00:00+08:00"}


def test_region_defaults_to_the_province_and_category_narrows(client: TestClient) -> None:
    body = client.get("/v1/indicators/agri_sampling_pass_rate?category=vegetables&window=7d", headers=ADMIN).json()
    assert (body["region"], body["category"], body["denominator"]) == ("320000", "vegetables", 1000)
    assert client.get("/v1/indicators/agri_sampling_pass_rate?category=tea",
                      headers=ADMIN).json()["denominator"] == 0


@pytest.mark.parametrize(("params", "param"), [
    ({"region": "330100"}, "region"), ({"window": "31d"}, "window"),
    ({"category": "electronics"}, "category"),
])
def test_unknown_query_values_are_422_naming_the_parameter(client: TestClient, params: dict, param: str) -> None:
    resp = client.get("/v1/indicators/agri_sampling_pass_rate", params=params, headers=ADMIN)
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["loc"] == ["query", param]


def test_an_unknown_indicator_is_404(client: TestClient) -> None:
    assert client.get("/v1/indicators/nope", headers=ADMIN).status_code == 404


def test_readers_need_a_token_and_labs_are_forbidden(client: TestClient) -> None:
    assert client.get("/v1/indicators").status_code == 401
    assert client.get("/v1/indicators", headers={"Authorization": "Bearer wrong"}).status_code == 401
    lab = _key(client, "lab", lab_id="LAB-0001")
    assert client.get("/v1/indicators", headers=lab).status_code == 403
    agency = _key(client, "agency", agency_id="agri")
    assert client.get("/v1/dead-letters", headers=agency).status_code == 403


def test_the_indicator_list_carries_targets_windows_and_agencies(client: TestClient) -> None:
    items = {i["indicator"]: i for i in client.get("/v1/indicators", headers=ADMIN).json()["indicators"]}
    agri = items["agri_sampling_pass_rate"]
    assert agri["target"] == {"op": ">=", "value": 0.97}
    assert agri["windows"] == ["30d"] and agri["agencies"][0] == "agri"
    assert "vegetables" in agri["categories"]
    assert len(items) == len(client.app.state.catalogue.indicators)  # type: ignore[attr-defined]


def test_the_scorecard_covers_every_indicator_for_province_and_cities(client: TestClient) -> None:
    body = client.get("/v1/scorecard?window=30d", headers=ADMIN).json()
    assert len(body["regions"]) == 14
    rows = {r["indicator"]: r for r in body["indicators"]}
    for indicator, row in rows.items():
        scope = client.app.state.catalogue.indicator(indicator).scope  # type: ignore[attr-defined]
        assert len(row["figures"]) == (1 if scope == "province" else 14), indicator
    assert [f["region"] for f in rows["new_national_standards"]["figures"]] == ["320000"]
    suzhou = next(fig for fig in rows["agri_sampling_pass_rate"]["figures"] if fig["region"] == "320500")
    assert (suzhou["status"], suzhou["denominator"]) == ("ok", 1000)
    assert rows["new_national_standards"]["window"] == "plan"


def test_the_trend_gives_one_point_per_day(client: TestClient) -> None:
    body = client.get("/v1/indicators/agri_sampling_pass_rate/trend?region=320500&days=10&window=7d",
                      headers=ADMIN).json()
    assert [p["date"] for p in body["points"]][-1] == "2026-11-28"
    assert len(body["points"]) == 10
    assert body["points"][-1]["n"] == 1000 and body["points"][0]["n"] == 0


def test_counties_are_named_and_listed(client: TestClient) -> None:
    body = client.get("/v1/indicators/agri_sampling_pass_rate", params={"region": "320583"}, headers=ADMIN).json()
    assert (body["region"], body["region_name"]) == ("320583", "昆山市")
    assert client.get("/v1/indicators/agri_sampling_pass_rate", params={"region": "320599"},
                      headers=ADMIN).status_code == 422  # no such county (the check is exact)
    regions = client.get("/v1/regions", headers=ADMIN).json()
    assert len(regions["cities"]) == 13 and sum(len(c["counties"]) for c in regions["cities"]) == 95
    suzhou = next(c for c in regions["cities"] if c["code"] == "320500")
    assert {"code": "320583", "name": "昆山市"} in suzhou["counties"] and suzhou["name_en"] == "Suzhou"
    assert "2023" in regions["county_source"]
