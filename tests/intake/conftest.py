from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from services.intake.app import create_app
from shared.db import migrate
from tests.intake.support import ADMIN, NOW, FakePublisher, auth, settings_for
from tests.support import FixedClock


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def client(tmp_path: Path, sqlite_url: str, publisher: FakePublisher,
           registry: CollectorRegistry) -> Iterator[TestClient]:
    """Intake over SQLite with the recording publisher fake (no Kafka): for validation and auth tests."""
    migrate(sqlite_url)
    app = create_app(settings_for(sqlite_url, tmp_path), clock=FixedClock(NOW), registry=registry,
                     publisher=publisher)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def lab_key(client: TestClient) -> str:
    response = client.post("/v1/api-keys", json={"role": "lab", "lab_id": "LAB-0001"}, headers=auth(ADMIN))
    assert response.status_code == 201, response.text
    return response.json()["api_key"]
