"""Webhook bodies and signatures as the CONTRACT fixes them."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

from services.alerts.payload import build_body, request_headers
from shared.signing import sign, verify_signature

NOW = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)


def test_signature_is_hmac_sha256_of_timestamp_dot_body_in_hex() -> None:
    body = b'{"a":1}'
    expected = hmac.new(b"0123456789abcdef", b"1764295200." + body, hashlib.sha256).hexdigest()
    assert sign("0123456789abcdef", 1764295200, body) == f"t=1764295200,v1={expected}"


def test_headers_carry_content_type_idempotency_key_and_signature() -> None:
    headers = request_headers(delivery_id="d-1", secret="0123456789abcdef", timestamp=1, body=b"{}")
    assert headers["Content-Type"] == "application/json"
    assert headers["Idempotency-Key"] == "d-1"
    assert headers["X-QW-Signature"].startswith("t=1,v1=")


def test_a_receiver_rejects_a_tampered_body_a_wrong_secret_or_a_stale_timestamp() -> None:
    body = b'{"x":1}'
    t = int(NOW.timestamp())
    header = sign("right-secret-0001", t, body)
    assert verify_signature(header, body, "right-secret-0001", now=NOW)
    assert not verify_signature(header, b'{"x":2}', "right-secret-0001", now=NOW)
    assert not verify_signature(header, body, "wrong-secret-0001", now=NOW)
    assert not verify_signature(header, body, "right-secret-0001", now=NOW + dt.timedelta(minutes=10))
    assert not verify_signature("garbage", body, "right-secret-0001", now=NOW)


def test_body_status_is_firing_when_any_alert_in_it_fires() -> None:
    alerts = [{"alert_id": "a", "state": "resolved"}, {"alert_id": "b", "state": "firing"}]
    body = json.loads(build_body(delivery_id="d", agency_id="agri", alerts=alerts, sent_at=NOW))
    assert body == {"delivery_id": "d", "agency_id": "agri", "status": "firing", "alerts": alerts,
                    "sent_at": "2026-11-28T10:00:00+08:00"}
    resolved = json.loads(build_body(delivery_id="d", agency_id="agri", alerts=alerts[:1], sent_at=NOW))
    assert resolved["status"] == "resolved"
