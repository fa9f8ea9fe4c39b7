"""Webhook signatures, as the CONTRACT fixes them.

``X-QW-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed with the secret>``.
The alert service signs with :func:`sign`; :func:`verify_signature` is the check a receiving agency
makes (it accepts several ``v1`` values, so a receiver can rotate secrets).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

SIGNATURE_HEADER = "X-QW-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(header: str, body: bytes, secret: str, *, now: dt.datetime | None = None,
                     tolerance_seconds: int = 300) -> bool:
    """True when a v1 signature over ``"<t>.<body>"`` matches and ``t`` is within the tolerance."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    current = (now or dt.datetime.now(dt.UTC)).timestamp()
    if abs(current - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, given) for given in fields.get("v1", []))
