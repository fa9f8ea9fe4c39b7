"""A webhook receiver as an agency would run one: records every delivery and checks its X-QW-Signature.

``make run`` subscribes the demo agencies to one and prints what arrives; tests and benchmarks use it
as the collecting receiver. ``shared.signing.verify_signature`` is the reference check an agency can copy.

It also stands in for the two chat robots (no internet here), answering as the vendors document:

- ``/dingtalk/robot/send?access_token=…&timestamp=…&sign=…``: a DingTalk custom robot with signing
  ("加签"; open.dingtalk.com "自定义机器人安全设置"): ``timestamp`` in ms within an hour of now, ``sign``
  = urlEncode(base64(HmacSHA256(key=secret, "{timestamp}\\n{secret}"))), checked exactly so (errcode
  310000 when it does not match); the body ``{"msgtype": "markdown", "markdown": {"title", "text"},
  "at": {"atMobiles": [...]}}``; at most 20 messages a minute per robot (errcode 410100 beyond);
  answers HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}``.
- ``/wecom/cgi-bin/webhook/send?key=…``: a WeCom group robot (developer.work.weixin.qq.com document
  99110 "群机器人配置说明"): ``{"msgtype": "markdown", "markdown": {"content"}}`` with content at most 4096
  bytes of UTF-8 (errcode 40058 beyond), 20 messages a minute per robot (errcode 45009), an unknown key
  errcode 93000; HTTP 200 with ``errcode``.

``robot_secrets`` maps a DingTalk access_token to its signing secret; ``robot_clock`` (unix seconds) is
the robots' clock, so tests that move time by hand keep the robots' rate window and timestamp check in step.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlsplit

from shared.signing import SIGNATURE_HEADER, verify_signature


@dataclass
class ReceivedWebhook:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_valid: bool
    received_at: float
    errcode: int | None = None  # a robot's answer (DingTalk/WeCom paths), 0 = accepted
    markdown: str | None = None  # a robot message's markdown text

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that records every POST; ``status`` sets the answer.

    ``signature_valid`` is checked against ``secret`` at the wall-clock time of receipt; tests that move
    time by hand check with :meth:`verify` at their own time instead.
    """

    secret: str = ""
    port: int = 0
    status: int = 200
    requests: list[ReceivedWebhook] = field(default_factory=list)
    echo: bool = False
    robot_secrets: dict[str, str] = field(default_factory=dict)
    robot_clock: Callable[[], float] = time.time
    robot_rate: int = 20
    robot_errcode: int | None = None  # force this errcode (an outage or a rate limit) on every robot message
    max_body: int = 1 << 20

    def __post_init__(self) -> None:
        self._robot_sent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str = "/hook") -> str:
        assert self._server is not None, "receiver not started"
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = min(int(self.headers.get("Content-Length") or 0), receiver.max_body)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                robot = receiver._robot(self.path, body)
                if robot is not None:
                    errcode, markdown, valid = robot
                    hook = ReceivedWebhook(self.path, headers, body, valid, time.time(), errcode, markdown)
                else:
                    valid = bool(receiver.secret) and verify_signature(
                        self.headers.get(SIGNATURE_HEADER, ""), body, receiver.secret)
                    hook = ReceivedWebhook(self.path, headers, body, valid, time.time())
                with receiver._lock:  # deliveries arrive on concurrent threads: each one's lines stay whole
                    receiver.requests.append(hook)
                    if receiver.echo:
                        receiver._print(hook)
                if robot is not None:
                    errmsg = ROBOT_ERRORS.get(hook.errcode or 0, "error")
                    data = json.dumps({"errcode": hook.errcode, "errmsg": errmsg}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)
        self._thread.start()
        return self

    # ---- the robots -----------------------------------------------------------------------------------
    def _robot(self, path: str, body: bytes) -> tuple[int, str | None, bool] | None:
        """(errcode, markdown, signature ok) for a robot path; None for an ordinary webhook."""
        parts = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if parts.path.endswith("/robot/send"):
            vendor, robot = "dingtalk", query.get("access_token", "")
        elif parts.path.endswith("/cgi-bin/webhook/send"):
            vendor, robot = "wecom", query.get("key", "")
        else:
            return None
        try:
            message = json.loads(body)
        except ValueError:
            return 40000 if vendor == "dingtalk" else 40008, None, False
        markdown = message.get("markdown") if isinstance(message, dict) else None
        if message.get("msgtype") != "markdown" or not isinstance(markdown, dict):
            return 40035 if vendor == "dingtalk" else 40008, None, False
        signed = True
        if vendor == "dingtalk":
            text = markdown.get("text")
            if not robot:
                return 300001, None, False  # token is empty
            if not isinstance(markdown.get("title"), str) or not isinstance(text, str):
                return 40035, None, False  # missing parameter
            secret = self.robot_secrets.get(robot)
            if secret is not None:
                signed = self.dingtalk_signature_ok(query.get("timestamp", ""), query.get("sign", ""), secret,
                                                    now_ms=self.robot_clock() * 1000)
                if not signed:
                    return 310000, text, False  # sign not match
        else:
            text = markdown.get("content")
            if not robot or (self.robot_secrets and robot not in self.robot_secrets):
                return 93000, None, False  # invalid webhook url
            if not isinstance(text, str):
                return 40008, None, False
            if len(text.encode()) > 4096:
                return 40058, text, True  # markdown.content exceed max length 4096
        if self.robot_errcode is not None:
            return self.robot_errcode, text, signed
        now = self.robot_clock()
        with self._lock:
            window = self._robot_sent.setdefault(f"{vendor}:{robot}", deque())
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= self.robot_rate:
                return (410100 if vendor == "dingtalk" else 45009), text, signed
            window.append(now)
        return 0, text, signed

    @staticmethod
    def dingtalk_signature_ok(timestamp: str, sign: str, secret: str, *, now_ms: float) -> bool:
        """The check DingTalk documents: the timestamp (ms) within one hour of now, and ``sign`` equal to
        urlEncode(base64(HmacSHA256(secret, timestamp + "\n" + secret))). ``sign`` arrives URL-decoded."""
        if not timestamp.isdigit() or abs(int(timestamp) - now_ms) > 3600 * 1000:
            return False
        digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
        expected = base64.b64encode(digest).decode()
        return hmac.compare_digest(expected, sign) or hmac.compare_digest(quote_plus(expected), sign)

    def robot_messages(self, vendor: str) -> list[ReceivedWebhook]:
        """Accepted messages (errcode 0) to one vendor's robots."""
        marker = "/robot/send" if vendor == "dingtalk" else "/cgi-bin/webhook/send"
        return [hook for hook in self.snapshot() if marker in hook.path and hook.errcode == 0]

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def snapshot(self) -> list[ReceivedWebhook]:
        with self._lock:
            return list(self.requests)

    def to(self, path: str) -> list[ReceivedWebhook]:
        """The deliveries that came to one path (one subscription each, in the tests)."""
        return [hook for hook in self.snapshot() if hook.path == path]

    @staticmethod
    def verify(hook: ReceivedWebhook, secret: str, now: dt.datetime) -> bool:
        """Whether hook carries a valid signature by secret, judged at time now."""
        return verify_signature(hook.headers[SIGNATURE_HEADER.lower()], hook.body, secret, now=now)

    @staticmethod
    def _print(hook: ReceivedWebhook) -> None:
        if hook.errcode is not None:
            vendor = "DingTalk" if "/robot/send" in hook.path else "WeCom"
            check = f" signature={'ok' if hook.signature_valid else 'INVALID'}" if vendor == "DingTalk" else ""
            print(f"[agency inbox] {vendor} robot message (errcode {hook.errcode}){check}:", flush=True)
            for line in (hook.markdown or "").splitlines():
                print(f"    {line}", flush=True)
            return
        try:
            payload = hook.json
        except ValueError:
            print(f"[agency inbox] unreadable webhook on {hook.path}", flush=True)
            return
        for alert in payload.get("alerts", []):
            print(f"[agency inbox] {payload.get('agency_id')}: {alert.get('state')} {alert.get('severity')} "
                  f"{alert.get('indicator')} region={alert.get('region')} value={alert.get('value')} "
                  f"n={alert.get('denominator')} signature={'ok' if hook.signature_valid else 'INVALID'}",
                  flush=True)
            if alert.get("summary"):
                print(f"    {alert.get('notice')}: {alert['summary']} {alert.get('dashboard_url', '')}", flush=True)


ROBOT_ERRORS = {0: "ok", 310000: "sign not match", 410100: "send too fast, exceed 20 times per minute",
                45009: "api freq out of limit", 40058: "markdown.content exceed max length 4096",
                93000: "invalid webhook url", 40035: "missing parameter", 300001: "token is empty"}
