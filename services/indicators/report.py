"""The periodic quality status report (定期发布质量状况分析报告), as a print-friendly HTML document.

``GET /v1/reports/quality?period=2026-11`` (a month, ``2026-Q4`` or ``2026``; readers only). The
figures are this service's own scorecard for the calendar period (read in-process through the /v1
API, with the caller's token, so the report shows exactly what the API serves); the alerts of the
period come from the alert service. If the alert service does not answer, the report says so.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from string import Template
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from shared.auth import Reader
from shared.catalogue import Catalogue, IndicatorSpec, load_catalogue
from shared.settings import Settings

logger = logging.getLogger(__name__)

TEMPLATE = Path(__file__).parent / "templates" / "quality_report.html"
PERIOD_PATTERN = re.compile(r"^(?P<year>\d{4})(?:-(?P<month>0[1-9]|1[0-2])|-Q(?P<quarter>[1-4]))?$")
STATUS_LABELS = {"ok": "达标 ok", "at_risk": "有风险 at risk", "breach": "未达标 breach",
                 "insufficient_data": "样本不足 insufficient data", "on_track": "进度正常 on track",
                 "behind": "进度落后 behind"}
STATUS_COLOURS = {"ok": "#2e7d32", "on_track": "#2e7d32", "at_risk": "#f0a500", "breach": "#c62828",
                  "behind": "#d84315", "insufficient_data": "#9e9e9e"}

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
    alerts = body.get("alerts", body.get("items", [])) if isinstance(body, dict) else body
    return [a for a in alerts if isinstance(a, dict)], None


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


# ---- rendering (pure) ------------------------------------------------------------------------
def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def unit_of(spec: IndicatorSpec) -> str:
    if spec.kind in ("mean_score", "reported_value"):
        return "score"
    return "count" if spec.kind == "milestone" else "percent"


def fmt_value(spec: IndicatorSpec, value: float | None) -> str:
    if value is None:
        return "—"
    unit = unit_of(spec)
    if unit == "percent":
        return f"{value * 100:.1f} %"
    return f"{value:.1f}" if unit == "score" else f"{value:.0f}"


def fmt_target(spec: IndicatorSpec, catalogue: Catalogue) -> str:
    op = {">=": "≥", "<=": "≤"}.get(spec.target.op, spec.target.op)
    text = f"{op} {fmt_value(spec, spec.target.value)}"
    return f"{text} by {catalogue.plan.deadline.isoformat()}" if spec.kind == "milestone" else text


def fmt_ci(spec: IndicatorSpec, ci: Any) -> str:
    if not ci or len(ci) != 2 or ci[0] is None:
        return "—"
    return f"{fmt_value(spec, ci[0])} – {fmt_value(spec, ci[1])}"


def sample_size(fig: dict[str, Any] | None) -> str:
    if not fig:
        return "—"
    n = fig.get("sample_size") if fig.get("sample_size") is not None else fig.get("denominator")
    return "—" if n is None else f"{n:,.0f}"


def status_badge(status: str | None) -> str:
    status = status or "insufficient_data"
    return f'<span class="status {esc(status)}">{esc(STATUS_LABELS.get(status, status))}</span>'


def region_label(catalogue: Catalogue, code: str) -> str:
    province = catalogue.regions.province
    spec = province if code == catalogue.province_code else catalogue.regions.cities.get(code)
    if spec is None:
        return esc(catalogue.region_name(code))
    return f'{esc(spec.name)} <span class="en">{esc(spec.name_en)}</span>'


def city_bar_chart(spec: IndicatorSpec, catalogue: Catalogue, figures: dict[tuple[str, str], dict[str, Any]]) -> str:
    """Inline SVG: one bar per city, coloured by status, with the target as a dashed line."""
    cities = catalogue.city_codes
    values = [figures.get((spec.id, c), {}).get("value") for c in cities]
    known = [v for v in values if v is not None]
    base, top = chart_range(spec, known)
    width, height, left, bottom, top_pad = 720, 240, 60, 48, 16
    plot_h = height - bottom - top_pad
    step = (width - left - 10) / len(cities)

    def y(v: float) -> float:
        return top_pad + plot_h * (1 - (max(base, min(v, top)) - base) / (top - base))

    parts = [f'<svg class="city-chart" data-indicator="{esc(spec.id)}" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{esc(spec.name_zh)} by city">']
    for tick in (base, (base + top) / 2, top):
        gy = y(tick)
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{gy:.1f}" y2="{gy:.1f}" stroke="#e3e7eb"/>'
                     f'<text x="{left - 6}" y="{gy + 4:.1f}" font-size="11" text-anchor="end" fill="#5f6b76">'
                     f'{esc(fmt_value(spec, tick))}</text>')
    for i, (code, value) in enumerate(zip(cities, values, strict=True)):
        fig = figures.get((spec.id, code), {})
        status = fig.get("status") or "insufficient_data"
        x = left + i * step + step * 0.15
        name = catalogue.regions.cities[code].name
        if value is not None:
            by = y(value)
            parts.append(f'<rect class="bar {esc(status)}" data-region="{code}" x="{x:.1f}" y="{by:.1f}" '
                         f'width="{step * 0.7:.1f}" height="{max(y(base) - by, 0.5):.1f}" '
                         f'fill="{STATUS_COLOURS.get(status, "#9e9e9e")}"><title>{esc(name)} '
                         f'{esc(fmt_value(spec, value))} (n={esc(sample_size(fig))})</title></rect>')
        else:
            parts.append(f'<text x="{x + step * 0.35:.1f}" y="{y(base) - 4:.1f}" font-size="10" '
                         f'text-anchor="middle" fill="#9e9e9e">n/a</text>')
        parts.append(f'<text x="{x + step * 0.35:.1f}" y="{height - bottom + 16}" font-size="11" '
                     f'text-anchor="middle">{esc(name.removesuffix("市"))}</text>')
    ty = y(spec.target.value)
    parts.append(f'<line class="target-line" x1="{left}" x2="{width - 10}" y1="{ty:.1f}" y2="{ty:.1f}" '
                 f'stroke="#1d232a" stroke-width="1.5" stroke-dasharray="6 4"/>'
                 f'<text x="{width - 12}" y="{ty - 5:.1f}" font-size="11" text-anchor="end">'
                 f'目标 target {esc(fmt_target(spec, catalogue))}</text></svg>')
    return "".join(parts)


def chart_range(spec: IndicatorSpec, values: list[float]) -> tuple[float, float]:
    """The value axis: from a round floor a little under the lowest bar or the target (zero for
    counts), to a little over the highest; a percent axis stops at 100 %."""
    unit = unit_of(spec)
    low, high = min([spec.target.value, *values]), max([spec.target.value, *values])
    if unit == "count":
        base = 0.0
    else:
        grain = 0.05 if unit == "percent" else 5.0
        base = max(0.0, math.floor((low - grain / 2) / grain) * grain)
    top = high + (high - base) * 0.08 or 1.0
    return base, (min(top, 1.0) if unit == "percent" and high <= 1.0 else top)


def indicator_section(spec: IndicatorSpec, catalogue: Catalogue, figures: dict[tuple[str, str], dict[str, Any]]) -> str:
    province = figures.get((spec.id, catalogue.province_code))
    status = (province or {}).get("status")
    breaches = [c for c in catalogue.city_codes if figures.get((spec.id, c), {}).get("status") in ("breach", "behind")]
    rows = []
    for code in (catalogue.province_code, *catalogue.city_codes):
        fig = figures.get((spec.id, code))
        rows.append(f'<tr data-region="{code}"><td>{region_label(catalogue, code)}</td>'
                    f'<td class="num">{esc(fmt_value(spec, (fig or {}).get("value")))}</td>'
                    f'<td class="num">{esc(sample_size(fig))}</td>'
                    f'<td class="num">{esc(fmt_ci(spec, (fig or {}).get("ci95")))}</td>'
                    f'<td>{status_badge((fig or {}).get("status"))}</td></tr>')
    breach_line = ""
    if breaches:
        cities = catalogue.regions.cities
        names = "、".join(f"{cities[c].name} ({cities[c].name_en})" for c in breaches)
        breach_line = f'<p class="breaches">未达标城市 Cities in breach: {esc(names)}</p>'
    return (f'<section class="indicator" id="{esc(spec.id)}"><h3>{esc(spec.name_zh)} '
            f'<span class="en">{esc(spec.name_en)}</span></h3>'
            f'<p class="meta">{esc(spec.clause)} · 目标 target {esc(fmt_target(spec, catalogue))}</p>'
            f'<p class="headline">全省 Province: <strong>{esc(fmt_value(spec, (province or {}).get("value")))}'
            f'</strong> (n = {esc(sample_size(province))}, 95 % CI {esc(fmt_ci(spec, (province or {}).get("ci95")))})'
            f' {status_badge(status)}</p>{breach_line}'
            f'{city_bar_chart(spec, catalogue, figures)}'
            '<table class="figures"><thead><tr><th>地区 Region</th><th>值 Value</th><th>样本量 n</th>'
            f'<th>95 % 置信区间 CI</th><th>状态 Status</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
            '</section>')


def summary_table(catalogue: Catalogue, figures: dict[tuple[str, str], dict[str, Any]]) -> str:
    rows = []
    for spec in catalogue.indicators:
        fig = figures.get((spec.id, catalogue.province_code)) or {}
        rows.append(f'<tr><td><a href="#{esc(spec.id)}">{esc(spec.name_zh)}</a></td>'
                    f'<td class="num">{esc(fmt_target(spec, catalogue))}</td>'
                    f'<td class="num">{esc(fmt_value(spec, fig.get("value")))}</td>'
                    f'<td class="num">{esc(sample_size(fig))}</td><td>{status_badge(fig.get("status"))}</td></tr>')
    return ('<h2>一、主要目标完成情况 Summary against the plan</h2><table class="summary"><thead><tr>'
            '<th>指标 Indicator</th><th>目标 Target</th><th>全省 Province</th><th>样本量 n</th><th>状态 Status</th>'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table>')


def alerts_section(catalogue: Catalogue, alerts: list[dict[str, Any]] | None, error: str | None) -> str:
    head = '<h2>三、本期告警 Alerts of the period</h2>'
    if alerts is None:
        return (f'{head}<p class="note alerts-unavailable">告警服务暂不可用，本期告警未能列入报告。'
                f'The alert service could not be reached; this report lists no alerts. ({esc(error)})</p>')
    if not alerts:
        return f'{head}<p>本期无告警。No alerts in this period.</p>'
    rows = []
    for a in sorted(alerts, key=lambda a: str(a.get("started_at") or "")):
        spec = catalogue.indicator(str(a.get("indicator")))
        name = spec.name_zh if spec else a.get("indicator")
        value = fmt_value(spec, a.get("value")) if spec else a.get("value")
        rows.append(f'<tr><td>{esc(name)}</td><td>{region_label(catalogue, str(a.get("region")))}</td>'
                    f'<td>{esc(a.get("window") or "")} · {esc(a.get("category") or "all")}</td>'
                    f'<td>{esc(a.get("severity") or "")}</td>'
                    f'<td>{esc(a.get("state") or "")}</td><td class="num">{esc(value)}</td>'
                    f'<td>{esc(a.get("started_at") or "")}</td><td>{esc(a.get("resolved_at") or "—")}</td></tr>')
    return (f'{head}<table class="alerts"><thead><tr><th>指标 Indicator</th><th>地区 Region</th>'
            '<th>窗口/类别 Window/category</th><th>级别 Severity</th><th>状态 State</th><th>值 Value</th>'
            '<th>开始 Started</th><th>解除 Resolved</th>'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table>')


def render_report(catalogue: Catalogue, period: Period, figures: dict[tuple[str, str], dict[str, Any]],
                  alerts: list[dict[str, Any]] | None, alerts_error: str | None, *, generated_at: dt.datetime) -> str:
    plan = catalogue.plan
    sections = "".join(indicator_section(spec, catalogue, figures) for spec in catalogue.indicators)
    body = (summary_table(catalogue, figures) + '<h2>二、分指标情况 Figures by indicator and city</h2>'
            + sections + alerts_section(catalogue, alerts, alerts_error))
    span = f"{period.start.date().isoformat()} – {(period.end - dt.timedelta(days=1)).date().isoformat()}"
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        title=esc(f"{catalogue.regions.province.name}质量状况分析报告（{period.title}）"),
        subtitle=esc(f"Quality status report, {period.label} · {plan.title} {plan.title_en}"),
        meta=esc(f"计划 Plan: {plan.title}（{plan.issued_by}）· 报告期 Period: {period.label} ({span}, UTC+"
                 f"{plan.utc_offset_hours}) · 生成时间 Generated: {generated_at.isoformat(timespec='seconds')}"),
        body=body,
        footer=esc("Figures: value, sample size n and 95 % interval (Wilson score interval for rates). "
                   "Breach: the whole interval lies on the wrong side of the target; at risk: the value does."),
    )
