"""The alert service's HTTP API: scopes, validation, and what it shows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from services.alerts.app import AlertsRuntime, create_app
from services.alerts.evaluate import Rule
from services.alerts.rules import RuleBook
from shared.auth import create_key
from shared.db import migrate
from shared.figures import FigureChanged
from shared.settings import Settings
from tests.alerts.support import SECRET, T0, Receiver, figure
from tests.support import FixedClock

ADMIN = {"Authorization": "Bearer admin-token"}


@dataclass
class Api:
    client: TestClient
    rt: AlertsRuntime
    clock: FixedClock
    keys: dict[str, dict[str, str]]

    def figures(self, *figs: object) -> None:
        self.clock.advance(dt.timedelta(seconds=1))
        now = self.clock.now()
        self.rt.service.handle_figures([FigureChanged(figure=f, changed_at=now) for f in figs], now)  # type: ignore[arg-type]


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[Api]:
    migrate(db_url)
    settings = Settings(database_url=db_url, data_dir=tmp_path, admin_token="admin-token",
                        allow_private_webhooks=False, dashboard_origins="http://127.0.0.1:8002")
    clock = FixedClock(T0)
    app = create_app(settings, clock=clock, registry=CollectorRegistry(), rules=RuleBook(Rule()),
                     http_client=httpx.Client(trust_env=False), resolver=lambda host, port: ["93.184.216.34"],
                     run_background=False)
    rt: AlertsRuntime = app.state.alerts
    keys = {}
    with rt.service.write() as session:
        for name, role, agency in (("agri", "agency", "agri"), ("transport", "agency", "transport"),
                                   ("lab", "lab", None), ("city", "agency", "city-3205")):
            _, raw = create_key(session, role=role, agency_id=agency, lab_id="LAB-0001" if role == "lab" else None)
            keys[name] = {"Authorization": f"Bearer {raw}"}
    yield Api(TestClient(app), rt, clock, keys)
    rt.worker.close()
    rt.engine.dispose()


def subscribe(api: Api, agency: str = "agri", headers: dict[str, str] | None = None, **body: object) -> httpx.Response:
    payload = {"url": "https://hooks.example.org/qw", "secret": SECRET, "min_severity": "warning", **body}
    headers = api.keys[agency] if headers is None else headers
    return api.client.post(f"/v1/agencies/{agency}/subscriptions", json=payload, headers=headers)


def test_an_agency_creates_lists_and_deletes_its_subscription_and_never_sees_the_secret(api: Api) -> None:
    created = subscribe(api)
    assert created.status_code == 201, created.text
    body = created.json()
    assert SECRET not in created.text and "secret" not in body
    assert body["agency_id"] == "agri" and body["min_severity"] == "warning" and body["subscription_id"]
    listed = api.client.get("/v1/agencies/agri/subscriptions", headers=api.keys["agri"]).json()["subscriptions"]
    assert [s["subscription_id"] for s in listed] == [body["subscription_id"]]
    assert SECRET not in str(listed)
    gone = api.client.delete(f"/v1/agencies/agri/subscriptions/{body['subscription_id']}", headers=api.keys["agri"])
    assert gone.status_code == 204
    assert api.client.get("/v1/agencies/agri/subscriptions", headers=api.keys["agri"]).json()["subscriptions"] == []
    again = api.client.delete(f"/v1/agencies/agri/subscriptions/{body['subscription_id']}", headers=api.keys["agri"])
    assert again.status_code == 404


def test_subscription_scopes_are_enforced(api: Api) -> None:
    assert subscribe(api, "agri", headers=api.keys["transport"]).status_code == 403
    assert subscribe(api, "agri", headers=api.keys["lab"]).status_code == 403
    assert subscribe(api, "agri", headers={}).status_code == 401
    assert subscribe(api, "no-such-agency", headers=ADMIN).status_code == 404
    assert subscribe(api, "city-3205", headers=ADMIN).status_code == 201
    assert api.client.get("/v1/agencies/agri/subscriptions", headers=api.keys["transport"]).status_code == 403


@pytest.mark.parametrize(("body", "field"), [
    ({"url": "http://127.0.0.1:9000/x"}, "url"),
    ({"url": "https://u:p@hooks.example.org/x"}, "url"),
    ({"url": "ftp://hooks.example.org/x"}, "url"),
    ({"secret": "too-short"}, "secret"),
    ({"min_severity": "info"}, "min_severity"),
    ({"surprise": 1}, "surprise"),
])
def test_a_bad_subscription_is_refused_naming_the_field(api: Api, body: dict[str, object], field: str) -> None:
    response = subscribe(api, **body)
    assert response.status_code == 422
    assert any(field in error["loc"] for error in response.json()["detail"]), response.text


def test_agencies_see_the_alerts_routed_to_them_and_operators_see_all(api: Api) -> None:
    api.figures(figure("breach"), figure("at_risk", indicator="national_spot_check_pass_rate", region="320100"))
    everything = api.client.get("/v1/alerts", headers=ADMIN).json()["alerts"]
    assert len(everything) == 2
    agri = api.client.get("/v1/alerts?state=firing", headers=api.keys["agri"]).json()["alerts"]
    assert [a["indicator"] for a in agri] == ["agri_sampling_pass_rate"]
    (alert,) = agri
    assert alert["agencies"] == ["agri", "food-drug", "market-supervision", "city-3205"]
    assert (alert["severity"], alert["state"]) == ("critical", "firing")
    assert (alert["acked"], alert["silenced"]) == (False, False)
    assert set(alert) >= {"alert_id", "indicator", "region", "category", "window", "severity", "state", "value", "ci95",
                          "numerator", "denominator", "target", "started_at", "resolved_at", "agencies"}
    assert api.client.get("/v1/alerts", headers=api.keys["transport"]).json()["alerts"] == []
    assert api.client.get("/v1/alerts", headers=api.keys["lab"]).status_code == 403
    assert api.client.get("/v1/alerts?state=resolved", headers=ADMIN).json()["alerts"] == []
    filtered = api.client.get("/v1/alerts?state=all&region=320100", headers=ADMIN).json()["alerts"]
    assert [a["region"] for a in filtered] == ["320100"]
    later = api.client.get("/v1/alerts", params={"until": "2026-11-19T00:00:00Z"}, headers=ADMIN).json()["alerts"]
    assert later == []
    assert api.client.get("/v1/alerts?since=2026-11-19T00:00:00", headers=ADMIN).status_code == 422


def test_an_alert_shows_its_history_and_deliveries_and_can_be_acknowledged(api: Api) -> None:
    subscribe(api)
    api.figures(figure("at_risk"))
    api.figures(figure("breach"))
    (alert,) = api.client.get("/v1/alerts", headers=api.keys["agri"]).json()["alerts"]
    detail = api.client.get(f"/v1/alerts/{alert['alert_id']}", headers=api.keys["agri"]).json()
    assert [(t["from_state"], t["to_state"], t["to_severity"]) for t in detail["transitions"]] == [
        ("inactive", "firing", "warning"), ("firing", "firing", "critical")]
    assert detail["transitions"][0]["figure"]["figure"]["status"] == "at_risk"
    assert [d["notice"] for d in detail["deliveries"]] == ["firing", "escalated"]
    # Not routed to transport: answered exactly as a missing alert.
    missing = api.client.get("/v1/alerts/0000000000000000", headers=api.keys["transport"])
    hidden = api.client.get(f"/v1/alerts/{alert['alert_id']}", headers=api.keys["transport"])
    assert (hidden.status_code, hidden.json()["detail"].replace(alert["alert_id"], "X")) == (
        404, missing.json()["detail"].replace("0000000000000000", "X"))
    assert api.client.get("/v1/alerts/nope", headers=ADMIN).status_code == 404
    acked = api.client.post(f"/v1/alerts/{alert['alert_id']}/ack", json={"comment": "sampling team sent"},
                            headers=api.keys["city"])
    assert acked.status_code == 200, acked.text
    assert (acked.json()["acked"], acked.json()["acked_by"], acked.json()["ack_comment"]) == (
        True, "agency:city-3205", "sampling team sent")
    assert api.client.post(f"/v1/alerts/{alert['alert_id']}/ack", json={}, headers=api.keys["transport"]).status_code \
        == 404
    (ack,) = acked.json()["acks"]
    assert (ack["agency_id"], ack["by"], ack["comment"]) == ("city-3205", "agency:city-3205", "sampling team sent")
    # The acknowledgement is the city's own: agri's view of the alert is not acknowledged, but shows the history.
    agri_view = api.client.get(f"/v1/alerts/{alert['alert_id']}", headers=api.keys["agri"]).json()
    assert (agri_view["acked"], [a["agency_id"] for a in agri_view["acks"]]) == (False, ["city-3205"])


def test_acknowledging_a_resolved_alert_is_a_conflict(api: Api) -> None:
    api.figures(figure("breach"))
    api.figures(figure("ok"))
    (alert,) = api.client.get("/v1/alerts?state=resolved", headers=ADMIN).json()["alerts"]
    assert api.client.post(f"/v1/alerts/{alert['alert_id']}/ack", headers=ADMIN).status_code == 409


def test_operators_create_list_and_expire_silences(api: Api) -> None:
    created = api.client.post("/v1/silences", json={"indicator": "agri_sampling_pass_rate", "region": "320500",
                                                    "duration_seconds": 3600, "reason": "lab recalibration"},
                              headers=ADMIN)
    assert created.status_code == 201, created.text
    silence = created.json()
    assert (silence["state"], silence["ends_at"]) == ("active", "2026-11-20T11:00:00+08:00")
    api.figures(figure("breach", region="320581"))
    (alert,) = api.client.get("/v1/alerts", headers=ADMIN).json()["alerts"]
    assert alert["silenced"] is True
    assert [s["silence_id"] for s in api.client.get("/v1/silences", headers=api.keys["agri"]).json()["silences"]] == [
        silence["silence_id"]]
    assert api.client.post("/v1/silences", json={"region": "320500", "duration_seconds": 60, "reason": "x"},
                           headers=api.keys["agri"]).status_code == 403
    assert api.client.delete(f"/v1/silences/{silence['silence_id']}", headers=ADMIN).status_code == 204
    (expired,) = api.client.get("/v1/silences?state=expired", headers=ADMIN).json()["silences"]
    assert expired["expired_at"] == "2026-11-20T10:00:01+08:00"
    assert api.client.get("/v1/alerts", headers=ADMIN).json()["alerts"][0]["silenced"] is False
    assert api.client.delete("/v1/silences/nope", headers=ADMIN).status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"duration_seconds": 60, "reason": "x"}, "indicator"),
    ({"indicator": "no_such", "duration_seconds": 60, "reason": "x"}, "indicator"),
    ({"region": "990000", "duration_seconds": 60, "reason": "x"}, "region"),
    ({"region": "320500", "reason": "x"}, "ends_at"),
    ({"region": "320500", "ends_at": "2026-11-20T01:00:00Z", "reason": "x"}, "ends_at"),
    ({"region": "320500", "duration_seconds": 60}, "reason"),
])
def test_a_bad_silence_is_refused_naming_the_field(api: Api, body: dict[str, object], field: str) -> None:
    response = api.client.post("/v1/silences", json=body, headers=ADMIN)
    assert response.status_code == 422
    assert any(field in error["loc"] for error in response.json()["detail"]), response.text


def test_the_delivery_log_shows_attempts_and_an_operator_can_redeliver(api: Api) -> None:
    receiver = Receiver(status=500).start()
    try:
        api.rt.settings.allow_private_webhooks = True
        assert subscribe(api, url=receiver.url()).status_code == 201
        api.figures(figure("breach"))
        api.rt.worker.run_once(api.clock.now())
        (row,) = api.client.get("/v1/deliveries?status=pending", headers=api.keys["agri"]).json()["deliveries"]
        assert (row["attempts"], row["last_status_code"], row["agency_id"]) == (1, 500, "agri")
        assert api.client.get("/v1/deliveries", headers=api.keys["transport"]).json()["deliveries"] == []
        assert api.client.get("/v1/deliveries?agency_id=agri", headers=api.keys["transport"]).status_code == 403
        detail = api.client.get(f"/v1/deliveries/{row['delivery_id']}", headers=api.keys["agri"]).json()
        assert [(a["attempt"], a["status_code"]) for a in detail["attempt_log"]] == [(1, 500)]
        assert detail["attempt_log"][0]["latency_ms"] >= 0
        assert api.client.get(f"/v1/deliveries/{row['delivery_id']}", headers=api.keys["transport"]).status_code == 403
        receiver.status = 200
        assert api.client.post(f"/v1/deliveries/{row['delivery_id']}/redeliver",
                               headers=api.keys["agri"]).status_code == 403
        again = api.client.post(f"/v1/deliveries/{row['delivery_id']}/redeliver", headers=ADMIN)
        assert again.status_code == 202 and again.json()["status"] == "pending"
        api.rt.worker.run_once(api.clock.now())
        done = api.client.get(f"/v1/deliveries/{row['delivery_id']}", headers=ADMIN).json()
        assert (done["status"], done["attempts"]) == ("delivered", 2)
        assert [r.headers["idempotency-key"] for r in receiver.requests] == [row["delivery_id"]] * 2
    finally:
        receiver.stop()


def test_health_metrics_and_cors_are_served(api: Api) -> None:
    assert api.client.get("/healthz").status_code == 200
    metrics = api.client.get("/metrics").text
    for name in ("qw_alerts_notifications_total", "qw_alerts_delivery_seconds", "qw_alerts_pending_deliveries",
                 "qw_alerts_firing", "qw_alerts_consumer_lag"):
        assert name in metrics
    preflight = api.client.options("/v1/alerts", headers={"Origin": "http://127.0.0.1:8002",
                                                          "Access-Control-Request-Method": "GET"})
    assert preflight.headers.get("access-control-allow-origin") == "http://127.0.0.1:8002"
