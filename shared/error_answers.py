"""How every service declares its error answers in OpenAPI: a ``{"detail": ...}`` body per status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel


class ErrorBody(BaseModel):
    detail: Any


def error_responses(descriptions: Mapping[int, str], *codes: int) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses=`` for 401, 403 (every route needs credentials) and ``codes``, each
    described by the service's ``descriptions``."""
    return {code: {"model": ErrorBody, "description": descriptions[code]} for code in (401, 403, *codes)}
