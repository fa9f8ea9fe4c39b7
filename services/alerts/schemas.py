"""Request bodies and the JSON shapes the alert API answers with."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import orjson
from fastapi import HTTPException
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from services.alerts.acks import ack_json, standing
from services.alerts.models import Alert, AlertAck, AlertTransition, Delivery, DeliveryAttempt, Silence, Subscription
from services.alerts.payload import alert_fields, instant
from shared.auth import Principal
from shared.clock import rfc3339
from shared.error_answers import error_responses as shared_error_responses
from shared.figures import FigureChanged
from shared.text import FreeText, Label

_Strict = ConfigDict(extra="forbid")


def _rfc3339(value: Any) -> Any:
    """Only an RFC 3339 string (or a datetime) is a date-time here: pydantic's lax mode would
    otherwise take a number such as ``0.5`` as unix seconds, which the OpenAPI document does not allow."""
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 date-time string")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an RFC 3339 date-time such as 2026-11-28T10:00:00+08:00") from None
    if not EARLIEST <= parsed.replace(tzinfo=None) <= LATEST:
        raise ValueError(f"must lie between {EARLIEST.year} and {LATEST.year}")
    return parsed


# Dates outside these years mean a mistake (or a probe): they used to overflow when converted to UTC (a 500).
EARLIEST, LATEST = dt.datetime(2000, 1, 1), dt.datetime(2199, 12, 31)
DateTime = Annotated[dt.datetime, BeforeValidator(_rfc3339)]


class AckRequest(BaseModel):
    model_config = _Strict
    comment: FreeText | None = Field(None, max_length=2000)


class SilenceCreate(BaseModel):
    model_config = _Strict
    indicator: Label | None = Field(None, max_length=64)
    region: Label | None = Field(None, max_length=12)
    category: Label | None = Field(None, max_length=64)
    starts_at: DateTime | None = None
    ends_at: DateTime | None = None
    duration_seconds: float | None = Field(None, gt=0, le=366 * 24 * 3600, allow_inf_nan=False)
    reason: FreeText = Field(min_length=1, max_length=2000)


class SubscriptionCreate(BaseModel):
    model_config = _Strict
    url: str = Field(min_length=1, max_length=2048)
    secret: str = Field(min_length=16, max_length=256)
    min_severity: Literal["warning", "critical"] = "warning"


_ERROR_TEXT = {400: "the body is not valid JSON, or names a key twice", 401: "missing or unknown token",
               413: "the body is larger than the route's limit (the connection is then closed)",
               403: "the token's role or agency may not do this", 404: "no such resource",
               409: "conflicts with the resource's state"}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations for the error answers a route gives (401/403 on every route: auth)."""
    return shared_error_responses(_ERROR_TEXT, *codes)


def unprocessable(field: str, message: str, *, kind: str = "value_error") -> HTTPException:
    """A 422 in FastAPI's own error shape, naming the body field."""
    return HTTPException(status_code=422, detail=[{"loc": ["body", field], "msg": message, "type": kind}])


def not_found(what: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"{what} not found")


def actor(principal: Principal) -> str:
    return f"{principal.role}:{principal.agency_id or principal.key_id}"


def alert_json(row: Alert, *, agencies: tuple[str, ...], silenced: bool, acks: list[AlertAck],
               viewer: Principal) -> dict[str, Any]:
    """The alert as the API shows it to ``viewer``. ``acks`` is its whole acknowledgement history; ``acked``
    and ``acked_at``/``acked_by``/``ack_comment`` describe the newest ack that stands for the viewer (its
    agency's own or an operator's; for an operator, anyone's)."""
    held = [a for a in standing(row, acks) if viewer.is_operator or a.agency_id in (None, viewer.agency_id)]
    newest = ack_json(held[-1]) if held else None
    return {**alert_fields(row), "agencies": list(agencies), "status": row.status,
            "acked": newest is not None, "acked_at": newest["at"] if newest else None,
            "acked_by": newest["by"] if newest else None, "ack_comment": newest["comment"] if newest else None,
            "acks": [ack_json(a) for a in acks],
            "silenced": silenced, "figure_as_of": instant(row.figure_as_of),
            "last_figure_at": instant(row.last_figure_at), "last_notified_at": instant(row.last_notified_at)}


def transition_json(row: AlertTransition) -> dict[str, Any]:
    return {"at": instant(row.at), "from_state": row.from_state, "to_state": row.to_state,
            "from_severity": row.from_severity, "to_severity": row.to_severity, "reason": row.reason,
            "figure": _stored_figure(row.figure)}


def _stored_figure(raw: str | None) -> dict[str, Any] | None:
    """The figure change a transition stored, its instants as every answer gives them (``rfc3339``)."""
    if not raw:
        return None
    stored = orjson.loads(raw)
    try:
        message = FigureChanged.model_validate(stored)
    except ValueError:  # not a figure change: shown as it was stored
        return stored
    return {**message.model_dump(mode="json"), "changed_at": rfc3339(message.changed_at)}


def silence_state(row: Silence, now: dt.datetime) -> str:
    if row.expired_at is not None or row.ends_at <= now:
        return "expired"
    return "active" if row.starts_at <= now else "pending"


def silence_json(row: Silence, now: dt.datetime, *, viewer: Principal | None = None) -> dict[str, Any]:
    """An agency ``viewer`` sees who made a silence by role only (``operator``), never a key id."""
    created_by = row.created_by if viewer is None or viewer.is_operator else (row.created_by or "").split(":")[0]
    return {"silence_id": row.silence_id, "indicator": row.indicator, "region": row.region,
            "category": row.category, "starts_at": instant(row.starts_at), "ends_at": instant(row.ends_at),
            "reason": row.reason, "created_by": created_by, "created_at": instant(row.created_at),
            "expired_at": instant(row.expired_at), "state": silence_state(row, now)}


def subscription_json(row: Subscription) -> dict[str, Any]:
    """Never includes the secret."""
    return {"subscription_id": row.subscription_id, "agency_id": row.agency_id, "url": row.url,
            "min_severity": row.min_severity, "created_at": instant(row.created_at), "created_by": row.created_by}


def delivery_json(row: Delivery, *, alert_ids: list[str], url: str | None) -> dict[str, Any]:
    return {"delivery_id": row.delivery_id, "subscription_id": row.subscription_id, "agency_id": row.agency_id,
            "url": url, "status": row.status, "payload_status": row.payload_status, "attempts": row.attempts,
            "alert_ids": alert_ids, "created_at": instant(row.created_at),
            "next_attempt_at": instant(row.next_attempt_at), "delivered_at": instant(row.delivered_at),
            "last_attempt_at": instant(row.last_attempt_at), "last_status_code": row.last_status_code,
            "last_error": row.last_error}


def attempt_json(row: DeliveryAttempt) -> dict[str, Any]:
    return {"attempt": row.attempt, "at": instant(row.at), "status_code": row.status_code,
            "latency_ms": row.latency_ms, "error": row.error}
