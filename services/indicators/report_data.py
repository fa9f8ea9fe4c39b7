"""The quality report's period and its data: parsing ``2026-11`` / ``2026-Q4`` / ``2026`` into a
calendar period in plan time, and fetching the period's figures (this service's own scorecard, read
in-process with the caller's token) and alerts (from the alert service)."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import HTTPException, Request

logger = logging.getLogger(__name__)

PERIOD_PATTERN = re.compile(r"^(?P<year>\d{4})(?:-(?P<month>0[1-9]|1[0-2])|-Q(?P<quarter>[1-4]))?$")


# ---- periods ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Period:
    label: str
    start: dt.datetime  # inclusive, plan time zone
    end: dt.datetime  # exclusive

    @property
    def title(self) -> str:
        m = PERIOD_PATTERN.match(self.label)
        assert m is not None
        if m["month"]:
            return f"{m['year']}年{int(m['month'])}月"
        if m["quarter"]:
            return f"{m['year']}年第{m['quarter']}季度"
        return f"{m['year']}年"


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


def index_figures(figures: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(indicator, region) → figure; the all-categories figure wins over a category's."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for fig in figures:
        key = (str(fig["indicator"]), str(fig["region"]))
        if key not in out or fig.get("category") is None:
            out[key] = fig
    return out


async def scorecard_figures(request: Request, window: str) -> list[dict[str, Any]]:
    transport = httpx.ASGITransport(app=request.app)
    headers = {"Authorization": request.headers.get("authorization", "")}
    async with httpx.AsyncClient(transport=transport, base_url="http://indicators.internal") as client:
        resp = await client.get("/v1/scorecard", params={"window": window}, headers=headers)
    if resp.status_code != 200:
        raise HTTPException(status_code=resp.status_code if resp.status_code < 500 else 502,
                            detail=f"scorecard for window {window!r} failed: {resp.text[:300]}")
    return collect_figures(resp.json())


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
    return [a for a in alerts if isinstance(a, dict)], None
