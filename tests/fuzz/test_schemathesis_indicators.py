"""Property-based API test of the indicators service from its own OpenAPI document.

Every generated request (operator token) must get a documented status code and a body that
conforms to the declared response schema, and never a 5xx. ``/readyz`` is left out: with no broker
in this in-process run it rightly answers 503 (its behaviour is covered by the e2e tests).

The "schema-valid data is accepted" check is off: the document cannot say which regions and
categories the plan catalogue knows, nor every window name (``2026-Q4`` yes, ``1800`` no), so a
schema-valid query may rightly get 422 naming the parameter. Everything else is checked.

There is no broker: replaying dead letters must answer the documented 503 with Retry-After (the
producer factory fails at once, as it does when the broker is down), never a 500.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from kafka.errors import KafkaConnectionError
from prometheus_client import CollectorRegistry
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance

from services.indicators.app import create_app
from tests.fuzz.support import auth, settings_in_temp_dir

APP = create_app(settings_in_temp_dir("indicators"), registry=CollectorRegistry(), background=False)


def broker_down() -> object:
    raise KafkaConnectionError("fuzz: no broker")


APP.state.get_producer = broker_down
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(path="/readyz")


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_indicators_operation_answers_as_its_openapi_document_says(case):  # noqa: ANN001
    replay = case.path == "/v1/dead-letters/replay"
    excluded = [positive_data_acceptance, *([not_a_server_error] if replay else [])]
    response = case.call_and_validate(headers=auth(), excluded_checks=excluded)
    if replay and response.status_code >= 500:
        assert response.status_code == 503 and "retry-after" in response.headers, response.text
    else:
        assert response.status_code < 500
