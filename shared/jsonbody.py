"""JSON request bodies the way the contract reads them, on every FastAPI route.

Python's ``json`` (which FastAPI uses) accepts ``NaN``, ``Infinity`` and ``1e400`` (read as infinity),
integers of any size, and an object that names a key twice (the last one silently wins). None of that is
JSON a client means; each used to reach the models, and a non-finite number then made the 422 that echoed
it unrenderable (a 500). Here:

- a key named twice in one object is a 400 naming the key (``duplicate_keys`` is the one check);
- ``NaN``/``Infinity``, a number too large for a double, and an integer outside a signed 64-bit range
  (what the database stores) are a 422 naming each field, in FastAPI's error shape, never echoing the value.

Routers take it with ``APIRouter(route_class=StrictJsonRoute)``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

INT_MIN, INT_MAX = -(2 ** 63), 2 ** 63 - 1
Path = tuple[str | int, ...]


class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(f"the key {key!r} appears twice in one JSON object")
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


def duplicate_keys(body: bytes | str) -> str | None:
    """The first key named twice in one object of the JSON ``body`` (None if none, or not JSON)."""
    try:
        json.loads(body, object_pairs_hook=_pairs)
    except DuplicateKey as exc:
        return exc.key
    except ValueError:
        return None
    return None


def loads(body: bytes | str) -> Any:
    """``json.loads`` that raises ``DuplicateKey`` for a key named twice in one object."""
    return json.loads(body, object_pairs_hook=_pairs)


def unusable_numbers(value: Any) -> list[tuple[Path, str]]:
    """Where ``value`` holds a non-finite float or an integer outside 64 bits, with what is wrong."""
    problems: list[tuple[Path, str]] = []
    stack: list[tuple[Any, Path]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            stack.extend((child, (*path, key)) for key, child in node.items())
        elif isinstance(node, list):
            stack.extend((child, (*path, i)) for i, child in enumerate(node))
        elif isinstance(node, float) and not math.isfinite(node):
            problems.append((path, "must be a finite number (NaN, Infinity and numbers beyond 1.8e308 are "
                                   "not accepted)"))
        elif isinstance(node, int) and not isinstance(node, bool) and not INT_MIN <= node <= INT_MAX:
            problems.append((path, "is too large: integers must lie between -2^63 and 2^63-1"))
    return sorted(problems, key=lambda p: [str(k) for k in p[0]])


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                value = loads(body)
            except DuplicateKey as exc:
                raise HTTPException(400, f"malformed JSON: {exc}; send each field once") from None
            problems = unusable_numbers(value)
            if problems:
                raise HTTPException(422, [{"loc": ["body", *path], "msg": message, "type": "number_unusable"}
                                          for path, message in problems])
            self._json = value
        return self._json


class StrictJsonRoute(APIRoute):
    """An APIRoute whose JSON body is read by ``StrictJsonRequest``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict_handler
