"""A clock a test moves by hand, for code that takes a ``shared.clock.Clock``."""

from __future__ import annotations

import datetime as dt


class FixedClock:
    """A clock a test moves by hand."""

    def __init__(self, at: dt.datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at

    def now(self) -> dt.datetime:
        return self._at

    def advance(self, delta: dt.timedelta) -> None:
        self._at += delta

    def set(self, at: dt.datetime) -> None:
        self._at = at
