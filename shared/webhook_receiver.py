"""A webhook receiver as an agency would run one: checks X-QW-Signature, records deliveries.

Used by the local run (``make run`` subscribes demo agencies to it and prints what arrives) and by
end-to-end tests. ``shared.signing.verify_signature`` is the reference check an agency can copy.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from shared.signing import SIGNATURE_HEADER, verify_signature

logger = logging.getLogger(__name__)


@dataclass
class ReceivedWebhook:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_valid: bool
    received_at: float

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that records every POST; ``status`` sets the answer."""

    secret: str
    port: int = 0
    status: int = 200
    received: list[ReceivedWebhook] = field(default_factory=list)
    echo: bool = False

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "receiver not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                valid = verify_signature(self.headers.get(SIGNATURE_HEADER, ""), body, receiver.secret)
                hook = ReceivedWebhook(self.path, {k.lower(): v for k, v in self.headers.items()}, body, valid,
                                       time.time())
                with receiver._lock:  # deliveries arrive on concurrent threads: each one's lines stay whole
                    receiver.received.append(hook)
                    if receiver.echo:
                        receiver._print(hook)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
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
            return list(self.received)

    @staticmethod
    def _print(hook: ReceivedWebhook) -> None:
        try:
            payload = hook.payload
        except ValueError:
            print(f"[agency inbox] unreadable webhook on {hook.path}", flush=True)
            return
        for alert in payload.get("alerts", []):
            print(f"[agency inbox] {payload.get('agency_id')}: {alert.get('state')} {alert.get('severity')} "
                  f"{alert.get('indicator')} region={alert.get('region')} value={alert.get('value')} "
                  f"n={alert.get('denominator')} signature={'ok' if hook.signature_valid else 'INVALID'}",
                  flush=True)
