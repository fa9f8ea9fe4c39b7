"""One way for the local runners to log: a message with key=value fields, readable as text and as extras."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

FieldLog = Callable[[int, str, dict[str, object]], None]


def log_with_fields(logger: logging.Logger, level: int, msg: str, fields: dict[str, object]) -> None:
    """Log msg with key=value fields appended, and the same fields as record attributes (extra)."""
    logger.log(level, "%s %s", msg, " ".join(f"{k}={v}" for k, v in fields.items()), extra=fields)


def field_log(name: str) -> FieldLog:
    """``log_with_fields`` bound to the logger called ``name`` (a runner module's ``__name__``)."""
    return partial(log_with_fields, logging.getLogger(name))
