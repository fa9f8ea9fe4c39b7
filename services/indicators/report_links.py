"""Short-lived signed links to the quality report, so a person opens it from the dashboard in a browser without
pasting a token into a header.

The dashboard (which holds the reader's key) asks ``POST /v1/reports/quality/links`` for a link; the answer is a
path under ``/reports/quality`` carrying ``period``, ``format``, ``lang``, ``expires`` (unix seconds) and ``sig``:
hex HMAC-SHA256, keyed with the server's secret (``QW_REPORT_LINK_SECRET``), of those four values. The link opens
that one report, in that format and language, until it expires (``QW_REPORT_LINK_MINUTES``); any change to a
value, or a link past its expiry, is refused (403). Why a link rather than a cookie session: the page keeps its
key per tab (sessionStorage), so a server session would be a second credential store with its own lifetime and
CSRF surface; a link grants one read of one document for minutes, can be opened in a new tab or handed to a PDF
viewer, and needs nothing stored on the server."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

LINK_PATH = "/reports/quality"


def _message(period: str, fmt: str, lang: str, expires: int) -> bytes:
    return "\n".join(("qw-report-link-v1", period, fmt, lang, str(expires))).encode()


def link_signature(secret: str, period: str, fmt: str, lang: str, expires: int) -> str:
    return hmac.new(secret.encode(), _message(period, fmt, lang, expires), hashlib.sha256).hexdigest()


def signed_link(secret: str, period: str, fmt: str, lang: str, expires: int) -> str:
    query = {"period": period, "format": fmt, "lang": lang, "expires": expires,
             "sig": link_signature(secret, period, fmt, lang, expires)}
    return f"{LINK_PATH}?{urlencode(query)}"


def link_refusal(secret: str, period: str, fmt: str, lang: str, expires: int, sig: str, now: float) -> str | None:
    """Why a link is refused (altered, or expired), or None when it is good."""
    expected = link_signature(secret, period, fmt, lang, expires)
    if not hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace")):
        return "this report link is not valid (it was altered or signed by another server): open the report again " \
               "from the dashboard"
    if now >= expires:
        return "this report link has expired: open the report again from the dashboard"
    return None
