"""Every answer of ``POST /v1/events[/batch]``, status, headers and body, against a recorded fixture.

``tests/intake/data/event_answers.json`` was recorded from intake's previous event handler (a plain ASGI
callable in front of FastAPI); the routes now sit inside the framework and must still answer exactly so.
Re-record deliberately with ``QW_RECORD_EVENT_ANSWERS=1`` (the test then fails, so a recording is never
mistaken for a pass).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, text

from services.intake.app import create_app
from shared.db import migrate
from tests.intake.support import ADMIN, NOW, FakePublisher, auth, inspection, settings_for, with_changes
from tests.support import FixedClock

FIXTURE = Path(__file__).parent / "data" / "event_answers.json"
RECORD = os.environ.get("QW_RECORD_EVENT_ANSWERS") == "1"
JSON = {"Content-Type": "application/json"}

Answer = dict[str, Any]


class Intake:
    """A started intake over SQLite with the recording publisher fake, and ways to break its parts."""

    def __init__(self, client: TestClient, publisher: FakePublisher) -> None:
        self.client = client
        self.publisher = publisher

    def key(self, role: str = "lab", **ids: str) -> str:
        created = self.client.post("/v1/api-keys", json={"role": role, **ids}, headers=auth(ADMIN))
        assert created.status_code == 201, created.text
        return created.json()["api_key"]

    def drop_table(self, table: str) -> None:
        engine = create_engine(self.client.app.state.settings.effective_database_url)  # type: ignore[attr-defined]
        with engine.begin() as connection:
            connection.execute(text(f"DROP TABLE {table}"))
        engine.dispose()


def _answer(response: Any) -> Answer:
    return {"status": response.status_code,
            "headers": sorted([name.lower(), value] for name, value in response.headers.multi_items()),
            "body": response.text}


def _single(intake: Intake) -> Any:
    return intake.client.post("/v1/events", json=inspection("answers-1"), headers=auth(intake.key(lab_id="LAB-0001")))


def _batch(intake: Intake) -> Any:
    events = [inspection("answers-1"), inspection("answers-2", verdict="fail")]
    return intake.client.post("/v1/events/batch", json={"events": events}, headers=auth(ADMIN))


def _duplicate(intake: Intake) -> Any:
    intake.client.post("/v1/events", json=inspection("answers-1"), headers=auth(ADMIN))
    return intake.client.post("/v1/events", json=inspection("answers-1"), headers=auth(ADMIN))


def _malformed(intake: Intake) -> Any:
    return intake.client.post("/v1/events", content=b'{"event_id": "a",\n "type": }', headers={**auth(ADMIN), **JSON})


def _empty(intake: Intake) -> Any:
    return intake.client.post("/v1/events/batch", content=b"", headers={**auth(ADMIN), **JSON})


def _bad_length(intake: Intake) -> Any:
    return intake.client.post("/v1/events", content=b"{}", headers={**auth(ADMIN), **JSON, "Content-Length": "x"})


def _too_deep(intake: Intake) -> Any:
    body = b'{"events": ' + b"[" * 40 + b"]" * 40 + b"}"
    return intake.client.post("/v1/events/batch", content=body, headers={**auth(ADMIN), **JSON})


def _no_token(intake: Intake) -> Any:
    return intake.client.post("/v1/events", json=inspection())


def _not_bearer(intake: Intake) -> Any:
    return intake.client.post("/v1/events", json=inspection(), headers={"Authorization": f"Basic {ADMIN}"})


def _bad_token(intake: Intake) -> Any:
    return intake.client.post("/v1/events/batch", json={"events": [inspection()]}, headers=auth("qw_not-a-key"))


def _agency(intake: Intake) -> Any:
    key = intake.key("agency", agency_id="agri")
    return intake.client.post("/v1/events", json=inspection(), headers=auth(key))


def _other_lab(intake: Intake) -> Any:
    key = intake.key(lab_id="LAB-0001")
    events = [inspection("answers-1"), inspection("answers-2", lab_id="LAB-0002")]
    return intake.client.post("/v1/events/batch", json={"events": events}, headers=auth(key))


def _get(intake: Intake) -> Any:
    return intake.client.get("/v1/events", headers=auth(ADMIN))


def _put_batch(intake: Intake) -> Any:
    return intake.client.put("/v1/events/batch", json={"events": []}, headers=auth(ADMIN))


def _conflict(intake: Intake) -> Any:
    event = inspection("answers-1")
    intake.client.post("/v1/events", json=event, headers=auth(ADMIN))
    changed = with_changes(event, "data.verdict", "fail")
    return intake.client.post("/v1/events/batch", json={"events": [inspection("answers-2"), changed]},
                              headers=auth(ADMIN))


def _too_large(intake: Intake) -> Any:
    return intake.client.post("/v1/events", content=orjson.dumps({"pad": "x" * (1024 * 1024)}),
                              headers={**auth(ADMIN), **JSON})


def _too_large_chunked(intake: Intake) -> Any:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b" " * 65536
        yield b"{}"

    return intake.client.post("/v1/events", content=chunks(), headers={**auth(ADMIN), **JSON})


def _not_json(intake: Intake) -> Any:
    return intake.client.post("/v1/events", content=orjson.dumps(inspection()),
                              headers={**auth(ADMIN), "Content-Type": "text/plain"})


def _invalid(intake: Intake) -> Any:
    bad = with_changes(with_changes(inspection("answers-2"), "data.region", "999999"), "data.verdict", "maybe")
    return intake.client.post("/v1/events/batch", json={"events": [inspection("answers-1"), bad]},
                              headers=auth(ADMIN))


def _kafka_down(intake: Intake) -> Any:
    intake.publisher.down = True
    return intake.client.post("/v1/events", json=inspection("answers-1"), headers=auth(ADMIN))


def _ledger_down(intake: Intake) -> Any:
    intake.drop_table("intake_event")
    return intake.client.post("/v1/events", json=inspection("answers-1"), headers=auth(ADMIN))


def _key_store_down(intake: Intake) -> Any:
    key = intake.key(lab_id="LAB-0001")  # created, never resolved: its look-up needs the database
    intake.drop_table("api_key")
    return intake.client.post("/v1/events", json=inspection("answers-1"), headers=auth(key))


def _server_error(intake: Intake) -> Any:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a bug in the publisher")

    intake.publisher.publish = broken  # type: ignore[method-assign]
    return intake.client.post("/v1/events", json=inspection("answers-1"), headers=auth(ADMIN))


CASES: dict[str, Callable[[Intake], Any]] = {
    "202 one event": _single, "202 a batch": _batch, "202 a duplicate": _duplicate,
    "400 malformed JSON": _malformed, "400 empty body": _empty, "400 Content-Length not a number": _bad_length,
    "400 nested too deep": _too_deep, "401 no token": _no_token, "401 not a bearer token": _not_bearer,
    "401 unknown token": _bad_token, "403 agency key": _agency, "403 another lab's event": _other_lab,
    "405 GET": _get, "405 PUT": _put_batch, "409 conflict": _conflict, "413 declared length": _too_large,
    "413 chunked": _too_large_chunked, "415 text/plain": _not_json, "422 invalid events": _invalid,
    "503 Kafka down": _kafka_down, "503 ledger database down": _ledger_down,
    "503 key database down": _key_store_down, "500 unexpected error": _server_error,
}


def _started(tmp_path: Path) -> Iterator[Intake]:
    publisher = FakePublisher()
    url = f"sqlite:///{tmp_path}/qw.db"
    migrate(url)  # as serve() does before the app starts
    app = create_app(settings_for(url, tmp_path), clock=FixedClock(NOW),
                     registry=CollectorRegistry(), publisher=publisher)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Intake(client, publisher)


def _not_started(tmp_path: Path) -> Answer:
    app = create_app(settings_for(f"sqlite:///{tmp_path}/qw.db", tmp_path), registry=CollectorRegistry())
    return _answer(TestClient(app).post("/v1/events", json=inspection(), headers=auth(ADMIN)))


def _disconnect(intake: Intake) -> Answer:
    """What the client that went away mid-body was sent (it should be nothing)."""
    messages = [{"type": "http.request", "body": b'{"event_id": "half', "more_body": True},
                {"type": "http.disconnect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "http_version": "1.1", "method": "POST", "path": "/v1/events", "raw_path": b"/v1/events",
             "query_string": b"", "root_path": "", "scheme": "http", "server": ("testserver", 80),
             "headers": [(b"authorization", f"Bearer {ADMIN}".encode()), (b"content-type", b"application/json")]}
    intake.client.portal.call(intake.client.app, scope, receive, send)  # type: ignore[union-attr]
    return {"sent": sent, "published": len(intake.publisher.published)}


def _observe(name: str, tmp_path: Path) -> Answer:
    if name == "503 not started":
        return _not_started(tmp_path)
    for intake in _started(tmp_path):
        if name == "client disconnect":
            return _disconnect(intake)
        return _answer(CASES[name](intake))
    raise AssertionError("unreachable")


NAMES = [*CASES, "503 not started", "client disconnect"]


@pytest.fixture(scope="module")
def recorded() -> Iterator[dict[str, Answer]]:
    answers = json.loads(FIXTURE.read_text()) if FIXTURE.exists() else {}
    yield answers
    if RECORD:
        FIXTURE.parent.mkdir(exist_ok=True)
        FIXTURE.write_text(json.dumps(answers, indent=1, sort_keys=True) + "\n")


@pytest.mark.parametrize("name", NAMES)
def test_each_event_answer_is_as_recorded(name: str, tmp_path: Path, recorded: dict[str, Answer]) -> None:
    observed = _observe(name, tmp_path)
    if RECORD:
        recorded[name] = observed
        pytest.fail(f"recorded {name!r}; run again without QW_RECORD_EVENT_ANSWERS to compare")
    assert observed == recorded[name]


def test_every_answer_has_a_recording() -> None:
    assert sorted(json.loads(FIXTURE.read_text())) == sorted(NAMES)
