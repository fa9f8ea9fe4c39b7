"""The periodic quality status report (定期发布质量状况分析报告), as a print-friendly HTML document.

``GET /v1/reports/quality?period=2026-11`` (a month, ``2026-Q4`` or ``2026``; readers only). The
figures are this service's own scorecard for the calendar period (read in-process through the /v1
API, with the caller's token, so the report shows exactly what the API serves); the alerts of the
period come from the alert service. If the alert service does not answer, the report says so.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from services.indicators.report_data import (
    Period,
    collect_figures,
    index_figures,
    parse_period,
    period_alerts,
    scorecard_figures,
)
from services.indicators.report_format import unit_of
from services.indicators.report_render import render_report
from shared.auth import Reader
from shared.catalogue import Catalogue, load_catalogue
from shared.settings import Settings

# Re-exported: dashboard.py and the tests import these from here.
__all__ = ["Period", "app_catalogue", "app_settings", "collect_figures", "index_figures", "parse_period",
           "quality_report", "render_report", "router", "unit_of"]

router = APIRouter()


# ---- where the app keeps its settings and catalogue (shared with dashboard.py) ---------------
def app_settings(request: Request) -> Settings:
    settings = getattr(request.app.state, "settings", None)
    return settings if isinstance(settings, Settings) else _default_settings()


def app_catalogue(request: Request) -> Catalogue:
    catalogue = getattr(request.app.state, "catalogue", None)
    if isinstance(catalogue, Catalogue):
        return catalogue
    return _catalogue_at(str(app_settings(request).catalogue_path))


@lru_cache(maxsize=1)
def _default_settings() -> Settings:
    return Settings()


@lru_cache(maxsize=4)
def _catalogue_at(path: str) -> Catalogue:
    return load_catalogue(path)


@router.get("/v1/reports/quality", response_class=HTMLResponse, tags=["reports"])
async def quality_report(
    request: Request,
    principal: Reader,
    period: Annotated[str, Query(description="a month (2026-11), a quarter (2026-Q4) or a year (2026)")],
) -> HTMLResponse:
    """质量状况分析报告: provincial and city figures of the period against the plan, and its alerts."""
    catalogue = app_catalogue(request)
    settings = app_settings(request)
    try:
        parsed = parse_period(period, catalogue.tz)
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=[{"loc": ["query", "period"], "msg": str(exc),
                                                      "type": "value_error"}]) from exc
    figures = index_figures(await scorecard_figures(request, parsed.label))
    alerts_url = settings.alerts_internal_url or settings.alerts_public_url
    alerts, alerts_error = await period_alerts(alerts_url, request.headers.get("authorization", ""), parsed,
                                               settings.delivery_timeout_seconds)
    now = dt.datetime.now(catalogue.tz)
    document = render_report(catalogue, parsed, figures, alerts, alerts_error, generated_at=now)
    return HTMLResponse(document, headers={"Cache-Control": "no-store"})
