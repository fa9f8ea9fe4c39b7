"""Completeness of reported figures (issue 19): of the reports the catalogue expects
(``expected_reports``: indicator × region level × period), how many are in — DHIS2's reporting rate.

``completeness(...)`` is pure; ``reported_keys`` reads the (indicator, region, period) keys present.
For a quarter or a year the expected monthly reports of its months count (a monthly expectation asked
for ``2026-Q4`` expects three reports per city).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.indicators.models import ReportedFigure
from services.indicators.windows import period_days
from shared.catalogue import Catalogue, ExpectedReport

ReportKey = tuple[str, str, str]


def periods_within(expected: ExpectedReport, period: str) -> list[str]:
    """The periods of ``expected``'s kind that lie within ``period`` (``2026-Q4`` → three months)."""
    first, last = period_days(period)
    out: list[str] = []
    month = dt.date(first.year, first.month, 1)
    while month <= last:
        if expected.period == "month":
            out.append(f"{month.year}-{month.month:02d}")
        elif expected.period == "quarter" and month.month in (1, 4, 7, 10):
            out.append(f"{month.year}-Q{(month.month - 1) // 3 + 1}")
        elif expected.period == "year" and month.month == 1:
            out.append(str(month.year))
        month = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return [p for p in out if period_days(p)[1] <= last]


def completeness(catalogue: Catalogue, reported: set[ReportKey], period: str) -> list[dict[str, Any]]:
    """Per expected indicator: reported ÷ expected for ``period``, with the regions still missing."""
    out = []
    for expected in catalogue.expected_reports:
        regions = catalogue.city_codes if expected.level == "city" else (catalogue.province_code,)
        keys = [(expected.indicator, region, p) for p in periods_within(expected, period) for region in regions]
        if not keys:
            continue
        have = [k for k in keys if k in reported]
        missing = sorted({(r, p) for i, r, p in keys if (i, r, p) not in reported})
        spec = catalogue.indicator(expected.indicator)
        out.append({"indicator": expected.indicator, "name_zh": spec.name_zh if spec else expected.indicator,
                    "period": period, "level": expected.level, "due_days": expected.due_days,
                    "expected": len(keys), "reported": len(have), "value": len(have) / len(keys),
                    "missing": [{"region": r, "name": catalogue.region_name(r), "period": p} for r, p in missing]})
    return out


def reported_keys(session: Session, indicators: Iterable[str]) -> set[ReportKey]:
    names = sorted(set(indicators))
    if not names:
        return set()
    rows = session.execute(select(ReportedFigure.indicator, ReportedFigure.region, ReportedFigure.period)
                           .where(ReportedFigure.indicator.in_(names)))
    return {(i, r, p) for i, r, p in rows}


def latest_due_period(catalogue: Catalogue, now: dt.datetime) -> str:
    """The latest month whose reports are due by ``now`` (the scorecard's default completeness period)."""
    due_days = max((e.due_days for e in catalogue.expected_reports), default=0)
    day = (now.astimezone(catalogue.tz) - dt.timedelta(days=due_days + 1)).date()  # the last day due by now
    if (day + dt.timedelta(days=1)).month == day.month:  # not a month's last day: that month is not due yet
        day = dt.date(day.year, day.month, 1) - dt.timedelta(days=1)
    return f"{day.year}-{day.month:02d}"
