"""The quality report's period and its data: parsing ``2026-11`` / ``2026-Q4`` / ``2026`` into a calendar
period in plan time, checking it lies inside what can be reported (not in the future, not before the plan's
start), and reading the period's figures (straight from the figure reader, each indicator at the window it is
judged on, as of the period's end) and alerts (from the alert service)."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

import httpx

from services.indicators.api import figure_json, judged_window
from services.indicators.completeness import completeness, reported_keys
from services.indicators.reader import FigureReader, FigureRequest
from shared.catalogue import Catalogue, IndicatorSpec
from shared.figures import Basis
from shared.i18n import Translator

logger = logging.getLogger(__name__)

PERIOD_PATTERN = re.compile(r"^(?P<year>\d{4})(?:-(?P<month>0[1-9]|1[0-2])|-Q(?P<quarter>[1-4]))?$")
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December")
Figures = dict[tuple[str, str], dict[str, Any]]


# ---- periods ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Period:
    label: str
    start: dt.datetime  # inclusive, plan time zone
    end: dt.datetime  # exclusive

    @property
    def title(self) -> str:
        return self.name(Translator("report", "zh-CN"))

    def name(self, t: Translator) -> str:
        m = PERIOD_PATTERN.match(self.label)
        assert m is not None
        if m["month"]:
            return t("period.month", year=m["year"], month=int(m["month"]), month_name=MONTHS_EN[int(m["month"]) - 1])
        if m["quarter"]:
            return t("period.quarter", year=m["year"], quarter=m["quarter"])
        return t("period.year", year=m["year"])

    @property
    def last_day(self) -> dt.date:
        return (self.end - dt.timedelta(days=1)).date()

    def previous(self) -> Period:
        """The period of the same length just before this one (the month, quarter or year before)."""
        m = PERIOD_PATTERN.match(self.label)
        assert m is not None
        year = int(m["year"])
        if m["month"]:
            month = int(m["month"]) - 1
            label = f"{year - 1}-12" if month == 0 else f"{year}-{month:02d}"
        elif m["quarter"]:
            quarter = int(m["quarter"]) - 1
            label = f"{year - 1}-Q4" if quarter == 0 else f"{year}-Q{quarter}"
        else:
            label = str(year - 1)
        return parse_period(label, self.start.tzinfo or dt.UTC)


def parse_period(text: str, tz: dt.tzinfo) -> Period:
    m = PERIOD_PATTERN.match(text)
    if m is None:
        raise ValueError(f"period {text!r} is not a month (2026-11), a quarter (2026-Q4) or a year (2026)")
    year = int(m["year"])
    if m["month"]:
        first, months = int(m["month"]), 1
    elif m["quarter"]:
        first, months = 3 * int(m["quarter"]) - 2, 3
    else:
        first, months = 1, 12
    start = dt.datetime(year, first, 1, tzinfo=tz)
    end_year, end_month = divmod(first - 1 + months, 12)
    return Period(label=text, start=start, end=dt.datetime(year + end_year, end_month + 1, 1, tzinfo=tz))


def check_reportable(period: Period, catalogue: Catalogue, now: dt.datetime) -> None:
    """A report covers what has happened under the plan: a period that has not begun, or that ended before the
    plan's start, has nothing to report (ValueError naming why)."""
    if period.start > now:
        raise ValueError(f"period {period.label!r} has not begun (today is {now.astimezone(catalogue.tz).date()}): "
                         "a report covers a period that has started")
    plan_start = dt.datetime.combine(catalogue.plan.start, dt.time(), tzinfo=catalogue.tz)
    if period.end <= plan_start:
        raise ValueError(f"period {period.label!r} ends before the plan's start ({catalogue.plan.start}): "
                         "choose a period from then on")


# ---- data ------------------------------------------------------------------------------------
def collect_figures(node: Any) -> list[dict[str, Any]]:
    """Every figure-shaped object in a scorecard answer, whatever rows or groups wrap them."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if {"indicator", "region", "status"} <= node.keys() and "value" in node:
            return [node]
        for child in node.values():
            found.extend(collect_figures(child))
    elif isinstance(node, list):
        for child in node:
            found.extend(collect_figures(child))
    return found


def index_figures(figures: list[dict[str, Any]]) -> Figures:
    """(indicator, region) → figure; the all-categories figure wins over a category's."""
    out: Figures = {}
    for fig in figures:
        key = (str(fig["indicator"]), str(fig["region"]))
        if key not in out or fig.get("category") is None:
            out[key] = fig
    return out


def report_window(catalogue: Catalogue, spec: IndicatorSpec, period: Period) -> str:
    """The window a report shows an indicator over: the reporting period itself, except for indicators judged
    year-to-date (reported shares, sampling coverage: year to the period's end) and milestones (the plan)."""
    judged = judged_window(catalogue, spec)
    return judged if judged in ("ytd", "plan") else period.label


def report_as_of(period: Period, now: dt.datetime) -> dt.datetime:
    """The instant the report's figures are taken at: the period's end, or now while the period runs."""
    return min(now, period.end - dt.timedelta(microseconds=1))


def report_basis(period: Period, now: dt.datetime) -> Basis:
    """Final figures (settled verdicts only) for a closed period; every verdict while the period runs."""
    return "final" if now >= period.end else "all"


def report_figures(reader: FigureReader, catalogue: Catalogue, period: Period, now: dt.datetime) -> Figures:
    """The period's figures for the province and each city it judges, as of the period's end, on the period's
    basis (``report_basis``)."""
    basis = report_basis(period, now)
    requests = [FigureRequest(spec, report_window(catalogue, spec, period), catalogue.judged_regions(spec),
                              basis=basis)
                for spec in catalogue.indicators]
    figures = reader.figures(requests, now=report_as_of(period, now))
    return index_figures([figure_json(f) for f in figures])


def report_completeness(reader: FigureReader, catalogue: Catalogue, period: Period,
                        now: dt.datetime) -> list[dict[str, Any]]:
    """Reported ÷ expected for the period's expected reports, with the regions missing (read in-process); each
    entry says the last day to report its period's last part (``due_on``) and whether that has passed (``due``:
    a report of a running period, or one still inside its grace days, is not missing yet)."""
    if not catalogue.expected_reports:
        return []
    with reader.sessions() as session:
        reported = reported_keys(session, (e.indicator for e in catalogue.expected_reports))
    days = {e.indicator: e.due_days for e in catalogue.expected_reports}
    out = []
    for entry in completeness(catalogue, reported, period.label):
        due_on = period.last_day + dt.timedelta(days=days.get(entry["indicator"], 0))
        due_at = dt.datetime.combine(due_on + dt.timedelta(days=1), dt.time(), catalogue.tz)
        out.append({**entry, "due_on": due_on.isoformat(), "due": now >= due_at})
    return out


async def period_alerts(base_url: str, authorization: str, period: Period,
                        timeout: float) -> tuple[list[dict[str, Any]] | None, str | None]:
    """The alerts of the period, or (None, why) when the alert service cannot be read."""
    params = {"state": "all", "since": period.start.isoformat(), "until": period.end.isoformat()}
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            resp = await client.get(f"{base_url.rstrip('/')}/v1/alerts", params=params,
                                    headers={"Authorization": authorization})
        resp.raise_for_status()
        body = resp.json()
    except (httpx.HTTPError, ValueError) as exc:
        logger.warning("report: alert service unavailable", extra={"alerts_url": base_url, "error": str(exc)})
        return None, f"{type(exc).__name__}: {exc}"
    alerts: Any = body.get("alerts", body.get("items", [])) if isinstance(body, dict) else body  # JSON
    return [a for a in alerts if isinstance(a, dict)
            and in_period(a, period)], None


def in_period(alert: dict[str, Any], period: Period) -> bool:
    """An alert belongs to a period when it was firing at some time inside it."""
    try:
        started = dt.datetime.fromisoformat(str(alert.get("started_at")).replace("Z", "+00:00"))
        resolved_text = alert.get("resolved_at")
        resolved = dt.datetime.fromisoformat(str(resolved_text).replace("Z", "+00:00")) if resolved_text else None
    except ValueError:
        return True
    return started < period.end and (resolved is None or resolved >= period.start)
