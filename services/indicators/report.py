"""The periodic quality status report (定期发布质量状况分析报告): HTML or PDF, Chinese (the official version) or
English.

- ``GET /v1/reports/quality?period=2026-11`` (a month, ``2026-Q4`` or ``2026``; readers only, bearer token):
  ``format=pdf`` or ``Accept: application/pdf`` for the PDF, ``lang=en`` for English (else the ``qw_lang``
  cookie, else Chinese, the official version: ``Accept-Language`` is not consulted).
- ``POST /v1/reports/quality/links`` (readers): a short-lived signed link to one report (``report_links``),
  which ``GET /reports/quality?...&sig=...`` serves to whoever holds it, without a token — how the dashboard
  opens the report in a browser tab.

A period that has not begun, or ended before the plan's start, is a 422. The figures are read straight from
the figure reader, each indicator over the window it is judged on, as of the period's end: for a closed period
on basis ``final`` (settled verdicts only), while it runs on every verdict; the previous period's the same way
(for the change). The report says which figures still hold provisional failures, and the completeness of the
reported figures the catalogue expects for the period (reported ÷ expected, the regions missing named).
The alerts of the period come from the alert service (with the
caller's token; for a signed link, with the operator token when one is configured); when it does not answer,
the report says so.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from services.indicators.deps import CatalogueDep, Reader, ReaderDep, SettingsDep
from services.indicators.report_data import (
    Period,
    check_reportable,
    collect_figures,
    index_figures,
    parse_period,
    period_alerts,
    report_basis,
    report_completeness,
    report_figures,
)
from services.indicators.report_format import unit_of
from services.indicators.report_links import link_refusal, signed_link
from services.indicators.report_pdf import html_to_pdf
from services.indicators.report_render import Report, render, render_report
from shared.catalogue import Catalogue
from shared.error_answers import error_responses
from shared.i18n import LANG_COOKIE, LOCALES, negotiate
from shared.jsonbody import StrictJsonRoute

# Re-exported: the tests import these from here.
__all__ = ["Period", "collect_figures", "index_figures", "parse_period",
           "quality_report", "render_report", "router", "unit_of"]

router = APIRouter(route_class=StrictJsonRoute)
Format = Literal["html", "pdf"]
PDF = "application/pdf"
_ERROR_TEXT = {400: "the body is not valid JSON", 401: "missing or unknown token",
               403: "the token's role may not read reports"}
PeriodQuery = Annotated[str, Query(description="a month (2026-11), a quarter (2026-Q4) or a year (2026)",
                                   examples=["2026-11"])]


def _unprocessable(param: str, message: str) -> HTTPException:
    return HTTPException(status_code=422, detail=[{"loc": ["query", param], "msg": message, "type": "value_error"}])


def reportable_period(text: str, catalogue: Catalogue, now: dt.datetime, loc: str = "period") -> Period:
    try:
        period = parse_period(text, catalogue.tz)
        check_reportable(period, catalogue, now)
    except ValueError as exc:
        raise _unprocessable(loc, str(exc)) from exc
    return period


def link_secret(request: Request) -> str:
    """The server's link secret: the setting, or one random secret for this process's life."""
    state = request.app.state
    secret = getattr(state, "report_link_secret", None)
    if secret is None:
        secret = state.settings.report_link_secret or secrets.token_urlsafe(32)
        state.report_link_secret = secret
    return str(secret)


async def build(request: Request, reader: Any, catalogue: Catalogue, settings: Any, period: Period, fmt: str,
                locale: str, authorization: str) -> Response:
    now = reader.clock.now().astimezone(catalogue.tz)
    figures = await run_in_threadpool(report_figures, reader, catalogue, period, now)
    previous = await run_in_threadpool(report_figures, reader, catalogue, period.previous(), now)
    completeness = await run_in_threadpool(report_completeness, reader, catalogue, period, now)
    alerts_url = settings.alerts_internal_url or settings.alerts_public_url
    if authorization:
        alerts, alerts_error = await period_alerts(alerts_url, authorization, period,
                                                   settings.delivery_timeout_seconds)
    else:
        alerts, alerts_error = None, "no credential for the alert service"
    document = render(Report(catalogue, period, figures, alerts, alerts_error, now, previous, locale,
                             completeness=completeness, basis=report_basis(period, now)))
    headers = {"Cache-Control": "no-store", "Content-Language": locale}
    if fmt == "pdf":
        pdf = await run_in_threadpool(html_to_pdf, document)
        name = f"quality-report-{period.label}-{locale}.pdf"
        headers["Content-Disposition"] = f'inline; filename="{name}"'
        return Response(pdf, media_type=PDF, headers=headers)
    return HTMLResponse(document, headers=headers)


def wants_pdf(fmt: str | None, accept: str) -> bool:
    if fmt is not None:
        return fmt == "pdf"
    return PDF in accept and "text/html" not in accept.split(PDF)[0]


@router.get("/v1/reports/quality", tags=["reports"],
            responses={**error_responses(_ERROR_TEXT),
                       200: {"content": {"text/html": {}, PDF: {}},
                             "description": "the report as HTML, or as PDF (format=pdf or Accept: application/pdf)"},
                       422: {"description": "a malformed period, one that has not begun, or one before the plan"}})
async def quality_report(
    request: Request,
    principal: Reader,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    reader: ReaderDep,
    period: PeriodQuery,
    format: Annotated[Format | None, Query(description="html (default) or pdf")] = None,  # noqa: A002 - the query name
    lang: Annotated[str | None, Query(description="zh-CN (default, the official version) or en")] = None,
) -> Response:
    """质量状况分析报告: the province's and cities' figures of the period against the plan, a narrative summary,
    and the period's alerts; HTML or PDF, Chinese or English."""
    parsed = reportable_period(period, catalogue, reader.clock.now())
    locale = negotiate(lang, request.cookies.get(LANG_COOKIE))
    fmt = "pdf" if wants_pdf(format, request.headers.get("accept", "")) else "html"
    return await build(request, reader, catalogue, settings, parsed, fmt, locale,
                       request.headers.get("authorization", ""))


class LinkRequest(BaseModel):
    period: str = Field(description="a month (2026-11), a quarter (2026-Q4) or a year (2026)", examples=["2026-11"])
    format: Format = Field("html", description="html or pdf")
    lang: str = Field("zh-CN", description="zh-CN (the official version) or en", examples=["zh-CN"])


class LinkAnswer(BaseModel):
    url: str = Field(description="a path on this service that opens the report without a token, until expires_at",
                     examples=["/reports/quality?period=2026-11&format=pdf&lang=zh-CN&expires=1796000000&sig=..."])
    expires_at: str = Field(description="when the link stops working (RFC 3339, China Standard Time)")


@router.post("/v1/reports/quality/links", tags=["reports"], status_code=201, response_model=LinkAnswer,
             responses=error_responses(_ERROR_TEXT, 400))
def report_link(request: Request, principal: Reader, catalogue: CatalogueDep, settings: SettingsDep,
                reader: ReaderDep, body: LinkRequest) -> LinkAnswer:
    """A short-lived signed link to one report (period, format, language), for opening it in a browser tab."""
    period = reportable_period(body.period, catalogue, reader.clock.now())
    locale = body.lang if body.lang in LOCALES else None
    if locale is None:
        raise HTTPException(status_code=422, detail=[{"loc": ["body", "lang"], "type": "value_error",
                                                      "msg": f"lang must be one of {', '.join(LOCALES)}"}])
    expires = int(time.time()) + settings.report_link_minutes * 60
    url = signed_link(link_secret(request), period.label, body.format, locale, expires)
    expires_at = dt.datetime.fromtimestamp(expires, catalogue.tz).isoformat(timespec="seconds")
    return LinkAnswer(url=url, expires_at=expires_at)


@router.get("/reports/quality", tags=["reports"],
            responses={200: {"content": {"text/html": {}, PDF: {}}},
                       403: {"description": "an altered or expired link (open the report again from the dashboard)"}})
async def quality_report_by_link(
    request: Request, catalogue: CatalogueDep, settings: SettingsDep, reader: ReaderDep,
    period: PeriodQuery, format: Format, lang: str,  # noqa: A002 - the query name
    expires: Annotated[int, Query(description="unix seconds")], sig: Annotated[str, Query(max_length=128)],
) -> Response:
    """The report a signed link names (minted by ``POST /v1/reports/quality/links``); no token needed."""
    refusal = link_refusal(link_secret(request), period, format, lang, expires, sig, time.time())
    if refusal is not None:
        raise HTTPException(status_code=403, detail=refusal)
    parsed = reportable_period(period, catalogue, reader.clock.now())
    authorization = f"Bearer {settings.admin_token}" if settings.admin_token else ""
    return await build(request, reader, catalogue, settings, parsed, format, lang if lang in LOCALES else "zh-CN",
                       authorization)
