"""Windows over event time, in CST calendar days (pure).

- ``7d``, ``30d``, ``90d``, ``365d``: the last N CST calendar days including today;
- ``mtd``, ``qtd``, ``ytd``: from the first day of this month / quarter / year to today;
- ``2026-11``, ``2026-Q4``, ``2026``: the whole calendar period (which may reach past today);
- ``plan``: from the plan's start to today, or to the plan's deadline once it has passed (a milestone is
  judged at the deadline, and what is counted after it does not count toward it).

An event belongs to the day of its ``occurred_at`` in CST, so an event late by a few days (inside
the grace period) lands in the past days it belongs to, and every window over them moves.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass

ROLLING = {"7d": 7, "30d": 30, "90d": 90, "365d": 365}
_CALENDAR = re.compile(r"^(\d{4})(?:-(0[1-9]|1[0-2])|-Q([1-4]))?$")


class UnknownWindow(ValueError):
    """Not a window this service knows."""


@dataclass(frozen=True, slots=True)
class Window:
    name: str
    first_day: dt.date
    last_day: dt.date  # inclusive
    tz: dt.tzinfo

    @property
    def start(self) -> dt.datetime:
        return day_start(self.first_day, self.tz)

    @property
    def end(self) -> dt.datetime:
        """Exclusive end: midnight after the last day."""
        return day_start(self.last_day + dt.timedelta(days=1), self.tz)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def elapsed(self, now: dt.datetime) -> dt.timedelta:
        """How much of the window lies before ``now`` (zero for a future window)."""
        return max(dt.timedelta(0), min(now, self.end) - self.start)

    def contains(self, day: dt.date) -> bool:
        return self.first_day <= day <= self.last_day


def day_start(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=tz)


def local_day(instant: dt.datetime, tz: dt.tzinfo) -> dt.date:
    """The calendar day of an instant in the catalogue's time zone (CST)."""
    return instant.astimezone(tz).date()


def is_window(name: str) -> bool:
    return name in ROLLING or name in ("mtd", "qtd", "ytd", "plan") or _calendar(name) is not None


def resolve_window(name: str, now: dt.datetime, tz: dt.tzinfo, plan_start: dt.date,
                   plan_deadline: dt.date | None = None) -> Window:
    today = local_day(now, tz)
    if name in ROLLING:
        return Window(name, today - dt.timedelta(days=ROLLING[name] - 1), today, tz)
    if name == "mtd":
        return Window(name, today.replace(day=1), today, tz)
    if name == "qtd":
        return Window(name, dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1), today, tz)
    if name == "ytd":
        return Window(name, dt.date(today.year, 1, 1), today, tz)
    if name == "plan":
        last = today if plan_deadline is None else min(today, plan_deadline)
        return Window(name, min(plan_start, last), last, tz)
    period = _calendar(name)
    if period is None:
        raise UnknownWindow(f"unknown window {name!r}: use 7d, 30d, 90d, 365d, mtd, qtd, ytd, plan, "
                            "or a calendar period such as 2026-11, 2026-Q4 or 2026")
    first, last = period
    return Window(name, first, last, tz)


@functools.lru_cache(maxsize=4096)
def period_days(period: str) -> tuple[dt.date, dt.date]:
    """First and last day of a calendar period ``2026``, ``2026-Q4`` or ``2026-11`` (cached: choosing reports
    reads every report's period for every figure)."""
    found = _calendar(period)
    if found is None:
        raise UnknownWindow(f"not a calendar period: {period!r}")
    return found


def _calendar(name: str) -> tuple[dt.date, dt.date] | None:
    match = _CALENDAR.match(name)
    if not match:
        return None
    year = int(match.group(1))
    if not 1900 <= year <= 9998:
        return None
    if match.group(2):
        first_month, months = int(match.group(2)), 1
    elif match.group(3):
        first_month, months = 3 * (int(match.group(3)) - 1) + 1, 3
    else:
        first_month, months = 1, 12
    first = dt.date(year, first_month, 1)
    next_year, next_month = divmod(first_month - 1 + months, 12)
    last = dt.date(year + next_year, next_month + 1, 1) - dt.timedelta(days=1)
    return first, last


def year_length(year: int) -> dt.timedelta:
    return dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)
