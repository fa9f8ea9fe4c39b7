"""The rectification loop's I/O side: ``alert_loop`` rows ↔ ``lifecycle.LoopState``, timeline rows, and
the hooks the alert service calls inside its own transactions (it commits; nothing here does).

- ``LoopKeeper.on_transition`` — an alert started firing (a new episode) or resolved;
- ``LoopKeeper.on_notified`` — a notice went out (or was queued) for the alert;
- ``LoopKeeper.record_ack`` — the acknowledgement hook (acks themselves are stored by the ack code);
- ``LoopKeeper.set_plan`` — ``POST /v1/alerts/{id}/rectification``;
- ``LoopKeeper.periodic`` — follow-ups received, rectified, closed, and a plan's deadline passing
  (escalation, once per episode); returns the loop notices the outbox owes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, cast

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.alerts.evaluate import GOOD_STATUS, Transition
from services.alerts.lifecycle import (
    Acknowledged,
    Entry,
    Fired,
    FollowUps,
    Input,
    LoopNotice,
    LoopState,
    Notified,
    Plan,
    Resolved,
    SetPlan,
    Stage,
    Tick,
    step,
)
from services.alerts.loop_models import AlertLoop, AlertTimelineEntry
from services.alerts.models import Alert
from services.alerts.routing import agencies_for_alert, programme_for
from shared.catalogue import Catalogue
from shared.clock import rfc3339
from shared.figures import Figure
from shared.followups import FollowUpInspection

OVERDUE_PREFIX = "overdue|"


def alert_kind(alert: Alert) -> str:
    """``threshold`` (a figure off target) or ``report_overdue`` (an expected report not in by its due date)."""
    return "report_overdue" if alert.figure_key.startswith(OVERDUE_PREFIX) else "threshold"


def state_of_loop(row: AlertLoop | None) -> LoopState | None:
    if row is None:
        return None
    plan = None
    if row.plan_deadline is not None:
        plan = Plan(unit=row.plan_unit or "", deadline=row.plan_deadline, comment=row.plan_comment or "",
                    set_by=row.plan_set_by or "", set_at=row.plan_set_at or row.updated_at)
    return LoopState(episode_started_at=row.episode_started_at, stage=cast(Stage, row.stage),
                     plan=plan, escalated_at=row.escalated_at, follow_ups=row.follow_ups,
                     follow_ups_failed=row.follow_ups_failed, rectified_at=row.rectified_at,
                     resolved_at=row.resolved_at, closed_at=row.closed_at)


def _save(session: Session, alert_id: str, row: AlertLoop | None, state: LoopState, now: dt.datetime) -> AlertLoop:
    if row is None:
        row = AlertLoop(alert_id=alert_id, stage=state.stage, follow_ups=0, follow_ups_failed=0, updated_at=now)
        session.add(row)
    plan = state.plan
    row.episode_started_at, row.stage = state.episode_started_at, state.stage
    row.plan_unit = plan.unit if plan else None
    row.plan_deadline = plan.deadline if plan else None
    row.plan_comment = plan.comment if plan else None
    row.plan_set_by = plan.set_by if plan else None
    row.plan_set_at = plan.set_at if plan else None
    row.escalated_at, row.follow_ups, row.follow_ups_failed = state.escalated_at, state.follow_ups, \
        state.follow_ups_failed
    row.rectified_at, row.resolved_at, row.closed_at = state.rectified_at, state.resolved_at, state.closed_at
    row.updated_at = now
    return row


def append_entries(session: Session, alert_id: str, entries: Iterable[Entry]) -> None:
    for entry in entries:
        session.add(AlertTimelineEntry(alert_id=alert_id, at=entry.at, kind=entry.kind, actor=entry.actor,
                                       detail=orjson.dumps(entry.detail).decode()))


def escalation_agencies(catalogue: Catalogue, alert: Alert) -> tuple[str, ...]:
    """The next level up: for a city's (or county's) alert, the provincial lead agency; a provincial
    alert has no level above it in the catalogue, so its lead agency hears the escalation itself."""
    spec = catalogue.indicator(alert.indicator)
    if spec is None:
        return ()
    province = catalogue.agencies_for(spec, catalogue.province_code, programme_for(catalogue, alert.indicator,
                                                                                    alert.category))
    return province[:1]


def follow_ups_required(catalogue: Catalogue, indicator: str, category: str | None) -> int:
    programme = programme_for(catalogue, indicator, category)
    names = [programme] if programme else catalogue.programme_for_indicator(indicator)
    values = [catalogue.programmes[n].follow_up_inspections for n in names if n in catalogue.programmes]
    return max(values) if values else catalogue.defaults.follow_up_inspections


class LoopKeeper:
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue

    def apply(self, session: Session, alert: Alert, event: Input, now: dt.datetime) -> tuple[LoopNotice, ...]:
        """One input for one alert: state saved, timeline appended; returns the loop notices owed."""
        row = session.get(AlertLoop, alert.alert_id)
        result = step(state_of_loop(row), event, now)
        if result.entries or row is None or result.state != state_of_loop(row):
            session.flush()  # the alert row exists before rows that reference it
            _save(session, alert.alert_id, row, result.state, now)
            append_entries(session, alert.alert_id, result.entries)
        return result.notices

    # ---- hooks the alert service calls -----------------------------------------------------------
    def on_transition(self, session: Session, alert: Alert, transition: Transition, now: dt.datetime,
                      provisional: int | None = None) -> tuple[LoopNotice, ...]:
        before, after = transition.before, transition.after
        if after.state == "firing" and before.state != "firing" and after.started_at is not None:
            return self.apply(session, alert, Fired(after.started_at, after.severity or "warning", provisional), now)
        if after.state == "resolved" and before.state != "resolved" and after.resolved_at is not None:
            if session.get(AlertLoop, alert.alert_id) is None:
                return ()
            return self.apply(session, alert, Resolved(after.resolved_at), now)
        return ()

    @staticmethod
    def note_figure(session: Session, alert: Alert, figure: Figure) -> None:
        """Keep the newest figure's provisional failures and shortfall contributors beside the loop (notices)."""
        row = session.get(AlertLoop, alert.alert_id)
        if row is None:
            return
        contributors = None if figure.contributors is None else orjson.dumps(
            [c.model_dump() for c in figure.contributors]).decode()
        if (row.provisional, row.contributors) != (figure.provisional, contributors):
            row.provisional, row.contributors = figure.provisional, contributors

    def on_notified(self, session: Session, alert: Alert, notice: str, agencies: Sequence[str],
                    now: dt.datetime) -> None:
        self.apply(session, alert, Notified(notice, tuple(agencies)), now)

    def record_ack(self, session: Session, alert: Alert, *, by: str, comment: str | None, now: dt.datetime) -> None:
        """The acknowledgement hook: the ack code calls it after storing an ack."""
        self.apply(session, alert, Acknowledged(by, comment), now)

    def set_plan(self, session: Session, alert: Alert, *, unit: str, deadline: dt.datetime, comment: str, by: str,
                 now: dt.datetime) -> tuple[LoopNotice, ...]:
        return self.apply(session, alert, SetPlan(unit, deadline, comment, by, alert.state), now)

    def periodic(self, session: Session, now: dt.datetime) -> list[tuple[Alert, LoopNotice]]:
        """Follow-ups and deadlines for every loop still open; the loop notices owed."""
        owed: list[tuple[Alert, LoopNotice]] = []
        rows = session.scalars(select(AlertLoop).where(AlertLoop.stage.in_(("open", "planned", "rectified")))
                               .order_by(AlertLoop.alert_id)).all()
        for loop in rows:
            alert = session.get(Alert, loop.alert_id)
            if alert is None or alert_kind(alert) != "threshold":
                continue
            total, failed, ids = self._follow_ups(session, alert.alert_id, loop.episode_started_at)
            inputs: list[Input] = []
            if total:
                inputs.append(FollowUps(total=total, failed=failed,
                                        required=follow_ups_required(self.catalogue, alert.indicator, alert.category),
                                        figure_on_target=alert.status in GOOD_STATUS, sample_ids=ids))
            inputs.append(Tick(escalation_agencies(self.catalogue, alert)))
            for event in inputs:
                owed.extend((alert, n) for n in self.apply(session, alert, event, now))
        return owed

    @staticmethod
    def _follow_ups(session: Session, alert_id: str, since: dt.datetime | None) -> tuple[int, int, tuple[str, ...]]:
        """Follow-ups naming the alert received since its episode began (a sample may predate the alert:
        what counts is that the lab sent it as an answer to this alert)."""
        query = select(FollowUpInspection.verdict, func.count()).where(FollowUpInspection.alert_id == alert_id)
        if since is not None:
            query = query.where(FollowUpInspection.recorded_at >= since)
        grouped = session.execute(query.group_by(FollowUpInspection.verdict))
        counts: dict[str, int] = {verdict: count for verdict, count in grouped}
        total = sum(counts.values())
        ids_query = select(FollowUpInspection.sample_id).where(FollowUpInspection.alert_id == alert_id)
        if since is not None:
            ids_query = ids_query.where(FollowUpInspection.recorded_at >= since)
        ids = tuple(session.scalars(ids_query.order_by(FollowUpInspection.occurred_at.desc()).limit(5)))
        return total, counts.get("fail", 0), ids


def loop_fields(session: Session, catalogue: Catalogue, alert: Alert) -> dict[str, object]:
    """Additive fields for the alert's JSON and webhook entry: its kind and its rectification loop."""
    row = session.get(AlertLoop, alert.alert_id)
    out: dict[str, object] = {"kind": alert_kind(alert),
                              "provisional_failures": row.provisional if row is not None else None,
                              "contributors": contributors_json(session, catalogue, alert, row)}
    if row is None:
        out["rectification"] = None
        return out
    out["rectification"] = {
        "stage": row.stage,
        "plan": None if row.plan_deadline is None else {
            "unit": row.plan_unit, "deadline": _instant(row.plan_deadline), "comment": row.plan_comment,
            "set_by": row.plan_set_by, "set_at": _instant(row.plan_set_at)},
        "escalated_at": _instant(row.escalated_at),
        "follow_ups": row.follow_ups, "follow_ups_failed": row.follow_ups_failed,
        "follow_ups_required": follow_ups_required(catalogue, alert.indicator, alert.category),
        "rectified_at": _instant(row.rectified_at), "closed_at": _instant(row.closed_at),
    }
    return out


def contributors_json(session: Session, catalogue: Catalogue, alert: Alert,
                      row: AlertLoop | None) -> list[dict[str, object]] | None:
    """The cities behind a provincial shortfall, each with its name, n and whether it is alerting itself."""
    if row is None or not row.contributors:
        return None
    items = orjson.loads(row.contributors)
    alerting = set(session.scalars(select(Alert.region).where(
        Alert.indicator == alert.indicator, Alert.window == alert.window, Alert.state == "firing",
        Alert.region.in_([c["region"] for c in items]),
        Alert.category.is_(None) if alert.category is None else Alert.category == alert.category)))
    return [{"region": c["region"], "name": catalogue.region_name(c["region"]), "points": c["points"],
             "n": int(c["denominator"]), "numerator": int(c["numerator"]), "value": c["value"],
             "alerting": c["region"] in alerting} for c in items]


def named_cities(session: Session, catalogue: Catalogue, items: list[tuple[Alert, Any]]) -> dict[str, str]:
    """The city alerts of one delivery (same indicator, window and category) that a provincial alert in the
    same delivery names among its shortfall contributors, each with that provincial alert's id. They stay
    in the delivery (every firing alert reaches its agencies), but a person reads them once: inside the
    provincial alert, not as a second notice (issue 19)."""
    named: dict[tuple[str, str, str | None], tuple[str, set[str]]] = {}
    for alert, notice in items:
        if alert.region == catalogue.province_code and notice != "resolved":
            row = session.get(AlertLoop, alert.alert_id)
            if row is not None and row.contributors:
                regions = {c["region"] for c in orjson.loads(row.contributors)}
                named[(alert.indicator, alert.window, alert.category)] = (alert.alert_id, regions)
    folded: dict[str, str] = {}
    for alert, notice in items:
        province = named.get((alert.indicator, alert.window, alert.category))
        if notice != "resolved" and province is not None and alert.region in province[1]:
            folded[alert.alert_id] = province[0]
    return folded


def _instant(value: dt.datetime | None) -> str | None:
    return rfc3339(value) if value is not None else None


def loop_agencies(catalogue: Catalogue, alert: Alert, notice: LoopNotice) -> tuple[str, ...]:
    return notice.agencies or agencies_for_alert(catalogue, alert.indicator, alert.region, alert.category)
