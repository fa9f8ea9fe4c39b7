"""Notification channels: each one's settings (validated, secrets masked), request and answer.

- ``webhook``: today's signed JSON (CONTRACT "Webhook delivery"); any 2xx is delivered.
- ``dingtalk``: a DingTalk custom robot. ``url`` is the robot's webhook (``…/robot/send?access_token=…``),
  ``secret`` the robot's signing secret ("加签", ``SEC…``; optional: robots secured by keyword or IP only
  have none). Each attempt adds ``timestamp`` (ms) and ``sign`` = URL-encoded base64 of HMAC-SHA256 keyed
  with the secret over ``"{timestamp}\\n{secret}"`` as query parameters. A ``markdown`` message (``title``,
  ``text``), optional ``at.atMobiles``. DingTalk answers HTTP 200 with ``errcode``: only ``0`` is delivered.
- ``wecom``: a WeCom (企业微信) group robot, ``url`` = ``…/cgi-bin/webhook/send?key=…``; a ``markdown``
  message whose content is at most 4096 bytes; ``errcode`` as DingTalk.
- ``email``: SMTP (the deployment's ``smtp_*`` settings) to the subscription's ``recipients``.
- ``alertmanager``: ``url`` is an Alertmanager's base URL; ``POST {url}/api/v2/alerts`` with postable alerts.

The robots' URLs carry their credential (``access_token``/``key``): answers show them masked, logs never
name a URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit

import orjson

Channel = Literal["webhook", "dingtalk", "wecom", "email", "alertmanager"]
CHANNELS: tuple[str, ...] = ("webhook", "dingtalk", "wecom", "email", "alertmanager")
ROBOTS = ("dingtalk", "wecom")
# The message sizes the vendors accept (UTF-8 bytes of the markdown text).
MARKDOWN_LIMIT = {"dingtalk": 18000, "wecom": 4096}
# The URL query parameter that carries a robot's credential.
_CREDENTIAL_PARAM = {"dingtalk": "access_token", "wecom": "key"}
_MOBILE = re.compile(r"^\+?[0-9][0-9-]{5,19}$")
_EMAIL = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z0-9-]{2,63}$")
MAX_RECIPIENTS = 20
MAX_AT_MOBILES = 20


class ChannelError(ValueError):
    """A subscription setting is not acceptable; ``field`` names the body field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def validate(channel: str, *, url: str | None, secret: str | None, at_mobiles: list[str] | None,
             recipients: list[str] | None, email_configured: bool) -> dict[str, Any]:
    """Check the settings a channel needs (and refuse those it does not take); returns the channel's
    ``options``. The URL policy (public hosts) is checked by the caller for every URL."""
    def refuse(field: str, value: object) -> None:
        if value:
            raise ChannelError(field, f"the {channel} channel takes no {field}")

    options: dict[str, Any] = {}
    if channel != "email":
        if not url:
            raise ChannelError("url", f"the {channel} channel needs a url")
        refuse("recipients", recipients)
    if channel != "dingtalk":
        refuse("at_mobiles", at_mobiles)
    if channel == "webhook":
        if not secret or len(secret) < 16:
            raise ChannelError("secret", "a webhook needs a signing secret of at least 16 characters")
    elif channel == "dingtalk":
        query = dict(parse_qsl(urlsplit(url or "").query))
        if not query.get("access_token"):
            raise ChannelError("url", "a DingTalk robot URL carries its access_token "
                                      "(https://oapi.dingtalk.com/robot/send?access_token=…)")
        if "timestamp" in query or "sign" in query:
            raise ChannelError("url", "give the robot URL without timestamp and sign; the signing secret goes in "
                                      "'secret' and every message is signed when it is sent")
        mobiles = list(at_mobiles or [])
        if len(mobiles) > MAX_AT_MOBILES:
            raise ChannelError("at_mobiles", f"at most {MAX_AT_MOBILES} mobile numbers")
        for mobile in mobiles:
            if not _MOBILE.match(mobile):
                raise ChannelError("at_mobiles", f"{mobile[:40]!r} is not a mobile number")
        options["at_mobiles"] = mobiles
    elif channel == "wecom":
        refuse("secret", secret)
        if not dict(parse_qsl(urlsplit(url or "").query)).get("key"):
            raise ChannelError("url", "a WeCom group robot URL carries its key "
                                      "(https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…)")
    elif channel == "email":
        refuse("url", url)
        refuse("secret", secret)
        if not email_configured:
            raise ChannelError("channel", "email notices are not set up on this deployment (no SMTP server "
                                          "configured); ask the operator, or choose another channel")
        addresses = list(recipients or [])
        if not addresses:
            raise ChannelError("recipients", "an email subscription needs at least one recipient address")
        if len(addresses) > MAX_RECIPIENTS:
            raise ChannelError("recipients", f"at most {MAX_RECIPIENTS} recipients")
        for address in addresses:
            if not _EMAIL.match(address):
                raise ChannelError("recipients", f"{address[:80]!r} is not an email address")
        options["recipients"] = addresses
    elif channel == "alertmanager":
        refuse("secret", secret)
        if urlsplit(url or "").query:
            raise ChannelError("url", "give the Alertmanager's base URL (e.g. https://alertmanager.example.org); "
                                      "/api/v2/alerts is added")
    else:
        raise ChannelError("channel", f"unknown channel {channel!r}")
    return options


def mask_url(channel: str, url: str) -> str | None:
    """The URL as answers show it: a robot's credential replaced by ``****`` and its last four characters."""
    if not url:
        return None
    param = _CREDENTIAL_PARAM.get(channel)
    if param is None:
        return url
    parts = urlsplit(url)
    query = [(k, f"****{v[-4:]}" if k == param and len(v) > 8 else ("****" if k == param else v))
             for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return parts._replace(query=urlencode(query, safe="*")).geturl()


# ---- DingTalk ------------------------------------------------------------------------------------------
def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """``sign`` as DingTalk documents it: base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}")), URL-encoded."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def dingtalk_url(url: str, secret: str, timestamp_ms: int) -> str:
    if not secret:
        return url
    separator = "&" if urlsplit(url).query else "?"
    return f"{url}{separator}timestamp={timestamp_ms}&sign={dingtalk_sign(secret, timestamp_ms)}"


def dingtalk_body(title: str, text: str, at_mobiles: list[str]) -> str:
    if at_mobiles:
        text = text + "\n\n" + " ".join(f"@{m}" for m in at_mobiles)
    return orjson.dumps({"msgtype": "markdown", "markdown": {"title": title, "text": text},
                         "at": {"atMobiles": at_mobiles, "isAtAll": False}}).decode()


def wecom_body(content: str) -> str:
    return orjson.dumps({"msgtype": "markdown", "markdown": {"content": content}}).decode()


def request_url(channel: str, url: str, secret: str, now_ms: int) -> str:
    if channel == "dingtalk":
        return dingtalk_url(url, secret, now_ms)
    if channel == "alertmanager":
        return url.rstrip("/") + "/api/v2/alerts"
    return url


@dataclass(frozen=True)
class Verdict:
    ok: bool
    error: str | None


def judge(channel: str, status_code: int, content: bytes) -> Verdict:
    """Whether an HTTP answer means delivered. Robots answer 200 with ``errcode``: only 0 is delivered (a
    rate limit, 410100 at DingTalk or 45009 at WeCom, and any other code are retried like failures)."""
    if not 200 <= status_code < 300:
        return Verdict(False, f"HTTP {status_code}")
    if channel not in ROBOTS:
        return Verdict(True, None)
    try:
        answer = orjson.loads(content)
        errcode = answer.get("errcode") if isinstance(answer, dict) else None
        errmsg = str(answer.get("errmsg", ""))[:200] if isinstance(answer, dict) else ""
    except orjson.JSONDecodeError:
        return Verdict(False, f"HTTP {status_code}, answer is not the robot's JSON")
    if errcode == 0:
        return Verdict(True, None)
    return Verdict(False, f"errcode {errcode}: {errmsg}")


class RobotThrottle:
    """At most ``limit`` messages a minute per robot (its URL): the vendors' limit is 20. A delivery the
    throttle holds back stays pending and goes when the window allows; it is never dropped."""

    def __init__(self, limit: int, period_seconds: float = 60.0) -> None:
        self.limit = limit
        self.period = period_seconds
        self._sent: dict[str, deque[float]] = {}

    def take(self, robot: str, now: float) -> bool:
        window = self._sent.setdefault(robot, deque())
        while window and window[0] <= now - self.period:
            window.popleft()
        if len(window) >= self.limit:
            return False
        window.append(now)
        return True
