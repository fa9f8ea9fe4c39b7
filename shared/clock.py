"""Time as a parameter: services take a Clock, tests pass a fixed one (tests.support.FixedClock)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Protocol

from pydantic import PlainSerializer, WithJsonSchema


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


CST = dt.timezone(dt.timedelta(hours=8), "CST")


def rfc3339(instant: dt.datetime) -> str:
    """An instant as every API answer gives it: RFC 3339 in China Standard Time (+08:00), milliseconds at most."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime: an instant needs its offset")
    local = instant.astimezone(CST).replace(microsecond=instant.microsecond // 1000 * 1000)
    return local.isoformat(timespec="milliseconds" if local.microsecond else "seconds")


def rfc3339_or_none(instant: dt.datetime | None) -> str | None:
    """``rfc3339`` for the optional instants of an answer (null stays null)."""
    return None if instant is None else rfc3339(instant)


# The one way a response model declares an instant: serialized to JSON by ``rfc3339`` (+08:00, milliseconds at
# most) wherever the model is dumped, and documented as an RFC 3339 date-time in both validation and
# serialization schemas (so FastAPI keeps one component per model, not an -Input/-Output pair).
Instant = Annotated[dt.datetime, PlainSerializer(rfc3339, return_type=str, when_used="json"),
                    WithJsonSchema({"type": "string", "format": "date-time"})]
