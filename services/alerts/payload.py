"""Webhook bodies and signatures, exactly as the CONTRACT fixes them.

The body is serialized once, when the notification is created, and stored; every attempt sends
those same bytes (``sent_at`` is the creation time) and signs ``"<t>.<body>"`` with the
subscription's secret and a fresh ``t`` (unix seconds of the attempt); ``shared.signing`` holds the
signature itself and the check a receiving agency makes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import orjson

from services.alerts.models import Alert
from shared.clock import rfc3339_or_none
from shared.signing import SIGNATURE_HEADER, sign


def instant(value: dt.datetime | None) -> str | None:
    """Every instant of a webhook body and of the alert API's answers: ``shared.clock.rfc3339`` (+08:00, ms)."""
    return rfc3339_or_none(value)


def _number(value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def ci95(alert: Alert) -> list[float] | None:
    if alert.ci95_lo is None or alert.ci95_hi is None:
        return None
    return [alert.ci95_lo, alert.ci95_hi]


def alert_fields(alert: Alert) -> dict[str, Any]:
    """The alert as a webhook carries it (and the base of the API's alert JSON)."""
    return {
        "alert_id": alert.alert_id,
        "state": alert.state,
        "severity": alert.severity,
        "indicator": alert.indicator,
        "region": alert.region,
        "category": alert.category,
        "window": alert.window,
        "value": alert.value,
        "ci95": ci95(alert),
        "numerator": _number(alert.numerator),
        "denominator": _number(alert.denominator),
        "target": {"op": alert.target_op, "value": _number(alert.target_value)},
        "started_at": instant(alert.started_at),
        "resolved_at": instant(alert.resolved_at),
    }


def build_body(*, delivery_id: str, agency_id: str, alerts: Sequence[dict[str, Any]], sent_at: dt.datetime) -> str:
    status = "firing" if any(a["state"] == "firing" for a in alerts) else "resolved"
    payload = {"delivery_id": delivery_id, "agency_id": agency_id, "status": status, "alerts": list(alerts),
               "sent_at": instant(sent_at)}
    return orjson.dumps(payload).decode()


def request_headers(*, delivery_id: str, secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", "Idempotency-Key": delivery_id,
            SIGNATURE_HEADER: sign(secret, timestamp, body)}
