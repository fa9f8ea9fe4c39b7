"""What a lab sees from the event endpoints (recording publisher fake, SQLite; no Kafka here)."""

from __future__ import annotations

import orjson
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, text

from services.intake.body import nesting_depth
from tests.intake.support import ADMIN, FakePublisher, auth, figure, inspection, survey, with_changes


def _rows(client: TestClient) -> int:
    engine = create_engine(client.app.state.settings.effective_database_url)
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM intake_event")).scalar_one()
    engine.dispose()
    return count


def _metric(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_a_valid_event_is_published_with_its_key_and_headers_and_answered_202(client, lab_key, publisher):
    event = inspection("lab0001-2026-000123")
    response = client.post("/v1/events", json=event, headers=auth(lab_key))
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 1, "duplicates": 0, "event_ids": ["lab0001-2026-000123"]}
    [(topic, message)] = publisher.published
    assert topic == "qw.events"
    assert message.key == b"sample:S-lab0001-2026-000123"
    assert orjson.loads(message.value)["data"]["verdict"] == "pass"
    headers = dict(message.headers)
    assert set(headers) == {"qw-content-hash", "qw-received-at", "qw-sender"}
    assert headers["qw-sender"] == b"lab:LAB-0001"
    assert headers["qw-received-at"] == b"2026-11-28T02:00:00+00:00"
    assert len(headers["qw-content-hash"]) == 64
    assert _rows(client) == 1


def test_resending_the_same_event_is_a_duplicate_and_not_published_again(client, lab_key, publisher, registry):
    event = inspection()
    first = client.post("/v1/events", json=event, headers=auth(lab_key))
    again = client.post("/v1/events", json=event, headers=auth(lab_key))
    assert first.json()["accepted"] == 1
    assert again.status_code == 202
    assert again.json() == {"accepted": 0, "duplicates": 1, "event_ids": [event["event_id"]]}
    assert len(publisher.published) == 1
    assert _metric(registry, "qw_intake_duplicates_total") == 1


def test_the_same_content_with_keys_in_another_order_is_still_a_duplicate(client, lab_key, publisher):
    event = inspection()
    reordered = {key: event[key] for key in reversed(list(event))}
    client.post("/v1/events", json=event, headers=auth(lab_key))
    response = client.post("/v1/events", json=reordered, headers=auth(lab_key))
    assert response.json()["duplicates"] == 1
    assert len(publisher.published) == 1


def test_reusing_an_event_id_with_other_content_is_409_naming_the_event(client, lab_key, publisher, registry):
    event = inspection("lab-reuse-1")
    client.post("/v1/events", json=event, headers=auth(lab_key))
    changed = with_changes(event, "data.verdict", "fail")
    response = client.post("/v1/events/batch", json={"events": [inspection(), changed]}, headers=auth(lab_key))
    assert response.status_code == 409
    # The conflict also names the sample (issue 18 item 7: a clerk finds it by its sample id).
    assert response.json()["conflicts"] == [{"index": 1, "event_id": "lab-reuse-1", "sample_id": "S-lab-reuse-1"}]
    assert "lab-reuse-1" in response.json()["detail"]
    assert len(publisher.published) == 1, "nothing from the conflicting request may be published"
    assert _rows(client) == 1
    assert _metric(registry, "qw_intake_conflicts_total") == 1
    assert _metric(registry, "qw_intake_events_rejected_total", reason="conflict") == 2


def test_a_batch_is_accepted_whole_and_counted_per_type(client, publisher, registry):
    events = [inspection(), inspection(verdict="fail"), figure(), survey()]
    # Lab results beside agency statements: only an operator key may post both in one batch.
    response = client.post("/v1/events/batch", json={"events": events}, headers=auth(ADMIN))
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 4, "duplicates": 0, "event_ids": [e["event_id"] for e in events]}
    assert len(publisher.published) == 4
    assert _metric(registry, "qw_intake_events_accepted_total", type="inspection.completed") == 2
    assert _metric(registry, "qw_intake_events_accepted_total", type="survey.scored") == 1
    assert _metric(registry, "qw_intake_batch_size_count") == 1
    assert _metric(registry, "qw_intake_publish_seconds_count") == 1


def test_a_batch_with_one_bad_event_lists_every_problem_and_publishes_nothing(client, lab_key, publisher):
    good = inspection()
    bad_verdict = inspection(verdict="maybe")
    two_problems = with_changes(with_changes(inspection(), "data.region", "999999"), "event_id", "bad id!")
    response = client.post("/v1/events/batch", json={"events": [good, bad_verdict, two_problems]},
                           headers=auth(lab_key))
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "2 events are invalid; nothing was accepted"
    found = {(e["index"], e["path"]) for e in body["errors"]}
    assert found == {(1, "$.data.verdict"), (2, "$.event_id"), (2, "$.data.region")}
    assert all(e["message"] for e in body["errors"])
    assert publisher.published == []
    assert _rows(client) == 0


def test_the_single_endpoint_reports_problems_with_index_zero(client, lab_key):
    response = client.post("/v1/events", json=survey(score=101), headers=auth(lab_key))
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["index"] == 0
    assert error["path"] == "$.data.score"
    assert "100" in error["message"]


def test_a_lab_key_may_not_post_another_labs_event_and_hears_which_one(client, lab_key, publisher, registry):
    events = [inspection(), inspection(lab_id="LAB-0002")]
    response = client.post("/v1/events/batch", json={"events": events}, headers=auth(lab_key))
    assert response.status_code == 403
    assert "event index 1" in response.json()["detail"]
    assert "LAB-0002" in response.json()["detail"]
    assert publisher.published == []
    assert _metric(registry, "qw_intake_events_rejected_total", reason="forbidden") == 2


def test_an_agency_key_may_not_post_events(client):
    created = client.post("/v1/api-keys", json={"role": "agency", "agency_id": "agri"}, headers=auth(ADMIN))
    response = client.post("/v1/events", json=inspection(), headers=auth(created.json()["api_key"]))
    assert response.status_code == 403
    assert "agency" in response.json()["detail"]


def test_an_operator_may_post_for_any_lab(client, publisher):
    response = client.post("/v1/events", json=inspection(lab_id="LAB-0777"), headers=auth(ADMIN))
    assert response.status_code == 202
    assert orjson.loads(publisher.published[0][1].value)["lab_id"] == "LAB-0777"


def test_posting_without_a_token_is_401(client, publisher):
    assert client.post("/v1/events", json=inspection()).status_code == 401
    assert client.post("/v1/events", json=inspection(), headers=auth("qw_not-a-key")).status_code == 401
    assert publisher.published == []


def test_a_body_over_the_limit_is_413_naming_the_limit(client, lab_key, registry):
    padding = "x" * (1024 * 1024)
    response = client.post("/v1/events", content=orjson.dumps({"pad": padding}),
                           headers={**auth(lab_key), "Content-Type": "application/json"})
    assert response.status_code == 413
    assert "1048576 bytes" in response.json()["detail"]
    assert _metric(registry, "qw_intake_events_rejected_total", reason="too_large") == 1


def test_a_chunked_body_over_the_limit_is_413_even_without_content_length(client, lab_key):
    def chunks():
        for _ in range(20):
            yield b" " * 65536
        yield b"{}"

    headers = {**auth(lab_key), "Content-Type": "application/json"}
    response = client.post("/v1/events", content=chunks(), headers=headers)
    assert response.status_code == 413


def test_a_body_that_is_not_json_by_content_type_is_415(client, lab_key):
    response = client.post("/v1/events", content=orjson.dumps(inspection()),
                           headers={**auth(lab_key), "Content-Type": "text/plain"})
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]


def test_json_with_a_charset_parameter_is_fine(client, lab_key):
    response = client.post("/v1/events", content=orjson.dumps(inspection()),
                           headers={**auth(lab_key), "Content-Type": "application/json; charset=utf-8"})
    assert response.status_code == 202


def test_malformed_json_is_400_with_the_parse_position(client, lab_key):
    response = client.post("/v1/events", content=b'{"event_id": "a",\n "type": }',
                           headers={**auth(lab_key), "Content-Type": "application/json"})
    assert response.status_code == 400
    assert "line 2 column" in response.json()["detail"]


def test_deeply_nested_json_is_400(client, lab_key):
    body = b'{"events": ' + b"[" * 40 + b"]" * 40 + b"}"
    response = client.post("/v1/events/batch", content=body,
                           headers={**auth(lab_key), "Content-Type": "application/json"})
    assert response.status_code == 400
    assert "nested deeper than 32" in response.json()["detail"]


def test_the_same_event_twice_in_one_batch_counts_once(client, lab_key, publisher):
    event = inspection()
    response = client.post("/v1/events/batch", json={"events": [event, event]}, headers=auth(lab_key))
    assert response.json() == {"accepted": 1, "duplicates": 1, "event_ids": [event["event_id"]] * 2}
    assert len(publisher.published) == 1


def test_one_event_id_with_two_contents_in_one_batch_is_409(client, lab_key, publisher):
    event = inspection()
    response = client.post("/v1/events/batch", json={"events": [event, with_changes(event, "data.verdict", "fail")]},
                           headers=auth(lab_key))
    assert response.status_code == 409
    assert response.json()["conflicts"] == [{"index": 1, "event_id": event["event_id"], "sample_id": "S-x"}]
    assert publisher.published == []


def test_a_dead_broker_gives_503_with_retry_after_and_records_nothing(client, lab_key, publisher, registry):
    publisher.down = True
    event = inspection()
    response = client.post("/v1/events", json=event, headers=auth(lab_key))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json() == {"detail": "event store unavailable, retry"}
    assert _rows(client) == 0
    assert _metric(registry, "qw_intake_publish_failures_total") == 1
    assert client.get("/readyz").json()["failing"].keys() == {"kafka"}
    publisher.down = False
    retried = client.post("/v1/events", json=event, headers=auth(lab_key))
    assert retried.json()["accepted"] == 1


def test_readiness_is_ready_when_database_and_publisher_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == ["database", "kafka"]


def test_intake_metrics_are_exposed_with_fixed_names(client):
    text_body = client.get("/metrics").text
    for name in ("qw_intake_events_accepted_total", "qw_intake_events_rejected_total", "qw_intake_duplicates_total",
                 "qw_intake_conflicts_total", "qw_intake_publish_seconds", "qw_intake_batch_size",
                 "qw_intake_publish_failures_total"):
        assert name in text_body


def test_nesting_depth_counts_containers_not_scalars():
    assert nesting_depth(1, 32) == 0
    assert nesting_depth({"a": [1, {"b": []}]}, 32) == 4
    assert nesting_depth([[[[[]]]]], 2) == 3, "counting stops once past the limit"



def test_event_requests_are_measured_under_their_route_templates_with_their_status(client, lab_key, registry):
    client.post("/v1/events", json=inspection("route-metric-1"), headers=auth(lab_key))
    client.post("/v1/events/batch", json={"events": [inspection("route-metric-2")]}, headers=auth(lab_key))
    client.post("/v1/events", json=inspection("route-metric-3"), headers=auth("not-a-key"))
    assert client.get("/v1/events", headers=auth(lab_key)).status_code == 405
    labels = {"service": "intake", "method": "POST"}
    assert _metric(registry, "qw_http_requests_total", route="/v1/events", status="202", **labels) == 1
    assert _metric(registry, "qw_http_requests_total", route="/v1/events/batch", status="202", **labels) == 1
    assert _metric(registry, "qw_http_requests_total", route="/v1/events", status="401", **labels) == 1
    assert _metric(registry, "qw_http_request_seconds_count", service="intake", route="/v1/events") == 3


def test_a_client_that_goes_away_mid_body_gets_no_answer_and_nothing_is_accepted(
        client: TestClient, publisher: FakePublisher, lab_key: str) -> None:
    messages = [{"type": "http.request", "body": b'{"event_id": "half', "more_body": True},
                {"type": "http.disconnect"}]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/events", "query_string": b"", "root_path": "",
             "headers": [(b"authorization", f"Bearer {lab_key}".encode()), (b"content-type", b"application/json")]}
    client.portal.call(client.app, scope, receive, send)  # type: ignore[union-attr]  # no exception, no 500
    assert sent == []
    assert publisher.published == []


def test_events_posted_while_intake_is_not_serving_get_503_with_retry_after(tmp_path, sqlite_url) -> None:  # noqa: ANN001
    from services.intake.app import create_app
    from tests.intake.support import settings_for

    app = create_app(settings_for(sqlite_url, tmp_path), registry=CollectorRegistry())
    not_started = TestClient(app)  # no lifespan: the intake behind the event routes is not built
    response = not_started.post("/v1/events", json=inspection(), headers=auth(ADMIN))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "retry" in response.json()["detail"]
