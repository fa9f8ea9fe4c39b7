"""Saving a batch's objections and follow-up inspections (issue 19), in the batch's transaction.

An objection row is inserted once (a repeated objection for the same sample changes nothing); a
follow-up row is replaced by a newer revision of the same sample.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.orm import Session

from services.indicators.apply import FollowUp, Objection
from services.indicators.loop_models import InspectionObjection
from services.indicators.store import dialect_insert
from shared.followups import FollowUpInspection


def save_loop_rows(session: Session, objections: Sequence[Objection], follow_ups: Sequence[FollowUp],
                   now: dt.datetime) -> None:
    if objections:
        rows = [{"sample_id": o.sample_id, "revision": o.revision, "objected_at": o.objected_at,
                 "event_id": o.event_id, "recorded_at": now} for o in sorted(objections, key=lambda o: o.sample_id)]
        session.execute(dialect_insert(session, InspectionObjection.__table__).values(rows)
                        .on_conflict_do_nothing(index_elements=["sample_id"]))
    if follow_ups:
        rows = [{"sample_id": f.sample_id, "alert_id": f.alert_id, "indicator": f.indicator, "region": f.region,
                 "verdict": f.verdict, "revision": f.revision, "occurred_at": f.occurred_at, "event_id": f.event_id,
                 "recorded_at": now} for f in sorted(follow_ups, key=lambda f: f.sample_id)]
        insert = dialect_insert(session, FollowUpInspection.__table__).values(rows)
        updated = {name: insert.excluded[name] for name in ("alert_id", "indicator", "region", "verdict", "revision",
                                                            "occurred_at", "event_id", "recorded_at")}
        session.execute(insert.on_conflict_do_update(index_elements=["sample_id"], set_=updated))
