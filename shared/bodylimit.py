"""Request bodies on every route: credentials first, a size limit enforced while reading, refusals that arrive.

One ASGI middleware (``BodyGuard``, installed by ``shared.web.install_common_routes``) in front of every
service's routes, FastAPI routes and intake's plain-ASGI event routes alike:

1. A ``/v1/`` request that carries a body must name a valid bearer token before a byte of that body is read:
   otherwise 401 (what ``shared.auth.authenticate`` answers), so an anonymous upload costs no memory.
2. The route's limit (``BodyLimits``: a default, and per-path limits declared with ``declare_body_limit``)
   is enforced while the body is read: a declared ``Content-Length`` over it fails the first read, an
   undeclared (chunked) body fails the read that passes it. The failure is ``BodyTooLarge`` (an
   ``HTTPException``, 413): the app's exception handlers answer it like any refusal (intake counts it).
3. A refusal sent before the body was read whole (the 401, every 413) first drains what the client still
   sends, up to ``drain_bytes``, and says ``Connection: close``. A client that uploads its whole body before
   reading the answer (Python's urllib, most HTTP libraries) would otherwise have its connection reset when
   the server closes with unread data, and never see the status. A client that sends ``Expect:
   100-continue`` is answered at once (it has sent nothing yet). A body that goes on past the drain bound is
   cut off (the answer may then be lost to that client; the server is protected first).

Why not Starlette's ``RequestBodyLimitMiddleware`` / FastAPI's ``max_body_size=``: it neither drains nor
closes (urllib then gets resets instead of 413s), answers in plain text, and runs after FastAPI has begun
reading the body, so it cannot put authentication before the body.

How long a client may take to send its headers and body is the server's business (``shared.serve``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import orjson
from fastapi import FastAPI, HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import authenticate
from shared.settings import Settings

logger = logging.getLogger(__name__)

KIB = 1024
MIB = 1024 * KIB


class BodyTooLarge(HTTPException):
    """The request body passed its route's limit (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than the limit of {limit} bytes")
        self.limit = limit


@dataclass
class BodyLimits:
    """The body limit of every route: ``default``, or a limit declared for the exact path."""

    default: int = 64 * KIB
    drain_bytes: int = 4 * MIB
    by_path: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> BodyLimits:
        return cls(default=settings.api_max_body_bytes, drain_bytes=settings.body_drain_bytes)

    def declare(self, path: str, limit: int) -> None:
        if limit < 0:
            raise ValueError("a body limit is a number of bytes >= 0")
        self.by_path[path] = limit

    def for_path(self, path: str) -> int:
        return self.by_path.get(path, self.default)


def declare_body_limit(app: FastAPI, path: str, limit: int) -> None:
    """Give the route at ``path`` (exact, as requested) its own body limit, e.g. a file upload's."""
    limits: BodyLimits = app.state.body_limits
    limits.declare(path, limit)


class BodyGuard:
    """See the module docstring. ``limits`` is shared with ``app.state.body_limits``."""

    def __init__(self, app: ASGIApp, *, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: int | None = None
        chunked = continue_expected = bad_length = False
        authorization = b""
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    bad_length = True
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"authorization" and not authorization:
                authorization = value
            elif name == b"expect" and value.lower() == b"100-continue":
                continue_expected = True
        if bad_length:
            await _Reading(receive, send, limit=0, declared=None, drain_bytes=0).refuse(
                HTTPException(400, "Content-Length is not a number"))
            return
        has_body = chunked or bool(declared)
        if not has_body:
            await self.app(scope, receive, send)
            return
        reading = _Reading(receive, send, limit=self.limits.for_path(scope["path"]), declared=declared,
                           drain_bytes=0 if continue_expected else self.limits.drain_bytes)
        if scope["path"].startswith("/v1/"):
            authenticator = getattr(scope["app"].state, "authenticator", None)
            if authenticator is not None:
                try:
                    await authenticate(authenticator, authorization.decode("latin-1"))
                except HTTPException as exc:
                    _note_route(scope)
                    await reading.refuse(exc)
                    return
                except Exception:  # noqa: BLE001 - e.g. the database is down: the route's own check answers it
                    logger.debug("early credential check failed; left to the route", exc_info=True)
        await self.app(scope, reading.receive, reading.send)


def _note_route(scope: Scope) -> None:
    """Put the matching route in the scope (as routing would) so that a refusal is measured under its template."""
    for route in scope["app"].router.routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            scope["route"] = route
            return


class _Reading:
    """One request's body as the app reads it: counted against the limit; refusals drained and closed."""

    def __init__(self, receive: Receive, send: Send, *, limit: int, declared: int | None, drain_bytes: int) -> None:
        self._receive = receive
        self._send = send
        self.limit = limit
        self.declared = declared
        self.drain_bytes = drain_bytes
        self.received = 0
        self.complete = False
        self.overflowed = False

    async def receive(self) -> Message:
        if self.declared is not None and self.declared > self.limit:
            self.overflowed = True
            raise BodyTooLarge(self.limit)
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if not message.get("more_body", False):
                self.complete = True
            if self.received > self.limit:
                self.overflowed = True
                raise BodyTooLarge(self.limit)
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start" and self.overflowed:
            message = {**message, "headers": await self._closing(list(message.get("headers", [])))}
        await self._send(message)

    async def refuse(self, exc: HTTPException) -> None:
        """Answer ``exc`` (a refusal before the body is read) as FastAPI's handler would, drained and closed."""
        content = orjson.dumps({"detail": exc.detail})
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
        headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (exc.headers or {}).items()]
        await self._send({"type": "http.response.start", "status": exc.status_code,
                          "headers": await self._closing(headers)})
        await self._send({"type": "http.response.body", "body": content})

    async def _closing(self, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """Drain what the client still sends (bounded); then ``Connection: close`` unless all of it was read."""
        drained = 0
        while not self.complete and drained <= self.drain_bytes:
            if self.declared is not None and self.declared - self.received > self.drain_bytes - drained:
                break  # more than we are willing to read: do not start
            message = await self._receive()
            if message["type"] != "http.request":
                break  # the client went away
            chunk = len(message.get("body", b""))
            drained += chunk
            self.received += chunk
            if not message.get("more_body", False):
                self.complete = True
        if self.complete and not self.overflowed:
            return headers
        return [(k, v) for k, v in headers if k != b"connection"] + [(b"connection", b"close")]
