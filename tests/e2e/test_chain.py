"""The thin chain, real: lab → intake → Kafka → indicators → alerts → a signed agency webhook.

Three services run as separate processes against the real Kafka broker and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.launcher import ServiceProcesses
from shared.signing import verify_signature
from tests.support import WebhookReceiver, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
CST = dt.timezone(dt.timedelta(hours=8))
SECRET = "agri-webhook-secret-0001"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hooks = WebhookReceiver(secret=SECRET).start()
    yield hooks
    hooks.stop()


def inspections(lab: str, city: str, passes: int, fails: int, start: int = 0) -> list[dict[str, Any]]:
    occurred = (dt.datetime.now(CST) - dt.timedelta(hours=2)).isoformat()
    events = []
    for i in range(passes + fails):
        n = start + i
        events.append({
            "event_id": f"{lab}-{city}-{n:05d}", "type": "inspection.completed", "occurred_at": occurred,
            "lab_id": lab,
            "data": {"sample_id": f"{city}-S{n:05d}", "programme": "agri-routine-monitoring",
                     "category": "vegetables", "region": city, "verdict": "pass" if i < passes else "fail"},
        })
    return events


def figure(stack: ServiceProcesses, token: str, region: str) -> dict[str, Any]:
    with stack.client("indicators", token) as client:
        response = client.get("/v1/indicators/agri_sampling_pass_rate", params={"region": region, "window": "30d"})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_lab_result_becomes_a_figure_and_one_signed_webhook(stack: ServiceProcesses,
                                                               receiver: WebhookReceiver) -> None:
    with stack.client("intake") as admin:
        lab_key = admin.post("/v1/api-keys", json={"role": "lab", "lab_id": "LAB-3205"}).json()["api_key"]
        agency_key = admin.post("/v1/api-keys", json={"role": "agency", "agency_id": "agri"}).json()["api_key"]
    with stack.client("alerts", agency_key) as agency:
        created = agency.post("/v1/agencies/agri/subscriptions",
                              json={"url": receiver.url(), "secret": SECRET, "min_severity": "warning"})
        assert created.status_code == 201, created.text

    # Suzhou: 90 of 100 samples pass — far below 97 %, the whole Wilson interval too.
    # Nanjing: 400 of 400 pass, which keeps the province above target (490/500 = 98 %).
    suzhou = inspections("LAB-3205", "320500", passes=90, fails=10)
    nanjing = inspections("LAB-3201", "320100", passes=400, fails=0)
    with stack.client("intake", lab_key) as lab:
        first = lab.post("/v1/events/batch", json={"events": suzhou})
        assert first.status_code == 202, first.text
        assert first.json()["accepted"] == 100 and first.json()["duplicates"] == 0
        again = lab.post("/v1/events/batch", json={"events": suzhou})
        assert again.status_code == 202 and again.json() == {**again.json(), "accepted": 0, "duplicates": 100}
        assert lab.post("/v1/events/batch", json={"events": nanjing}).status_code == 403  # not its lab
    with stack.client("intake") as operator:
        assert operator.post("/v1/events/batch", json={"events": nanjing}).json()["accepted"] == 400

    city = wait_for(lambda: (f := figure(stack, agency_key, "320500"))["denominator"] == 100 and f,
                timeout=20, what="Suzhou's figure to count 100 samples")
    assert (city["numerator"], city["value"], city["status"]) == (90, 0.9, "breach")
    assert city["ci95"][1] < 0.97
    assert city["target"] == {"op": ">=", "value": 0.97}
    province = wait_for(lambda: (f := figure(stack, agency_key, "320000"))["denominator"] == 500 and f,
                    timeout=20, what="the province to count 500 samples")
    assert (province["numerator"], province["status"]) == (490, "ok")

    hooks = wait_for(lambda: receiver.snapshot(), timeout=30, what="the agri webhook")
    time.sleep(3)  # a window in which a duplicate notification would show up
    # One alert: the catalogue alerts on the 30-day figure of all categories together (per-category
    # figures are served but not alerted), so one breach is one notification, not four.
    hooks = receiver.snapshot()
    assert len(hooks) == 1, [[(a["region"], a["window"], a["category"], a["state"], a["severity"])
                              for a in h.json["alerts"]] for h in hooks]
    hook = hooks[0]
    assert verify_signature(hook.headers["x-qw-signature"], hook.body, SECRET)
    payload = hook.json
    assert hook.headers["idempotency-key"] == payload["delivery_id"]
    assert hook.headers["content-type"].startswith("application/json")
    assert payload["agency_id"] == "agri" and payload["status"] == "firing"
    assert len(payload["alerts"]) == 1, payload["alerts"]
    [alert] = payload["alerts"]
    assert (alert["indicator"], alert["region"], alert["window"]) == ("agri_sampling_pass_rate", "320500", "30d")
    assert (alert["severity"], alert["state"]) == ("critical", "firing")
    assert (alert["numerator"], alert["denominator"], alert["value"]) == (90, 100, 0.9)

    assert_traceable(stack, alert["alert_id"], payload["delivery_id"])

    with stack.client("alerts", agency_key) as agency:
        firing = agency.get("/v1/alerts", params={"state": "firing"}).json()
    alerts = firing["alerts"]
    assert set(alerts[0]) >= {"alert_id", "indicator", "region", "category", "window", "severity", "state", "value",
                              "ci95", "numerator", "denominator", "target", "started_at", "resolved_at", "agencies"}
    assert [(a["indicator"], a["region"], a["window"]) for a in alerts] == [
        ("agri_sampling_pass_rate", "320500", "30d")]
    assert "city-3205" in alerts[0]["agencies"] and "agri" in alerts[0]["agencies"]


def json_logs(stack: ServiceProcesses, service: str) -> list[dict[str, Any]]:
    lines = (stack.data_dir / f"{service}.log").read_text(errors="replace").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def assert_traceable(stack: ServiceProcesses, alert_id: str, delivery_id: str) -> None:
    """An event that moved the figure can be followed in the JSON logs from intake to the webhook."""
    key = "agri_sampling_pass_rate|320500|*|30d"
    changed = [r for r in json_logs(stack, "indicators")
               if r["msg"] == "figure changed" and r["figure_key"] == key and r["status"] == "breach"]
    event_id = changed[0]["event_ids"][0]
    intake = [r for r in json_logs(stack, "intake") if event_id in r.get("event_ids", [])]
    assert [r["msg"] for r in intake] == ["events accepted"]
    alerts = json_logs(stack, "alerts")
    transitions = [r for r in alerts if r["msg"] == "alert transition" and r["alert_id"] == alert_id]
    assert any(event_id in r.get("event_ids", []) for r in transitions), transitions
    queued = [r for r in alerts if r["msg"] == "notification queued" and alert_id in r["alert_ids"]]
    assert [r["delivery_id"] for r in queued] == [delivery_id]
    delivered = [r for r in alerts if r["msg"] == "webhook attempt" and r["delivery_id"] == delivery_id]
    assert [r["outcome"] for r in delivered] == ["delivered"]


def test_every_service_reports_health_readiness_and_metrics(stack: ServiceProcesses) -> None:
    for name in ("intake", "indicators", "alerts"):
        with stack.client(name) as client:
            assert client.get("/healthz").status_code == 200
            ready = client.get("/readyz")
            assert ready.status_code == 200, ready.text
            metrics = client.get("/metrics").text
            assert "qw_ready 1.0" in metrics
            assert client.get("/openapi.json").json()["openapi"].startswith("3.")
            protected = {"intake": "/v1/api-keys", "indicators": "/v1/indicators", "alerts": "/v1/alerts"}[name]
            assert client.get(protected, headers={"Authorization": "Bearer wrong"}).status_code == 401
