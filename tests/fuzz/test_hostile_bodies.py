"""Every body-taking operation of every service's OpenAPI document, sent what schemathesis cannot send.

Schemathesis generates JSON, and JSON has no ``NaN``; Python's parser (and FastAPI's) accepted ``NaN``,
``Infinity``, ``1e400`` and integers of any size, and an echo of them in the 422 was a 500. Here each
operation that takes a JSON body gets, in each field its schema names, every such number; a body one
byte over its route's limit; and a key named twice. Each must be refused (422 naming the field, 413,
400), never a 5xx, and every answer must be valid JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from services.alerts.app import create_app as alerts_app
from services.indicators.app import create_app as indicators_app
from services.intake.app import create_app as intake_app
from tests.fuzz.support import auth, settings_in_temp_dir
from tests.support import FakePublisher

HOSTILE_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", str(2 ** 64), str(-(2 ** 70))]


def _apps() -> dict[str, FastAPI]:
    return {
        "intake": intake_app(settings_in_temp_dir("hostile-intake"), registry=CollectorRegistry(),
                             publisher=FakePublisher()),
        "indicators": indicators_app(settings_in_temp_dir("hostile-indicators"), registry=CollectorRegistry(),
                                     background=False),
        "alerts": alerts_app(settings_in_temp_dir("hostile-alerts"), registry=CollectorRegistry(),
                             run_background=False),
    }


@pytest.fixture(scope="module", params=["intake", "indicators", "alerts"])
def client(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    app = _apps()[request.param]
    with TestClient(app) as test_client:
        yield test_client


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    for union in ("anyOf", "oneOf"):
        if union in schema:
            objects = [_resolve(document, s) for s in schema[union] if s.get("type") != "null"]
            if objects:
                return objects[0]
    return schema


def _body_operations(app: FastAPI) -> list[tuple[str, str, list[str]]]:
    """(method, path with placeholders filled, the body's top-level fields) for each JSON-body operation."""
    document = app.openapi()
    out = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            schema = _resolve(document, content["application/json"].get("schema", {}))
            filled = path.replace("{agency_id}", "agri")
            while "{" in filled:
                start = filled.index("{")
                filled = filled[:start] + "x" + filled[filled.index("}") + 1:]
            out.append((method.upper(), filled, sorted(schema.get("properties", {})) or ["value"]))
    return out


def _send(client: TestClient, method: str, path: str, body: bytes) -> Any:
    response = client.request(method, path, content=body, headers={**auth(), "Content-Type": "application/json"})
    assert response.status_code < 500, (method, path, body[:200], response.text)
    json.loads(response.text or "null")  # every answer renders
    return response


def test_every_field_of_every_body_refuses_non_finite_and_huge_numbers(client: TestClient) -> None:
    operations = _body_operations(client.app)  # type: ignore[arg-type]
    assert operations
    for method, path, fields in operations:
        for field in fields:
            for number in HOSTILE_NUMBERS:
                response = _send(client, method, path, f'{{"{field}": {number}}}'.encode())
                assert response.status_code in (400, 422), (path, field, number, response.text)
                if response.status_code == 422 and isinstance(response.json()["detail"], list) \
                        and not path.startswith("/v1/events"):
                    assert any(field in error["loc"] for error in response.json()["detail"]), response.text


def test_every_body_over_its_limit_is_413(client: TestClient) -> None:
    limits = client.app.state.body_limits  # type: ignore[attr-defined]
    for method, path, _ in _body_operations(client.app):  # type: ignore[arg-type]
        size = limits.for_path(path) + 1
        response = _send(client, method, path, b'{"pad": "' + b"x" * (size - 11) + b'"}')
        assert response.status_code == 413, (path, response.text)
        assert response.headers["connection"] == "close"


def test_every_body_with_a_duplicate_key_is_400(client: TestClient) -> None:
    for method, path, fields in _body_operations(client.app):  # type: ignore[arg-type]
        field = fields[0]
        response = _send(client, method, path, f'{{"{field}": 1, "{field}": 2}}'.encode())
        if path.startswith("/v1/events"):
            continue  # intake's event parser (services/intake/body.py) has its own rules
        assert response.status_code == 400 and "appears twice" in response.json()["detail"], (path, response.text)
