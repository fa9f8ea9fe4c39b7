"""The rectification loop end to end, three services as processes on the real Kafka broker and PostgreSQL:
Xuzhou's breach fires, the city sets a plan through the API, follow-up samples naming the alert and a run of
passing results bring the figure back, and the alert goes rectified → resolved → closed, every step in its
timeline; an objection after its window is dead-lettered with the reason."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.launcher import ServiceProcesses
from devtools.localinfra import LocalKafka
from tests.support import WebhookReceiver, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
CST = dt.timezone(dt.timedelta(hours=8))
SECRET = "xuzhou-webhook-secret-0001"


@pytest.fixture
def loop_stack(kafka_broker: LocalKafka, pg_url: str, kafka_topic_prefix: str,
               tmp_path: Path) -> Iterator[ServiceProcesses]:
    services = ServiceProcesses(bootstrap=kafka_broker.bootstrap, database_url=pg_url,
                                topic_prefix=kafka_topic_prefix, data_dir=tmp_path,
                                extra_env={"QW_ALERT_RESOLVE_FOR_SECONDS": "1"})
    try:
        services.start()
        yield services
    finally:
        services.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hooks = WebhookReceiver(secret=SECRET).start()
    yield hooks
    hooks.stop()


def results(start: int, passes: int, fails: int, follow_up_of: str | None = None,
            follow_ups: int = 0) -> list[dict[str, Any]]:
    occurred = (dt.datetime.now(CST) - dt.timedelta(hours=1)).isoformat()
    out = []
    for i in range(passes + fails):
        n = start + i
        data: dict[str, Any] = {"sample_id": f"XZ-{n:05d}", "programme": "agri-routine-monitoring",
                                "category": "vegetables", "region": "320321",
                                "verdict": "pass" if i < passes else "fail"}
        if follow_up_of and i < follow_ups:
            data["follow_up_of"] = follow_up_of
        out.append({"event_id": f"lab3203-{n:05d}", "type": "inspection.completed", "occurred_at": occurred,
                    "lab_id": "LAB-3203", "data": data})
    return out


def test_a_breach_is_rectified_resolved_and_closed_with_every_step_in_its_timeline(
        loop_stack: ServiceProcesses, receiver: WebhookReceiver) -> None:
    stack = loop_stack
    with stack.client("intake") as admin:
        lab = admin.post("/v1/api-keys", json={"role": "lab", "lab_id": "LAB-3203"}).json()["api_key"]
        city = admin.post("/v1/api-keys", json={"role": "agency", "agency_id": "city-3203"}).json()["api_key"]
    with stack.client("alerts", city) as client:
        assert client.post("/v1/agencies/city-3203/subscriptions",
                           json={"url": receiver.url(), "secret": SECRET}).status_code == 201
    with stack.client("intake", lab) as client:
        assert client.post("/v1/events/batch", json={"events": results(0, 90, 10)}).status_code == 202

    def firing() -> dict[str, Any] | None:
        with stack.client("alerts", city) as client:
            alerts = client.get("/v1/alerts", params={"state": "firing", "region": "320300"}).json()["alerts"]
        return alerts[0] if alerts else None

    alert = wait_for(firing, timeout=30, what="Xuzhou's alert to fire")
    alert_id = alert["alert_id"]
    deadline = (dt.datetime.now(CST) + dt.timedelta(days=7)).isoformat()
    with stack.client("alerts", city) as client:
        planned = client.post(f"/v1/alerts/{alert_id}/rectification",
                              json={"unit": "徐州市农业农村局", "deadline": deadline, "comment": "整改"})
    assert planned.status_code == 200, planned.text

    # Three follow-ups among 240 passing results: 330 of 340 pass (97.1 %), back on target.
    with stack.client("intake", lab) as client:
        more = client.post("/v1/events/batch", json={"events": results(100, 240, 0, alert_id, follow_ups=3)})
        assert more.status_code == 202, more.text

    seen: list[Any] = []

    def timeline() -> list[str] | None:
        with stack.client("alerts", city) as client:
            body = client.get(f"/v1/alerts/{alert_id}/timeline").json()
            alert = client.get(f"/v1/alerts/{alert_id}").json()
        kinds = [e["kind"] for e in body["entries"]]
        seen[:] = [kinds, alert.get("state"), alert.get("status"), alert.get("value"), body.get("rectification")]
        return kinds if "closed" in kinds else None

    try:
        kinds = wait_for(timeline, timeout=60, what="the alert to close")
    except Exception:
        pytest.fail(f"not closed: {seen}")
    assert kinds[0] == "fired"
    for step in ("notified", "acknowledged", "plan_set", "follow_up_received", "rectified", "resolved", "closed"):
        assert step in kinds, (step, kinds)
    notices = wait_for(lambda: {a.get("notice") for h in receiver.snapshot() for a in h.json["alerts"]} >= {
        "started", "closed"} and receiver.snapshot(), timeout=30, what="the closed notice")
    assert all(h.json["agency_id"] == "city-3203" for h in notices)
