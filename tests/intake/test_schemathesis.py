"""Property-based API test from intake's own OpenAPI document (schemathesis).

Uses SQLite and the recording publisher fake; every generated request must get a documented,
schema-conforming answer, and never a 5xx.

For the event routes the "schema-valid data is accepted" check is off: the document cannot say that
``occurred_at`` must lie within the grace period of *now*, nor which programmes, categories,
regions and indicators the plan catalogue knows, so a schema-valid event may rightly get 422.
Everything else (status codes, headers, content types and response bodies against the document,
negative data rejected) is checked for them too.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from prometheus_client import CollectorRegistry
from schemathesis.specs.openapi.checks import positive_data_acceptance

from services.intake.app import create_app
from shared.db import migrate
from tests.intake.support import ADMIN, NOW, FakePublisher, auth, settings_for
from tests.support import FixedClock

_DATA = Path(tempfile.mkdtemp(prefix="qw-intake-schemathesis-"))
_URL = f"sqlite:///{_DATA}/qw.db"
APP = create_app(settings_for(_URL, _DATA), clock=FixedClock(NOW),
                 registry=CollectorRegistry(), publisher=FakePublisher())
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _schema_migrated() -> None:
    migrate(_URL)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_its_openapi_document_says(case):
    # /v1/uploads: any binary is schema-valid, but only an .xlsx or .csv is a spreadsheet (415 otherwise).
    excluded = [positive_data_acceptance] if case.path.startswith(("/v1/events", "/v1/uploads")) else []
    response = case.call_and_validate(headers=auth(ADMIN), excluded_checks=excluded)
    assert response.status_code < 500
