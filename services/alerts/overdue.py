"""Overdue reports (issue 19): a reported figure the catalogue expects (``expected_reports``) that is not in by
its due date is an alert of kind ``report_overdue``, through the same alert rows, outbox, silences and
repeat interval as a threshold alert — one notice when it falls overdue, a reminder per repeat interval,
a resolved notice when the report arrives.

- Due date: the start of the CST day ``due_days`` after the period's last day (a month ``2026-10`` with
  10 days is due by the end of 10 November CST, so overdue from 2026-11-11T00:00+08:00).
- Tracking of an indicator starts with the first period any region reported it for (and not before the
  expectation's ``from_period``): a system that never received a report of it owes nobody a notice.
- At most ``LOOKBACK`` periods back are checked (a bounded pass).

The alert's identity is ``overdue|<indicator>|<region>|<period>`` (``window`` = the period). The reported
figures are the indicators service's ``reported_figure`` table, read here as a plain table (both services
share one database, as they share ``api_key``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import column, select, table
from sqlalchemy.orm import Session

from services.alerts.evaluate import alert_id_for
from services.alerts.lifecycle import Entry
from services.alerts.loop import OVERDUE_PREFIX, append_entries
from services.alerts.models import Alert
from services.alerts.rules import RuleBook
from services.alerts.store import for_update
from shared.catalogue import Catalogue, ExpectedReport

LOOKBACK = 12
_REPORTED = table("reported_figure", column("indicator"), column("region"), column("period"))


@dataclass(frozen=True, slots=True)
class Due:
    indicator: str
    region: str
    period: str
    due_at: dt.datetime

    @property
    def key(self) -> str:
        return f"{OVERDUE_PREFIX}{self.indicator}|{self.region}|{self.period}"


def _periods(kind: str, today: dt.date, count: int) -> list[tuple[str, dt.date]]:
    """The last ``count`` periods of ``kind`` that have ended by ``today``: (name, last day), newest first."""
    out: list[tuple[str, dt.date]] = []
    year, month = today.year, today.month
    if kind == "month":
        index = year * 12 + month - 1
        for i in range(1, count + 1):
            y, m = divmod(index - i, 12)
            last = dt.date(y + (m + 1) // 12, (m + 1) % 12 + 1, 1) - dt.timedelta(days=1)
            out.append((f"{y}-{m + 1:02d}", last))
    elif kind == "quarter":
        quarter = year * 4 + (month - 1) // 3
        for i in range(1, count + 1):
            y, q = divmod(quarter - i, 4)
            end_month = 3 * (q + 1)
            last = dt.date(y + end_month // 12, end_month % 12 + 1, 1) - dt.timedelta(days=1)
            out.append((f"{y}-Q{q + 1}", last))
    else:
        out = [(str(year - i), dt.date(year - i, 12, 31)) for i in range(1, count + 1)]
    return out


def _period_key(period: str) -> tuple[int, int]:
    """Sortable start of a period name (year, first month)."""
    year = int(period[:4])
    if "-Q" in period:
        return year, 3 * (int(period[-1]) - 1) + 1
    return (year, int(period[5:7])) if len(period) > 4 else (year, 1)


def overdue(catalogue: Catalogue, expectations: Iterable[ExpectedReport], reported: set[tuple[str, str, str]],
            now: dt.datetime) -> list[Due]:
    """Expected reports past their due date and not reported (pure)."""
    tz = catalogue.tz
    today = now.astimezone(tz).date()
    first_reported: dict[str, tuple[int, int]] = {}
    for indicator, _region, period in reported:
        key = _period_key(period)
        if indicator not in first_reported or key < first_reported[indicator]:
            first_reported[indicator] = key
    out: list[Due] = []
    for expected in expectations:
        start = first_reported.get(expected.indicator)
        if start is None:
            continue
        if expected.from_period is not None:
            start = max(start, _period_key(expected.from_period))
        regions = catalogue.city_codes if expected.level == "city" else (catalogue.province_code,)
        for period, last_day in _periods(expected.period, today, LOOKBACK):
            if _period_key(period) < start:
                continue
            due_at = dt.datetime.combine(last_day + dt.timedelta(days=expected.due_days + 1), dt.time(), tz)
            if now < due_at:
                continue
            out.extend(Due(expected.indicator, region, period, due_at) for region in regions
                       if (expected.indicator, region, period) not in reported)
    return out


class OverdueKeeper:
    """The periodic pass's part: a missing report's alert goes pending, fires once it has stayed missing
    for the rule's ``overdue_for_seconds`` (so a backfill, or indicators catching up after an outage, that
    brings the report notifies nobody), and resolves when the report is in."""

    def __init__(self, catalogue: Catalogue, rules: RuleBook) -> None:
        self.catalogue = catalogue
        self.rules = rules

    def periodic(self, session: Session, now: dt.datetime) -> list[Alert]:
        """Returns the firing or just resolved overdue alerts (the ones owing a notice are among them)."""
        expectations = self.catalogue.expected_reports
        if not expectations:
            return []
        indicators = sorted({e.indicator for e in expectations})
        reported = {(i, r, p) for i, r, p in session.execute(
            select(_REPORTED.c.indicator, _REPORTED.c.region, _REPORTED.c.period)
            .where(_REPORTED.c.indicator.in_(indicators)))}
        due = {d.key: d for d in overdue(self.catalogue, expectations, reported, now)}
        open_rows = {row.figure_key: row for row in session.scalars(for_update(session, select(Alert).where(
            Alert.figure_key.startswith(OVERDUE_PREFIX), Alert.state.in_(("pending", "firing")))))}
        touched: list[Alert] = []
        for key, row in open_rows.items():
            if key in due:
                continue
            if row.state == "pending":  # in before its alert fired: nobody was told, nothing to say
                row.state, row.severity, row.active_at, row.status, row.updated_at = \
                    "inactive", None, None, "reported", now
                continue
            row.state, row.resolved_at, row.status, row.updated_at = "resolved", now, "reported", now
            session.flush()
            append_entries(session, row.alert_id, [Entry("report_received", now, None, {"period": row.window})])
            touched.append(row)
        for key, item in sorted(due.items()):
            row = open_rows.get(key) or self._pending(session, item, now)
            if row.state == "pending":
                waited = (now - row.active_at).total_seconds() if row.active_at else 0.0
                if waited < self.rules.rule_for(item.indicator).overdue_for_seconds:
                    continue
                self._fire(session, row, item, now)
            touched.append(row)
        return touched

    def _pending(self, session: Session, item: Due, now: dt.datetime) -> Alert:
        """The alert row of a report found missing now, pending (new, or back from an earlier episode)."""
        row = session.get(Alert, alert_id_for(item.key))
        if row is None:
            spec = self.catalogue.indicator(item.indicator)
            assert spec is not None  # the catalogue validates expected reports
            row = Alert(alert_id=alert_id_for(item.key), figure_key=item.key, indicator=item.indicator,
                        region=item.region, category=None, window=item.period, state="inactive",
                        target_op=spec.target.op, target_value=spec.target.value, created_at=now, updated_at=now)
            session.add(row)
        row.state, row.severity, row.status, row.active_at, row.updated_at = "pending", "warning", "overdue", now, now
        row.started_at = row.resolved_at = row.ok_since = None  # an earlier episode's times are not this one's
        return row

    @staticmethod
    def _fire(session: Session, row: Alert, item: Due, now: dt.datetime) -> None:
        row.state, row.started_at, row.updated_at = "firing", now, now
        row.resolved_at = row.ok_since = row.notified_state = row.notified_severity = None
        row.last_notified_at = row.acked_at = None
        session.flush()
        append_entries(session, row.alert_id, [Entry("report_overdue", now, None, {
            "period": item.period, "due_at": item.due_at.isoformat()})])
