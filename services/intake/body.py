"""Reading a request body ourselves: size limit, content type, JSON syntax and nesting depth."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from starlette.requests import ClientDisconnect
from starlette.types import Receive

from services.intake.errors import Rejection

MAX_DEPTH = 32


async def read_body(receive: Receive) -> bytes:
    """The body from the ASGI messages; a client that went away raises ClientDisconnect. ``receive`` is the
    app's body guard's (``shared.bodylimit``): it raises ``BodyTooLarge`` (413) once the route's limit is passed."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            chunk = message.get("body", b"")
            if chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        elif kind == "http.disconnect":
            raise ClientDisconnect()
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def require_json(content_type: str) -> None:
    """415 unless the Content-Type header's value names application/json."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        shown = media_type or "none"
        raise Rejection(415, "unsupported_media_type",
                        f"content type must be application/json (got {shown})")


def parse_json(body: bytes) -> Any:
    """orjson.loads with errors that name the position.

    The nesting limit is checked by ``too_deep`` only once validation has failed: no event nests deeper than
    six levels, so a body nested deeper than ``MAX_DEPTH`` always fails validation, and a valid body need not
    be walked a second time (that walk cost more than parsing it)."""
    if not body.strip():
        raise Rejection(400, "bad_json", "request body is empty; expected a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Rejection(400, "bad_json", f"malformed JSON at line {exc.lineno} column {exc.colno} "
                                         f"(byte {exc.pos}): {exc.msg}") from None


def too_deep(value: Any) -> Rejection | None:
    """The 400 for JSON nested deeper than ``MAX_DEPTH`` levels, or None."""
    if nesting_depth(value, MAX_DEPTH) > MAX_DEPTH:
        return Rejection(400, "bad_json", f"JSON is nested deeper than {MAX_DEPTH} levels")
    return None


def nesting_depth(value: Any, stop_after: int) -> int:
    """How deeply containers nest (a scalar is 0); stops counting once past ``stop_after``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        children: Iterable[Any]
        if type(node) is dict:
            children = node.values()
        elif type(node) is list:
            children = node
        else:
            continue
        if depth > deepest:
            deepest = depth
            if deepest > stop_after:
                return deepest
        for child in children:
            if type(child) is dict or type(child) is list:
                push((child, depth + 1))
    return deepest
