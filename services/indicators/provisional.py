"""Provisional results (pure): a failing inspection stays provisional while the enterprise may still
object (the programme's ``objection_days``, e.g. 15 for supervisory spot checks), and, once objected
to, until the re-test's verdict (a higher revision) arrives.

Days are CST calendar days (the catalogue's ``tz``): an inspection completed on CST day D may be
objected to until the end of CST day D + N, whatever month or year D + N falls in. So a result
completed at 2026-02-28T23:30Z (1 March, 07:30 CST) with N = 15 may be objected to until
2026-03-17T00:00+08:00, not until 16 March as a UTC reading would say.
"""

from __future__ import annotations

import datetime as dt

from services.indicators.windows import day_start, local_day


class ObjectionRefused(ValueError):
    """An objection the loop cannot take; the event is dead-lettered with this message as its reason."""


def objection_deadline(inspected_at: dt.datetime, days: int, tz: dt.tzinfo) -> dt.datetime:
    """The first instant at which an objection to a result from ``inspected_at`` comes too late."""
    return day_start(local_day(inspected_at, tz) + dt.timedelta(days=days + 1), tz)


def window_open_since(now: dt.datetime, days: int, tz: dt.tzinfo) -> dt.datetime:
    """Results completed at or after this instant are still inside their objection period at ``now``."""
    return day_start(local_day(now, tz) - dt.timedelta(days=days), tz)


def is_provisional(*, verdict: str, inspected_at: dt.datetime, revision: int, objected_revision: int | None,
                   days: int, tz: dt.tzinfo, now: dt.datetime) -> bool:
    """Whether a result's verdict is still provisional at ``now`` (only failures are)."""
    if verdict != "fail":
        return False
    if objected_revision is not None:
        return revision <= objected_revision  # objected: open until the re-test (a higher revision)
    return now < objection_deadline(inspected_at, days, tz)


def check_objection(*, verdict: str | None, inspected_at: dt.datetime | None, objected_at: dt.datetime, days: int,
                    tz: dt.tzinfo, sample_id: str) -> None:
    """Raise :class:`ObjectionRefused` (with a reason a lab clerk can act on) unless the objection counts."""
    if verdict is None or inspected_at is None:
        raise ObjectionRefused(f"no inspection result for sample {sample_id!r} has arrived yet; "
                               "send the objection after the result (it can be replayed from the dead letters)")
    if verdict != "fail":
        raise ObjectionRefused(f"sample {sample_id!r} passed; only a failing result can be objected to")
    deadline = objection_deadline(inspected_at, days, tz)
    if objected_at >= deadline:
        raise ObjectionRefused(
            f"objection to sample {sample_id!r} came after its objection period of {days} days ended "
            f"({deadline.astimezone(tz).isoformat()}); the result is final")
