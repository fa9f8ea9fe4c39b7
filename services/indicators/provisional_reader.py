"""Counting provisional failures for figures (issue 19): one grouped query per window over the failing
inspections still inside their objection period or objected to and awaiting the re-test.

The count rolls up like the tallies (county → city → province) and per category; the failures are few
(at most a programme's objection period of them), so rolling up in Python is cheap.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from services.indicators.loop_models import InspectionObjection
from services.indicators.models import Inspection
from services.indicators.provisional import window_open_since
from shared.catalogue import Catalogue

ProvisionalKey = tuple[str, str, str | None]  # indicator, region (any level), category or None (all)


def provisional_counts(session: Session, catalogue: Catalogue, indicators: set[str], regions: set[str],
                       start: dt.datetime, end: dt.datetime, now: dt.datetime) -> dict[ProvisionalKey, int]:
    """Provisional failures among the inspections of ``indicators`` completed in [start, end) in ``regions``
    and the regions under them (the partial index ``ix_inspection_failure_time`` keeps this a read of the
    window's failures, not of every result, and on PostgreSQL a read of the index alone)."""
    programmes = [(name, p) for name, p in catalogue.programmes.items() if p.indicator in indicators]
    if not programmes:
        return {}
    i, o = Inspection, InspectionObjection
    tz = catalogue.tz
    in_window = or_(*[and_(i.programme == name, i.occurred_at >= window_open_since(now, p.objection_days, tz))
                      for name, p in programmes])
    query = (select(i.indicator, i.region, i.category, func.count())
             .select_from(i).outerjoin(o, o.sample_id == i.sample_id)
             .where(i.verdict == "fail", i.indicator.in_(sorted(indicators)), i.occurred_at >= start,
                    i.occurred_at < end,
                    or_(and_(o.sample_id.is_(None), in_window),
                        and_(o.sample_id.is_not(None), i.revision <= o.revision)),
                    *_under(catalogue, regions))
             .group_by(i.indicator, i.region, i.category))
    out: dict[ProvisionalKey, int] = defaultdict(int)
    for indicator, region, category, count in session.execute(query):
        path = catalogue.resolve_region(region)
        for level in path.levels if path else (region,):
            out[(indicator, level, category)] += count
            out[(indicator, level, None)] += count
    return dict(out)


def _under(catalogue: Catalogue, regions: set[str]) -> list[ColumnElement[bool]]:
    """Conditions keeping the inspections of ``regions`` and of the regions under them (none for the province)."""
    if catalogue.province_code in regions:
        return []
    i = Inspection
    return [or_(*[i.region.startswith(code[:4]) if code in catalogue.regions.cities else i.region == code
                  for code in sorted(regions)])]
