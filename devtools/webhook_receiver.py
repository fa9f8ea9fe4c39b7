"""A webhook receiver as an agency would run one: records every delivery and checks its X-QW-Signature.

``make run`` subscribes the demo agencies to one and prints what arrives; tests and benchmarks use it
as the collecting receiver. ``shared.signing.verify_signature`` is the reference check an agency can copy.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from shared.signing import SIGNATURE_HEADER, verify_signature


@dataclass
class ReceivedWebhook:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_valid: bool
    received_at: float

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

    def __post_init__(self) -> None:
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
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                valid = bool(receiver.secret) and verify_signature(
                    self.headers.get(SIGNATURE_HEADER, ""), body, receiver.secret)
                hook = ReceivedWebhook(self.path, {k.lower(): v for k, v in self.headers.items()}, body, valid,
                                       time.time())
                with receiver._lock:  # deliveries arrive on concurrent threads: each one's lines stay whole
                    receiver.requests.append(hook)
                    if receiver.echo:
                        receiver._print(hook)
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
