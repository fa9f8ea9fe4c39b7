"""Every instant in every API answer of the three services, and in the webhook body: RFC 3339, +08:00, ms at most."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from services.alerts.models import Delivery
from services.indicators.models import DeadLetter
from shared.clock import rfc3339
from shared.db import transaction
from shared.figures import FigureChanged
from tests.alerts.support import figure
from tests.api.apps import ADMIN, NOW, Services, running_services

INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?\+08:00$")
LOOKS_LIKE_AN_INSTANT = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d")


def instants(value: Any, path: str = "$") -> Iterator[tuple[str, str]]:
    """Every string in a JSON answer that is (or tries to be) a date-time, with its path."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from instants(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from instants(item, f"{path}[{index}]")
    elif isinstance(value, str) and LOOKS_LIKE_AN_INSTANT.match(value):
        yield path, value


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    with running_services(tmp_path) as running:
        yield running


def answers(services: Services) -> dict[str, Any]:
    """One answer of every GET route that carries instants, with data behind each."""
    out: dict[str, Any] = {}
    intake = services.client("intake")
    created = intake.post("/v1/api-keys", json={"role": "agency", "agency_id": "agri"}, headers=ADMIN)
    assert created.status_code == 201, created.text
    out["POST /v1/api-keys"] = created.json()
    intake.delete(f"/v1/api-keys/{created.json()['key_id']}", headers=ADMIN)
    out["GET /v1/api-keys"] = intake.get("/v1/api-keys", headers=ADMIN).json()

    indicators = services.client("indicators")
    with transaction(services.apps["indicators"].state.sessions) as session:
        session.add(DeadLetter(reason="decode", error="bad", event_id="e-1", source_topic="qw.events",
                               source_partition=0, source_offset=1, key=None, raw_value=b"{}", headers="[]",
                               received_at=NOW, replayed_at=NOW))
    for route in ("/v1/indicators/agri_sampling_pass_rate?region=320300", "/v1/scorecard?window=30d",
                  "/v1/dead-letters?include_replayed=true"):
        response = indicators.get(route, headers=ADMIN)
        assert response.status_code == 200, (route, response.text)
        out[f"GET {route}"] = response.json()

    alerts = services.client("alerts")
    runtime = services.apps["alerts"].state.alerts
    runtime.settings.allow_private_webhooks = True
    subscribed = alerts.post("/v1/agencies/agri/subscriptions", headers=ADMIN,
                             json={"url": "https://hooks.example.org/qw", "secret": "s" * 20})
    assert subscribed.status_code == 201, subscribed.text
    out["POST subscription"] = subscribed.json()
    for status in ("at_risk", "breach"):
        services.clock.advance(dt.timedelta(seconds=1, microseconds=1234))
        now = services.clock.now()
        runtime.service.handle_figures([FigureChanged(figure=figure(status, as_of=now), changed_at=now)], now)
    silence = alerts.post("/v1/silences", headers=ADMIN, json={"region": "320100", "duration_seconds": 600.5,
                                                               "reason": "maintenance"})
    assert silence.status_code == 201, silence.text
    (alert,) = alerts.get("/v1/alerts?state=all", headers=ADMIN).json()["alerts"]
    acked = alerts.post(f"/v1/alerts/{alert['alert_id']}/ack", headers=ADMIN, json={"comment": "on it"})
    assert acked.status_code == 200, acked.text
    for route in ("/v1/alerts?state=all", f"/v1/alerts/{alert['alert_id']}", "/v1/silences",
                  "/v1/agencies/agri/subscriptions", "/v1/deliveries"):
        response = alerts.get(route, headers=ADMIN)
        assert response.status_code == 200, (route, response.text)
        out[f"GET {route}"] = response.json()
    (delivery,) = out["GET /v1/deliveries"]["deliveries"][:1]
    out["GET delivery"] = alerts.get(f"/v1/deliveries/{delivery['delivery_id']}", headers=ADMIN).json()
    with runtime.service.write() as session:
        bodies = [orjson.loads(row.body) for row in session.scalars(select(Delivery))]
    out["webhook bodies"] = bodies
    return out


def test_every_instant_in_every_answer_and_webhook_is_cst_with_at_most_milliseconds(services: Services) -> None:
    found = {where: list(instants(body)) for where, body in answers(services).items()}
    wrong = [(where, path, value) for where, items in found.items() for path, value in items
             if not INSTANT.match(value)]
    assert wrong == []
    seen = {path.rsplit(".", 1)[-1] for items in found.values() for path, _ in items}
    assert seen >= {"created_at", "revoked_at", "as_of", "received_at", "replayed_at", "started_at", "acked_at",
                    "starts_at", "ends_at", "at", "sent_at", "figure_as_of", "next_attempt_at"}, seen


def test_the_instants_are_the_same_instants_only_written_in_cst() -> None:
    assert rfc3339(NOW) == "2026-12-02T14:19:48.405+08:00"
    assert dt.datetime.fromisoformat(rfc3339(NOW)) == NOW.replace(microsecond=405000)
    assert rfc3339(NOW.replace(microsecond=0)) == "2026-12-02T14:19:48+08:00"
