"""The periodic quality status report (定期发布质量状况分析报告), as a print-friendly HTML document.

``GET /v1/reports/quality?period=2026-11`` (a month, ``2026-Q4`` or ``2026``; readers only). The
figures are this service's own scorecard for the calendar period (read in-process through the /v1
API, with the caller's token, so the report shows exactly what the API serves); the alerts of the
period come from the alert service. If the alert service does not answer, the report says so.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from services.indicators.deps import CatalogueDep, Reader, SettingsDep
from services.indicators.report_data import (
    Period,
    collect_figures,
    index_figures,
    parse_period,
    period_alerts,
)
from services.indicators.report_format import unit_of
from services.indicators.report_loop import loop_sections, scorecard_body
from services.indicators.report_render import render_report
from shared.jsonbody import StrictJsonRoute

# Re-exported: the tests import these from here.
__all__ = ["Period", "collect_figures", "index_figures", "parse_period",
           "quality_report", "render_report", "router", "unit_of"]

router = APIRouter(route_class=StrictJsonRoute)


@router.get("/v1/reports/quality", response_class=HTMLResponse, tags=["reports"])
async def quality_report(
    request: Request,
    principal: Reader,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    period: Annotated[str, Query(description="a month (2026-11), a quarter (2026-Q4) or a year (2026)")],
) -> HTMLResponse:
    """质量状况分析报告: provincial and city figures of the period against the plan, and its alerts."""
    try:
        parsed = parse_period(period, catalogue.tz)
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=[{"loc": ["query", "period"], "msg": str(exc),
                                                      "type": "value_error"}]) from exc
    # Issue 19: a closed period reads settled verdicts only; the report says which figures are still provisional.
    basis = "final" if parsed.end <= dt.datetime.now(catalogue.tz) else "all"
    card = await scorecard_body(request, parsed.label, basis)
    figures = index_figures(collect_figures(card))
    alerts_url = settings.alerts_internal_url or settings.alerts_public_url
    alerts, alerts_error = await period_alerts(alerts_url, request.headers.get("authorization", ""), parsed,
                                               settings.delivery_timeout_seconds)
    now = dt.datetime.now(catalogue.tz)
    extra = loop_sections(catalogue, figures, card.get("completeness") or [], basis)
    document = render_report(catalogue, parsed, figures, alerts, alerts_error, generated_at=now, extra=extra)
    return HTMLResponse(document, headers={"Cache-Control": "no-store"})
