"""Time as a parameter: services take a Clock, tests pass a fixed one (tests.support.FixedClock)."""

from __future__ import annotations

import datetime as dt
from typing import Protocol


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
