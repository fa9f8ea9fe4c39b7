"""How long a client may take to send a request: uvicorn's HTTP protocol with a header and a body deadline.

uvicorn (0.54) bounds only the idle time between requests (``timeout_keep_alive``): a client that sends its
headers or its body a byte at a time holds the connection, and the coroutine waiting for it, as long as it
likes. ``timed_protocol(header_timeout, body_timeout)`` is uvicorn's httptools protocol with two deadlines:

- the request line and headers must be complete within ``header_timeout`` of the connection opening (or of the
  request's first byte, on a kept-alive connection);
- the body must be complete within ``body_timeout`` of the headers.

A client that misses one gets ``408 Request Timeout`` (unless an answer has already started) and the
connection is closed; an app still waiting for the body sees the client as gone.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

TIMEOUT_RESPONSE = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                    b"content-length: 53\r\nconnection: close\r\n\r\n"
                    b'{"detail":"the request was not sent in time; closed"}')
assert len(TIMEOUT_RESPONSE.split(b"\r\n\r\n", 1)[1]) == 53


class TimedHttpToolsProtocol(HttpToolsProtocol):
    header_timeout: float = 10.0
    body_timeout: float = 60.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._in_headers = True

    def _arm(self, seconds: float, *, headers: bool) -> None:
        self._disarm()
        self._in_headers = headers
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # uvicorn narrows the base type
        super().connection_made(transport)
        self._arm(self.header_timeout, headers=True)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(self.header_timeout, headers=True)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.body_timeout, headers=False)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if self._in_headers or cycle is None or not cycle.response_started:
            self.transport.write(TIMEOUT_RESPONSE)
        if not self._in_headers and cycle is not None and not cycle.response_complete:
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()


def timed_protocol(header_timeout: float, body_timeout: float) -> type[TimedHttpToolsProtocol]:
    """The protocol class for ``uvicorn.run(http=...)`` with these deadlines (seconds)."""
    return type("TimedHttpToolsProtocol", (TimedHttpToolsProtocol,),
                {"header_timeout": header_timeout, "body_timeout": body_timeout})
