"""The whole alert service against the real broker and database: figures on the topic in, one
signed webhook out."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from devtools.localinfra import LocalKafka
from services.alerts.app import create_app
from shared.db import migrate
from shared.figures import FigureChanged
from shared.kafka import make_producer
from shared.settings import Settings
from tests.alerts.support import SECRET, Receiver, figure
from tests.support import wait_for

pytestmark = pytest.mark.integration

ADMIN = {"Authorization": "Bearer admin-token"}


def test_figures_published_to_the_topic_reach_the_agency_as_exactly_one_signed_webhook(
        kafka_broker: LocalKafka, kafka_topic_prefix: str, db_url: str, tmp_path: Path, receiver: Receiver) -> None:
    migrate(db_url)
    settings = Settings(database_url=db_url, data_dir=tmp_path, kafka_bootstrap=kafka_broker.bootstrap,
                        topic_prefix=kafka_topic_prefix, alerts_group=f"{kafka_topic_prefix}alerts",
                        admin_token="admin-token", allow_private_webhooks=True, evaluation_interval_seconds=0.2,
                        delivery_poll_seconds=0.1, alert_for_seconds=0, alert_resolve_for_seconds=0,
                        dashboard_origins="")
    topic = settings.figures_topic
    kafka_broker.create_topics({topic: 3})
    registry = CollectorRegistry()
    app = create_app(settings, registry=registry, http_client=httpx.Client(trust_env=False, timeout=5))
    with TestClient(app) as client:
        created = client.post("/v1/agencies/agri/subscriptions", headers=ADMIN,
                              json={"url": receiver.url(), "secret": SECRET, "min_severity": "warning"})
        assert created.status_code == 201, created.text
        now = dt.datetime.now(dt.UTC)
        bad = FigureChanged(figure=figure("breach", as_of=now), previous_status="ok", changed_at=now,
                            event_ids=("lab0001-2026-000123",))
        healthy = FigureChanged(figure=figure("ok", indicator="national_spot_check_pass_rate"), changed_at=now)
        producer = make_producer(settings.kafka_bootstrap, client_id="test-indicators")
        try:
            for garbage in (b"not json", b'{"figure": 1}'):  # skipped and counted, the rest still applied
                producer.send(topic, key=b"garbage", value=garbage)
            for message in (bad, bad, healthy):  # the same figure twice: a redelivery
                producer.send(topic, key=message.figure.key.encode(), value=message.model_dump_json().encode())
            producer.flush(timeout=30)
        finally:
            producer.close()

        wait_for(lambda: len(receiver.requests) >= 1, timeout=60, what="the webhook")

        def settled() -> bool:
            lags = [s.value for metric in registry.collect() if metric.name == "qw_alerts_consumer_lag"
                    for s in metric.samples]
            pending = client.get("/v1/deliveries?status=pending", headers=ADMIN).json()["deliveries"]
            return len(lags) == 3 and sum(lags) == 0 and not pending
        wait_for(settled, timeout=30, what="every figure consumed and committed, nothing pending")

        (request,) = receiver.requests
        assert receiver.verify(request, SECRET, dt.datetime.now(dt.UTC))
        assert registry.get_sample_value("qw_alerts_undecodable_figures_total") == 2
        body = request.json
        assert (body["agency_id"], body["status"], [a["severity"] for a in body["alerts"]]) == (
            "agri", "firing", ["critical"])
        assert request.headers["idempotency-key"] == body["delivery_id"]
        (delivery,) = client.get("/v1/deliveries", headers=ADMIN).json()["deliveries"]
        assert (delivery["delivery_id"], delivery["status"]) == (body["delivery_id"], "delivered")
        (alert,) = client.get("/v1/alerts", headers=ADMIN).json()["alerts"]
        assert alert["alert_id"] == body["alerts"][0]["alert_id"]
        assert registry.get_sample_value("qw_alerts_notifications_total", {"outcome": "delivered"}) == 1
        assert client.get("/readyz").status_code == 200
