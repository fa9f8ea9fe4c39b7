"""Reading a request body ourselves: size limit, content type, JSON syntax and nesting depth."""

from __future__ import annotations

import json
import math
import re
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
    """The body's JSON value, read strictly: a key named twice in one object is a 400 (orjson and most
    parsers keep the last one silently, so the sender's and the stored reading could differ), integers stay
    exact (orjson turns one beyond 64 bits into a float, which would slip past the 64-bit bound validation
    puts on them), NaN and Infinity are refused. Malformed JSON is described by orjson, with its position.

    The nesting limit is checked by ``too_deep`` only once validation has failed: no event nests deeper than
    six levels, so a body nested deeper than ``MAX_DEPTH`` always fails validation, and a valid body need not
    be walked a second time (that walk cost more than parsing it)."""
    if not body.strip():
        raise Rejection(400, "bad_json", "request body is empty; expected a JSON object")
    if _SURROGATE_ESCAPE.search(body):  # Python's parser accepts a lone "\\ud800"; orjson refuses it, with where
        _orjson_problem(body)
    try:
        return json.loads(body.decode("utf-8"), object_pairs_hook=_unique_pairs, parse_constant=_no_constant,
                          parse_float=_finite)
    except _DuplicateKey as exc:
        raise Rejection(400, "bad_json", f"duplicate key {exc.key[:100]!r} in a JSON object; "
                                         "each field may appear only once") from None
    except RecursionError:
        raise Rejection(400, "bad_json", f"JSON is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:  # includes UnicodeDecodeError and JSONDecodeError: orjson says where
        _orjson_problem(body)
    raise Rejection(400, "bad_json", "malformed JSON")


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _orjson_problem(body: bytes) -> None:
    """A 400 saying where the JSON is malformed, as orjson reads it (which refuses lone surrogates)."""
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Rejection(400, "bad_json", f"malformed JSON at line {exc.lineno} column {exc.colno} "
                                         f"(byte {exc.pos}): {exc.msg}") from None


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return found


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:50]} does not fit a double")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


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
