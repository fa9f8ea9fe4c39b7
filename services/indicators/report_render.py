"""The quality report's document (pure): the summary table, a section per indicator with its city
bar chart, the alerts of the period, all put into ``templates/quality_report.html``."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from string import Template
from typing import Any

from services.indicators.report_data import Period
from services.indicators.report_format import (
    esc,
    fmt_ci,
    fmt_target,
    fmt_value,
    region_label,
    sample_size,
    status_badge,
    unit_of,
)
from shared.catalogue import Catalogue, IndicatorSpec

TEMPLATE = Path(__file__).parent / "templates" / "quality_report.html"
STATUS_COLOURS = {"ok": "#2e7d32", "on_track": "#2e7d32", "at_risk": "#f0a500", "breach": "#c62828",
                  "behind": "#d84315", "insufficient_data": "#9e9e9e", "no_data": "#b0bec5"}


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
                  alerts: list[dict[str, Any]] | None, alerts_error: str | None, *, generated_at: dt.datetime,
                  extra: str = "") -> str:
    plan = catalogue.plan
    sections = "".join(indicator_section(spec, catalogue, figures) for spec in catalogue.indicators)
    body = (summary_table(catalogue, figures) + '<h2>二、分指标情况 Figures by indicator and city</h2>'
            + sections + alerts_section(catalogue, alerts, alerts_error) + extra)
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
