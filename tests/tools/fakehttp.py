"""A real HTTP server on 127.0.0.1 in a thread, answering from a table of routes and recording requests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, Any] | tuple[int, Any, dict[str, str]]
Handler = Callable[["Recorded"], Reply]


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeServer:
    routes: dict[tuple[str, str], Reply | Handler] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""

    def route(self, method: str, path: str, reply: Reply | Handler) -> None:
        self.routes[(method, path)] = reply

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]


def start(fake: FakeServer) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def _handle(self) -> None:
            path, _, query = self.path.partition("?")
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            recorded = Recorded(self.command, path, query, {k.lower(): v for k, v in self.headers.items()}, body)
            fake.requests.append(recorded)
            reply = fake.routes.get((self.command, path), (404, {"detail": "Not Found"}))
            if callable(reply):
                reply = reply(recorded)
            status, payload, *rest = reply
            headers = rest[0] if rest else {}
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(status)
            ctype = "text/plain; version=0.0.4" if isinstance(payload, str) else "application/json"
            self.send_header("Content-Type", ctype)
            for name, value in headers.items():
                self.send_header(name, value)
            if status != 204:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if status != 204:
                self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server
