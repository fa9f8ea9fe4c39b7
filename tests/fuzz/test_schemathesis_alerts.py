"""Property-based API test of the alert service from its own OpenAPI document.

Every generated request (operator token) must get a documented status code and a body that
conforms to the declared response schema, and never a 5xx. Webhook URLs are checked against a
resolver that answers a public address at once (no DNS look-ups while fuzzing). ``/readyz`` is
left out: with no broker in this in-process run it rightly answers 503.

The ``allow_header_conformance`` check is off: for a path served by two routes (``GET`` and ``POST
/v1/silences``) Starlette answers an unsupported method with 405 and the ``Allow`` header of only
the first route it matched, a framework detail and no contract matter. The "schema-valid data is
accepted" check is off too: the document cannot say which indicators, regions and agencies the plan
catalogue knows, nor that a silence needs one of indicator/region/category, so a schema-valid
body may rightly get 422 naming the field.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from prometheus_client import CollectorRegistry
from schemathesis.specs.openapi.checks import allow_header_conformance, positive_data_acceptance

from services.alerts.app import create_app
from tests.fuzz.support import auth, settings_in_temp_dir


def public_resolver(host: str, port: int) -> list[str]:
    return ["203.0.113.10"]


APP = create_app(settings_in_temp_dir("alerts"), registry=CollectorRegistry(), resolver=public_resolver,
                 run_background=False)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(path="/readyz")


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_alerts_operation_answers_as_its_openapi_document_says(case):  # noqa: ANN001
    excluded = [allow_header_conformance, positive_data_acceptance]
    response = case.call_and_validate(headers=auth(), excluded_checks=excluded)
    assert response.status_code < 500
