"""A corpus of malformed and hostile requests: each gets its expected refusal, and nothing leaks.

Runs against the real broker and SQLite. After the whole corpus the topic must be empty and the
intake ledger must have no row; a valid event posted last proves the check can see a publication.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, text

from services.intake.app import create_app
from shared.db import migrate
from tests.intake.kafka_reading import event_ids, read_topic
from tests.intake.support import ADMIN, NOW, REMOVE, auth, figure, inspection, settings_for, survey, with_changes
from tests.support import FixedClock

pytestmark = pytest.mark.integration

JSON = "application/json"


def acceptance(**data: Any) -> dict[str, Any]:
    body = {"project_id": "P-1", "size": "large", "region": "320500", "first_time_pass": True}
    body.update(data)
    return {"event_id": "acc-1", "type": "acceptance.completed", "occurred_at": "2026-11-28T09:00:00+08:00",
            "lab_id": "LAB-0001", "data": body}


def milestone(**data: Any) -> dict[str, Any]:
    body = {"indicator": "luban_awards", "region": "320000", "count": 1}
    body.update(data)
    return {"event_id": "ms-1", "type": "milestone.reported", "occurred_at": "2026-11-28T09:00:00+08:00",
            "lab_id": "LAB-0001", "data": body}


def change(path: str, value: Any, base: Callable[[], dict[str, Any]] = lambda: inspection("corpus-1")) -> dict:
    return with_changes(base(), path, value)


def raw_event(sample_id_json: bytes) -> bytes:
    """An otherwise valid event whose sample_id is the given raw JSON bytes (for invalid UTF-8)."""
    event = orjson.dumps(inspection("corpus-raw", sample_id="PLACEHOLDER"))
    return event.replace(b'"PLACEHOLDER"', sample_id_json)


@dataclass(frozen=True)
class Case:
    name: str
    body: Any  # a JSON value, or bytes sent as they are
    status: int
    path: str | None = None  # for 422: a path that must be among the problems
    endpoint: str = "/v1/events"
    content_type: str | None = JSON
    token: str = "admin"  # admin | lab | agency | none
    index: int | None = 0
    headers: dict[str, str] = field(default_factory=dict)


CORPUS: list[Case] = [
    # envelope
    Case("event_id is a number", change("event_id", 123), 422, "$.event_id"),
    Case("event_id missing", change("event_id", REMOVE), 422, "$.event_id"),
    Case("event_id empty", change("event_id", ""), 422, "$.event_id"),
    Case("event_id 101 characters", change("event_id", "e" * 101), 422, "$.event_id"),
    Case("event_id with a space", change("event_id", "lab 1"), 422, "$.event_id"),
    Case("event_id path traversal", change("event_id", "../../etc/passwd"), 422, "$.event_id"),
    Case("event_id SQL injection", change("event_id", "x'; DROP TABLE intake_event;--"), 422, "$.event_id"),
    Case("event_id with NUL byte", change("event_id", "ev\u0000-1"), 422, "$.event_id"),
    Case("lab_id log4j lookup string", change("lab_id", "${jndi:ldap://evil/a}"), 422, "$.lab_id"),
    Case("lab_id empty", change("lab_id", ""), 422, "$.lab_id"),
    Case("unexpected top-level field", change("priority", "high"), 422, "$.priority"),
    Case("type missing", change("type", REMOVE), 422, "$.type"),
    Case("unknown type", change("type", "inspection.started"), 422, "$.type"),
    Case("type is a list", change("type", ["inspection.completed"]), 422, "$.type"),
    Case("data missing", change("data", REMOVE), 422, "$.data"),
    Case("data is a string", change("data", "pass"), 422, "$.data"),
    Case("naive timestamp", change("occurred_at", "2026-11-28T09:15:00"), 422, "$.occurred_at"),
    Case("timestamp 6 minutes in the future", change("occurred_at", "2026-11-28T10:06:00+08:00"), 422,
         "$.occurred_at"),
    Case("ancient timestamp", change("occurred_at", "2020-01-01T00:00:00+08:00"), 422, "$.occurred_at"),
    Case("timestamp in words", change("occurred_at", "yesterday"), 422, "$.occurred_at"),
    Case("timestamp as epoch number", change("occurred_at", 1796000000), 422, "$.occurred_at"),
    # inspection data
    Case("template injection in sample_id", change("data.sample_id", "{{7*7}}"), 422, "$.data.sample_id"),
    Case("RTL override in sample_id", change("data.sample_id", "S-1\u202eexe.txt"), 422, "$.data.sample_id"),
    Case("SQL injection in enterprise_id", change("data.enterprise_id", "1 OR 1=1"), 422,
         "$.data.enterprise_id"),
    Case("unknown field in data", change("data.colour", "green"), 422, "$.data.colour"),
    Case("verdict in capitals", change("data.verdict", "PASS"), 422, "$.data.verdict"),
    Case("verdict missing", change("data.verdict", REMOVE), 422, "$.data.verdict"),
    # Located at the field itself since issue 18 item 7 (before: $.data), with the valid values listed.
    Case("unknown programme", change("data.programme", "moon-monitoring"), 422, "$.data.programme"),
    Case("unknown category", change("data.category", "spaceships"), 422, "$.data.category"),
    Case("region outside Jiangsu", change("data.region", "110000"), 422, "$.data.region"),
    Case("region with five digits", change("data.region", "32050"), 422, "$.data.region"),
    Case("region as a number", change("data.region", 320500), 422, "$.data.region"),
    Case("revision zero", change("data.revision", 0), 422, "$.data.revision"),
    Case("revision as a string", change("data.revision", "2"), 422, "$.data.revision"),
    Case("revision as a bool", change("data.revision", True), 422, "$.data.revision"),
    Case("501 inspection items", change("data.items", [{"name": "Pb", "verdict": "pass"}] * 501), 422,
         "$.data.items"),
    Case("item with NUL byte in its name", change("data.items", [{"name": "P\u0000b", "verdict": "pass"}]), 422,
         "$.data.items[0].name"),
    # other event types
    Case("score 101", survey("s-1", score=101), 422, "$.data.score"),
    Case("score negative", survey("s-1", score=-0.5), 422, "$.data.score"),
    Case("score as a string", survey("s-1", score="80"), 422, "$.data.score"),
    Case("score as a bool", survey("s-1", score=True), 422, "$.data.score"),
    Case("respondents 0", survey("s-1", respondents=0), 422, "$.data.respondents"),
    Case("respondents negative", survey("s-1", respondents=-3), 422, "$.data.respondents"),
    Case("respondents huge", survey("s-1", respondents=10**30), 422, "$.data.respondents"),
    Case("respondents bool where int expected", survey("s-1", respondents=True), 422, "$.data.respondents"),
    Case("respondents as a float", survey("s-1", respondents=12.5), 422, "$.data.respondents"),
    Case("unknown survey sector", survey("s-1", sector="public_services"), 422, "$.data.sector"),
    Case("numerator above denominator", figure("f-1", numerator=101, denominator=100), 422, "$.data"),
    Case("denominator 0", figure("f-1", numerator=0, denominator=0), 422, "$.data.denominator"),
    Case("negative numerator", figure("f-1", numerator=-1, denominator=10), 422, "$.data.numerator"),
    Case("both value and numerator", figure("f-1", value=0.4), 422, "$.data"),
    Case("period 2026-13", figure("f-1", period="2026-13"), 422, "$.data.period"),
    Case("period 2026-Q5", figure("f-1", period="2026-Q5"), 422, "$.data.period"),
    Case("figure for an inspection indicator", figure("f-1", indicator="agri_sampling_pass_rate"), 422, "$.data"),
    Case("value for a share indicator", with_changes(figure("f-1", numerator=None, denominator=None, value=0.4),
                                                     "data.numerator", REMOVE), 422, "$.data"),
    Case("acceptance first_time_pass 'yes'", acceptance(first_time_pass="yes"), 422, "$.data.first_time_pass"),
    Case("acceptance size huge", acceptance(size="huge"), 422, "$.data.size"),
    Case("milestone count 0", milestone(count=0), 422, "$.data.count"),
    Case("milestone for a rate indicator", milestone(indicator="agri_sampling_pass_rate"), 422, "$.data.indicator"),
    # JSON and body level
    Case("lone surrogate as raw bytes", raw_event(b'"\xed\xa0\x80"'), 400),
    Case("lone surrogate as an escape", raw_event(b'"\\ud800"'), 400),
    Case("invalid UTF-8", raw_event(b'"\xff\xfe"'), 400),
    Case("NaN literal", raw_event(b"NaN"), 400),
    Case("number too large for a double", b'{"event_id": 1e400}', 400),
    Case("malformed JSON", b'{"event_id": "a", "type": }', 400),
    Case("trailing garbage", orjson.dumps(inspection("corpus-1")) + b"}", 400),
    Case("empty body", b"", 400),
    Case("whitespace body", b"  \n ", 400),
    Case("deeply nested JSON", b'{"data": ' + b'{"a": ' * 100 + b"1" + b"}" * 100 + b"}", 400),
    Case("a JSON array at the single endpoint", [inspection("corpus-1")], 422, "$"),
    Case("a JSON string at the single endpoint", "hello", 422, "$"),
    Case("null at the single endpoint", None, 422, "$"),
    Case("wrong content type", orjson.dumps(inspection("corpus-1")), 415, content_type="text/plain"),
    Case("form content type", b"event_id=1", 415, content_type="application/x-www-form-urlencoded"),
    Case("no content type", orjson.dumps(inspection("corpus-1")), 415, content_type=None),
    Case("body over 1 MiB", orjson.dumps({"pad": "x" * (1024 * 1024 + 1)}), 413),
    Case("declared length over the limit", b"{}", 413, headers={"Content-Length": str(10 * 1024 * 1024)}),
    # batches
    Case("1001-event batch", {"events": [inspection(f"b-{i}") for i in range(1001)]}, 422, "$.events",
         endpoint="/v1/events/batch", index=None),
    Case("empty batch", {"events": []}, 422, "$.events", endpoint="/v1/events/batch", index=None),
    Case("events is an object", {"events": {"0": inspection()}}, 422, "$.events", endpoint="/v1/events/batch",
         index=None),
    Case("batch without events", {"items": [inspection()]}, 422, "$.events", endpoint="/v1/events/batch",
         index=None),
    Case("batch as a bare list", [inspection()], 422, "$", endpoint="/v1/events/batch", index=None),
    Case("null inside a batch", {"events": [inspection("b-ok"), None]}, 422, "$", endpoint="/v1/events/batch",
         index=1),
    Case("one bad event among good ones", {"events": [inspection("b-1"), inspection("b-2"),
                                                      inspection("b-3", verdict="?")]},
         422, "$.data.verdict", endpoint="/v1/events/batch", index=2),
    Case("same event_id with two contents in a batch",
         {"events": [inspection("dup-1"), inspection("dup-1", verdict="fail")]}, 409,
         endpoint="/v1/events/batch"),
    # credentials
    Case("no token", inspection("corpus-1"), 401, token="none"),
    Case("lab key posting another lab's event", inspection("corpus-1", lab_id="LAB-0002"), 403, token="lab"),
    Case("lab key hiding another lab's event in a batch",
         {"events": [inspection("b-1"), inspection("b-2", lab_id="LAB-0009")]}, 403, token="lab",
         endpoint="/v1/events/batch"),
    Case("agency key posting an event", inspection("corpus-1"), 403, token="agency"),
]


def test_the_corpus_has_at_least_forty_distinct_cases():
    assert len(CORPUS) >= 40
    assert len({c.name for c in CORPUS}) == len(CORPUS)


def test_every_hostile_request_is_refused_as_expected_and_nothing_is_published_or_recorded(
        subtests, tmp_path: Path, sqlite_url: str, kafka_broker, kafka_topic_prefix: str):
    settings = settings_for(sqlite_url, tmp_path, kafka_bootstrap=kafka_broker.bootstrap,
                            topic_prefix=kafka_topic_prefix)
    kafka_broker.create_topics({settings.events_topic: 3})
    migrate(sqlite_url)
    with TestClient(create_app(settings, clock=FixedClock(NOW), registry=CollectorRegistry())) as client:
        tokens = {"admin": ADMIN, "lab": _key(client, {"role": "lab", "lab_id": "LAB-0001"}),
                  "agency": _key(client, {"role": "agency", "agency_id": "agri"})}
        for case in CORPUS:
            with subtests.test(case=case.name):
                response = _send(client, case, tokens)
                assert response.status_code == case.status, response.text[:500]
                body = response.json()
                assert body["detail"]
                if case.status == 422:
                    problems = [(e["index"], e["path"]) for e in body["errors"]]
                    assert (case.index, case.path) in problems, problems
                    assert all(e["message"] for e in body["errors"])
                if case.status == 413:
                    assert "limit of 1048576 bytes" in body["detail"]

        assert read_topic(kafka_broker.bootstrap, settings.events_topic) == [], "nothing may be published"
        assert _ledger_rows(settings.effective_database_url) == 0, "nothing may be recorded"

        # The check can see a publication: one valid event afterwards is on the topic and recorded.
        assert client.post("/v1/events", json=inspection("corpus-valid"), headers=auth(ADMIN)).status_code == 202
        assert event_ids(read_topic(kafka_broker.bootstrap, settings.events_topic)) == ["corpus-valid"]
        assert _ledger_rows(settings.effective_database_url) == 1


def _key(client: TestClient, body: dict[str, str]) -> str:
    response = client.post("/v1/api-keys", json=body, headers=auth(ADMIN))
    assert response.status_code == 201
    return response.json()["api_key"]


def _send(client: TestClient, case: Case, tokens: dict[str, str]):
    content = case.body if isinstance(case.body, bytes) else json.dumps(case.body).encode()
    headers = dict(case.headers)
    if case.content_type:
        headers["Content-Type"] = case.content_type
    if case.token != "none":
        headers.update(auth(tokens[case.token]))
    return client.post(case.endpoint, content=content, headers=headers)


def _ledger_rows(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM intake_event")).scalar_one()
    finally:
        engine.dispose()
