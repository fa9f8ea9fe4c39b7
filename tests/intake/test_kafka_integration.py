"""Intake against the real Kafka broker and the real databases (SQLite and PostgreSQL).

What is published is read back from the topic and counted exactly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, text

from services.intake.app import create_app
from shared.db import migrate
from shared.settings import Settings
from tests.intake.kafka_reading import event_ids, read_topic
from tests.intake.support import ADMIN, NOW, auth, inspection, settings_for, with_changes
from tests.support import FixedClock

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(db_url: str, tmp_path: Path, kafka_broker, kafka_topic_prefix: str) -> Settings:
    settings = settings_for(db_url, tmp_path, kafka_bootstrap=kafka_broker.bootstrap,
                            topic_prefix=kafka_topic_prefix, publish_timeout_seconds=3.0)
    kafka_broker.create_topics({settings.events_topic: 3})
    migrate(db_url)
    return settings


def _client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings, clock=FixedClock(NOW), registry=CollectorRegistry()))


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with _client(settings) as test_client:
        yield test_client


def _recorded(settings: Settings) -> int:
    engine = create_engine(settings.effective_database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM intake_event")).scalar_one()
    finally:
        engine.dispose()


def test_a_posted_event_is_on_the_topic_with_its_key_and_headers(client, settings, kafka_broker):
    event = inspection("lab0001-2026-000123")
    response = client.post("/v1/events", json=event, headers=auth(ADMIN))
    assert response.status_code == 202, response.text
    [record] = read_topic(kafka_broker.bootstrap, settings.events_topic)
    assert record.key == b"sample:S-lab0001-2026-000123"
    published = orjson.loads(record.value)
    assert published["event_id"] == "lab0001-2026-000123"
    assert published["data"]["region"] == "320500"
    headers = dict(record.headers)
    assert set(headers) == {"qw-content-hash", "qw-received-at", "qw-sender"}
    assert headers["qw-received-at"] == b"2026-11-28T02:00:00+00:00"
    assert len(headers["qw-content-hash"]) == 64
    assert _recorded(settings) == 1


def test_a_repost_is_a_duplicate_and_is_not_published_again(client, settings, kafka_broker):
    event = inspection()
    batch = {"events": [inspection(), inspection()]}
    assert client.post("/v1/events", json=event, headers=auth(ADMIN)).json()["accepted"] == 1
    assert client.post("/v1/events/batch", json=batch, headers=auth(ADMIN)).json()["accepted"] == 2
    again = client.post("/v1/events", json=event, headers=auth(ADMIN))
    batch_again = client.post("/v1/events/batch", json=batch, headers=auth(ADMIN))
    assert again.json() == {"accepted": 0, "duplicates": 1, "event_ids": [event["event_id"]]}
    assert batch_again.json()["duplicates"] == 2
    ids = event_ids(read_topic(kafka_broker.bootstrap, settings.events_topic))
    assert sorted(ids) == sorted([event["event_id"], *(e["event_id"] for e in batch["events"])])
    assert _recorded(settings) == 3


def test_a_batch_with_one_bad_event_publishes_nothing(client, settings, kafka_broker):
    events = [inspection() for _ in range(5)] + [with_changes(inspection(), "data.category", "spaceships")]
    response = client.post("/v1/events/batch", json={"events": events}, headers=auth(ADMIN))
    assert response.status_code == 422
    # An unknown category is located at its own field (issue 18 item 7), no longer at $.data.
    assert [(e["index"], e["path"]) for e in response.json()["errors"]] == [(5, "$.data.category")]
    assert read_topic(kafka_broker.bootstrap, settings.events_topic) == []
    assert _recorded(settings) == 0


def test_a_conflicting_repost_publishes_nothing_more(client, settings, kafka_broker):
    event = inspection()
    client.post("/v1/events", json=event, headers=auth(ADMIN))
    batch = {"events": [inspection(), with_changes(event, "data.verdict", "fail")]}
    response = client.post("/v1/events/batch", json=batch, headers=auth(ADMIN))
    assert response.status_code == 409
    assert event_ids(read_topic(kafka_broker.bootstrap, settings.events_topic)) == [event["event_id"]]


def test_two_intake_instances_racing_on_one_event_both_answer_202_and_publish_it_at_most_twice(
        settings, kafka_broker):
    # Both instances may see the event as new and publish it; the indicators consumer de-duplicates
    # by event_id downstream, so the figure still counts it once. Intake records it once.
    event = inspection()
    barrier = threading.Barrier(2)
    answers: list[int] = []
    with _client(settings) as first, _client(settings) as second:
        def post(client: TestClient) -> None:
            barrier.wait()
            answers.append(client.post("/v1/events", json=event, headers=auth(ADMIN)).status_code)

        threads = [threading.Thread(target=post, args=(c,)) for c in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        later = second.post("/v1/events", json=event, headers=auth(ADMIN))
    assert answers == [202, 202]
    assert later.json()["duplicates"] == 1
    published = event_ids(read_topic(kafka_broker.bootstrap, settings.events_topic))
    assert 1 <= published.count(event["event_id"]) <= 2
    assert _recorded(settings) == 1


@pytest.mark.drill
def test_a_stopped_broker_gives_503_and_the_same_request_is_accepted_once_it_is_back(client, settings, kafka_broker):
    warm = client.post("/v1/events", json=inspection(), headers=auth(ADMIN))
    assert warm.status_code == 202
    event = inspection()
    kafka_broker.stop()
    try:
        response = client.post("/v1/events", json=event, headers=auth(ADMIN))
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert response.json() == {"detail": "event store unavailable, retry"}
        assert _recorded(settings) == 1, "only the warm-up event is recorded"
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "kafka" in ready.json()["failing"]
        cold = client.post("/v1/events", json=inspection(), headers=auth(ADMIN))
        assert cold.status_code == 503, "a fresh producer cannot connect either"
    finally:
        kafka_broker.start()
    deadline = time.monotonic() + 60
    status = None
    while time.monotonic() < deadline:
        status = client.post("/v1/events", json=event, headers=auth(ADMIN)).status_code
        if status == 202:
            break
        time.sleep(0.5)
    assert status == 202, "intake recovers without a restart"
    published = event_ids(read_topic(kafka_broker.bootstrap, settings.events_topic))
    assert 1 <= published.count(event["event_id"]) <= 2, "at least once; downstream dedups by event_id"
    assert _recorded(settings) == 2


def _sheet(rows: list[list[str]]) -> bytes:
    import io

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "检验结果"
    sheet.append(["样品编号", "抽检计划", "产品类别", "地区", "检验结论", "检验完成时间"])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_uploaded_file_is_on_the_topic_once_however_often_it_is_sent(client, settings, kafka_broker):
    """The upload's 202 means every row is on the topic (the batch API's path); the same file again publishes
    nothing, and a file with one bad row publishes nothing at all."""
    key = client.post("/v1/api-keys", json={"role": "lab", "lab_id": "LAB-0001"}, headers=auth(ADMIN)).json()
    rows = [[f"S-up-{i}", "主要地产农产品质量例行监测", "蔬菜", "昆山市", "合格", "2026-11-20 10:15"]
            for i in range(300)]
    data = _sheet(rows)
    first = client.post("/v1/uploads", files={"file": ("检验结果.xlsx", data)}, headers=auth(key["api_key"]))
    assert first.status_code == 202 and first.json()["accepted"] == 300, first.text
    again = client.post("/v1/uploads", files={"file": ("检验结果.xlsx", data)}, headers=auth(key["api_key"]))
    assert again.status_code == 202 and again.json()["duplicates"] == 300
    bad = _sheet([*rows[:5], ["S-up-new", "主要地产农产品质量例行监测", "蔬菜", "320599", "合格", "2026-11-20 10:15"]])
    refused = client.post("/v1/uploads", files={"file": ("检验结果.xlsx", bad)}, headers=auth(key["api_key"]))
    assert refused.status_code == 422
    records = read_topic(kafka_broker.bootstrap, settings.events_topic)
    assert len(records) == 300 and len(event_ids(records)) == 300
    assert {orjson.loads(r.value)["data"]["region"] for r in records} == {"320583"}
    assert _recorded(settings) == 300
