"""OpenAPI for the raw-body event routes: request schemas, documented responses, component schemas.

The event routes read their bodies themselves (size limit, JSON depth, every problem reported), so
FastAPI cannot infer the request schemas; they are described here from the event models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from shared.events import EVENT_ADAPTER

REF = "#/components/schemas/{model}"


class Accepted(BaseModel):
    accepted: int = Field(description="new events published (acknowledged by all in-sync replicas)")
    duplicates: int = Field(description="events already accepted with the same content (not published again)")
    event_ids: list[str] = Field(description="every event id of the request, in order")


class Problem(BaseModel):
    index: int | None = Field(description="the event's index in the request (0 on /v1/events); null for "
                                          "problems with the request envelope")
    path: str = Field(description="JSON path within the event, e.g. $.data.verdict")
    message: str


class Invalid(BaseModel):
    detail: str
    errors: list[Problem]


class ConflictItem(BaseModel):
    index: int
    event_id: str


class Conflict(BaseModel):
    detail: str
    conflicts: list[ConflictItem]


class Detail(BaseModel):
    detail: str


class Refused(BaseModel):
    detail: str = Field(description="what was refused and what to do, in English")
    rule: str | None = Field(None, description="the rule that refused: agency_statement (a lab key posted a "
                                               "figure, survey or milestone), lab_result (an agency key posted a "
                                               "lab's result), programme_not_accredited, region_not_accredited, "
                                               "not_responsible (not an agency of the indicator), not_owner "
                                               "(another sender reported the sample, project or figure first); "
                                               "absent when the key may not post for that lab_id")
    detail_zh: str | None = Field(None, description="the same in Chinese")
    indexes: list[int] | None = Field(None, description="the refused events' indexes in the request")


def _response(model: type[BaseModel], description: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "description": description, **extra}


EVENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"description": "every new event is durably in Kafka"},
    400: _response(Detail, "malformed JSON (with its position), empty body, nesting too deep, or a key named "
                           "twice in one object"),
    401: _response(Detail, "missing or bad token"),
    403: _response(Refused, "the key may not post these events: names the rule and the event indexes; nothing "
                            "was accepted"),
    409: _response(Conflict, "an event_id this sender already used with different content (event ids are "
                             "per sender: another sender's ids are never named)"),
    413: _response(Detail, "body larger than the limit"),
    415: _response(Detail, "content type is not application/json"),
    422: _response(Invalid, "invalid events: every problem of every event"),
    503: _response(Detail, "Kafka or the database is unavailable; retry after Retry-After seconds",
                   headers={"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}),
}


def event_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """The Event union as an OpenAPI schema and the component schemas it refers to."""
    schema = EVENT_ADAPTER.json_schema(ref_template=REF)
    defs = schema.pop("$defs", {})
    defs["Event"] = schema
    return {"$ref": REF.format(model="Event")}, defs


def request_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "description": description,
                            "content": {"application/json": {"schema": schema}}}}


def single_body() -> dict[str, Any]:
    ref, _ = event_schema()
    return request_body(ref, "one event")


def batch_body(max_events: int) -> dict[str, Any]:
    ref, _ = event_schema()
    schema = {"type": "object", "additionalProperties": False, "required": ["events"],
              "properties": {"events": {"type": "array", "items": ref, "minItems": 1, "maxItems": max_events}}}
    return request_body(schema, f"1 to {max_events} events; all or nothing")


def install_openapi(app: FastAPI, *, agency_ids: Sequence[str], programmes: Sequence[str] = (),
                    regions: Sequence[str] = ()) -> None:
    """Serve an OpenAPI document that also holds the event component schemas and the known agencies."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(title=app.title, version=app.version, description=app.description,
                               routes=app.routes)
        _, defs = event_schema()
        document.setdefault("components", {}).setdefault("schemas", {}).update(defs)
        agency = document["components"]["schemas"].get("AgencyKeyRequest", {}).get("properties", {}).get("agency_id")
        if agency is not None:
            agency["enum"] = list(agency_ids)
        lab = document["components"]["schemas"].get("LabKeyRequest", {}).get("properties", {})
        for name, known in (("programmes", programmes), ("regions", regions)):
            for variant in lab.get(name, {}).get("anyOf", ()):
                if variant.get("type") == "array" and known:
                    variant["items"] = {**variant.get("items", {}), "enum": list(known)}
        document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        for path, item in document.get("paths", {}).items():
            if path.startswith("/v1/"):
                for operation in item.values():
                    operation["security"] = [{"bearer": []}]
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema
