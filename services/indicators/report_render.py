"""The quality report's document (pure): the head with the issuing unit, the narrative summary, the table of
targets, a section per indicator with its city chart and table, the alerts of the period and the notes, in
Chinese (the official version) or English, put into ``templates/quality_report.html``. The same document is
served as HTML and printed to PDF (``report_pdf``)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from services.indicators.report_data import Figures, Period, report_window
from services.indicators.report_format import (
    esc,
    fmt_ci,
    fmt_target,
    fmt_value,
    indicator_name,
    region_label,
    region_name,
    sample_size,
    status_badge,
    unit_of,
    verdict,
)
from services.indicators.report_loop import loop_narrative, loop_sections
from services.indicators.report_narrative import narrative
from shared.catalogue import Catalogue, IndicatorSpec
from shared.i18n import Translator

TEMPLATE = Path(__file__).parent / "templates" / "quality_report.html"
STATUS_COLOURS = {"ok": "#2e7d32", "on_track": "#2e7d32", "achieved": "#2e7d32", "at_risk": "#f0a500",
                  "breach": "#c62828", "behind": "#d84315", "missed": "#c62828", "insufficient_data": "#9e9e9e",
                  "no_data": "#b0bec5"}


@dataclass(frozen=True, slots=True)
class Report:
    """What one report shows: the catalogue, the period and its figures, the previous period's, the alerts."""

    catalogue: Catalogue
    period: Period
    figures: Figures
    alerts: list[dict[str, Any]] | None
    alerts_error: str | None
    generated_at: dt.datetime
    previous: Figures | None = None
    locale: str = "zh-CN"
    completeness: list[dict[str, Any]] | None = None  # reported ÷ expected per expected report (completeness.py)
    basis: str = "all"  # "final" for a closed period

    @property
    def t(self) -> Translator:
        return Translator("report", self.locale)


def city_bar_chart(spec: IndicatorSpec, catalogue: Catalogue, figures: Figures, t: Translator) -> str:
    """Inline SVG: one bar per city, coloured by verdict, with the target as a dashed line."""
    cities = catalogue.city_codes
    values = [figures.get((spec.id, c), {}).get("value") for c in cities]
    known = [v for v in values if v is not None]
    base, top = chart_range(spec, known)
    width, height, left, bottom, top_pad = 720, 170, 60, 34, 14
    plot_h = height - bottom - top_pad
    step = (width - left - 10) / len(cities)

    def y(v: float) -> float:
        return top_pad + plot_h * (1 - (max(base, min(v, top)) - base) / (top - base))

    label = t("chart_label", indicator=indicator_name(spec, t))
    parts = [f'<svg class="city-chart" data-indicator="{esc(spec.id)}" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{esc(label)}">']
    for tick in (base, (base + top) / 2, top):
        gy = y(tick)
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{gy:.1f}" y2="{gy:.1f}" stroke="#e3e7eb"/>'
                     f'<text x="{left - 6}" y="{gy + 4:.1f}" font-size="11" text-anchor="end" fill="#5f6b76">'
                     f'{esc(fmt_value(spec, tick))}</text>')
    for i, (code, value) in enumerate(zip(cities, values, strict=True)):
        fig = figures.get((spec.id, code), {})
        status = verdict(fig)
        x = left + i * step + step * 0.15
        name = region_name(catalogue, code, t)
        if value is not None:
            by = y(value)
            parts.append(f'<rect class="bar {esc(status)}" data-region="{code}" x="{x:.1f}" y="{by:.1f}" '
                         f'width="{step * 0.7:.1f}" height="{max(y(base) - by, 0.5):.1f}" '
                         f'fill="{STATUS_COLOURS.get(status, "#9e9e9e")}"><title>{esc(name)} '
                         f'{esc(fmt_value(spec, value))} (n={esc(sample_size(spec, fig, t))})</title></rect>')
        else:
            parts.append(f'<text x="{x + step * 0.35:.1f}" y="{y(base) - 4:.1f}" font-size="10" '
                         f'text-anchor="middle" fill="#9e9e9e">—</text>')
        short = name.removesuffix("市") if t.locale != "en" else name
        size = 11 if t.locale != "en" else 9
        parts.append(f'<text x="{x + step * 0.35:.1f}" y="{height - bottom + 16}" font-size="{size}" '
                     f'text-anchor="middle">{esc(short)}</text>')
    ty = y(spec.target.value)
    parts.append(f'<line class="target-line" x1="{left}" x2="{width - 10}" y1="{ty:.1f}" y2="{ty:.1f}" '
                 f'stroke="#1d232a" stroke-width="1.5" stroke-dasharray="6 4"/>'
                 f'<text x="{width - 12}" y="{ty - 5:.1f}" font-size="11" text-anchor="end">'
                 f'{esc(t("chart_target", target=fmt_target(spec, catalogue, t)))}</text></svg>')
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


def window_label(catalogue: Catalogue, spec: IndicatorSpec, period: Period, t: Translator) -> str:
    window = report_window(catalogue, spec, period)
    return t("window." + window) if window in ("ytd", "plan") else t("window.period")


def figure_row(spec: IndicatorSpec, catalogue: Catalogue, code: str, fig: dict[str, Any] | None,
               t: Translator) -> str:
    return (f'<tr data-region="{code}"><td>{region_label(catalogue, code, t)}</td>'
            f'<td class="num">{esc(fmt_value(spec, (fig or {}).get("value")))}</td>'
            f'<td class="num">{esc(sample_size(spec, fig, t))}</td>'
            f'<td class="num">{esc(fmt_ci(spec, fig, t))}</td>'
            f'<td>{status_badge(verdict(fig), t)}</td></tr>')


def indicator_section(spec: IndicatorSpec, report: Report, number: int) -> str:
    catalogue, figures, t = report.catalogue, report.figures, report.t
    province = figures.get((spec.id, catalogue.province_code))
    meta = (f'<p class="meta">{esc(spec.clause)} · {esc(t("col.target"))} {esc(fmt_target(spec, catalogue, t))}'
            f' · {esc(t("col.window"))}：{esc(window_label(catalogue, spec, report.period, t))}</p>')
    head = f'<h3>（{number}）{esc(indicator_name(spec, t))}</h3>' if t.locale != "en" else \
        f'<h3>3.{number} {esc(indicator_name(spec, t))}</h3>'
    thead = (f'<thead><tr><th>{esc(t("col.region"))}</th><th>{esc(t("col.value"))}</th><th>{esc(t("col.n"))}</th>'
             f'<th>{esc(t("col.ci"))}</th><th>{esc(t("col.status"))}</th></tr></thead>')
    regions = (catalogue.province_code, *(catalogue.city_codes if spec.scope != "province" else ()))
    if all((figures.get((spec.id, code)) or {}).get("value") is None for code in regions):
        return (f'<section class="indicator compact" id="{esc(spec.id)}">{head}{meta}'
                f'<p class="muted no-data">{esc(t("section_no_data"))}</p></section>')
    if spec.scope == "province":
        return (f'<section class="indicator compact" id="{esc(spec.id)}">{head}{meta}<table class="figures">{thead}'
                f'<tbody>{figure_row(spec, catalogue, catalogue.province_code, province, t)}</tbody></table>'
                f'<p class="muted">{esc(t("province_only"))}</p></section>')
    breaches = [c for c in catalogue.city_codes if verdict(figures.get((spec.id, c))) in ("breach", "behind")]
    breach_line = ""
    if breaches:
        sep = "、" if t.locale != "en" else ", "
        names = sep.join(region_name(catalogue, c, t) for c in breaches)
        breach_line = f'<p class="breaches">{esc(t("cities_short", cities=names))}</p>'
    rows = "".join(figure_row(spec, catalogue, code, figures.get((spec.id, code)), t)
                   for code in (catalogue.province_code, *catalogue.city_codes))
    return (f'<section class="indicator" id="{esc(spec.id)}"><div class="keep">{head}{meta}{breach_line}'
            f'{city_bar_chart(spec, catalogue, figures, t)}</div>'
            f'<table class="figures">{thead}<tbody>{rows}</tbody></table></section>')


def summary_table(report: Report) -> str:
    catalogue, t = report.catalogue, report.t
    rows = []
    for spec in catalogue.indicators:
        fig = report.figures.get((spec.id, catalogue.province_code))
        before = (report.previous or {}).get((spec.id, catalogue.province_code))
        previous = "—" if spec.kind == "milestone" or before is None else fmt_value(spec, before.get("value"))
        rows.append(f'<tr data-indicator="{esc(spec.id)}"><td>{esc(indicator_name(spec, t))}</td>'
                    f'<td class="num">{esc(fmt_target(spec, catalogue, t))}</td>'
                    f'<td>{esc(window_label(catalogue, spec, report.period, t))}</td>'
                    f'<td class="num">{esc(fmt_value(spec, (fig or {}).get("value")))}</td>'
                    f'<td class="num">{esc(previous)}</td>'
                    f'<td class="num">{esc(sample_size(spec, fig, t))}</td>'
                    f'<td>{status_badge(verdict(fig), t)}</td></tr>')
    return (f'<h2>{esc(t("section.table"))}</h2><table class="summary"><thead><tr>'
            f'<th>{esc(t("col.indicator"))}</th><th>{esc(t("col.target"))}</th><th>{esc(t("col.window"))}</th>'
            f'<th>{esc(t("col.province"))}</th><th>{esc(t("col.previous"))}</th><th>{esc(t("col.n"))}</th>'
            f'<th>{esc(t("col.status"))}</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def cst_text(value: object) -> str:
    """An instant from the alert service, whatever its offset, as China Standard Time to the minute."""
    if not value:
        return "—"
    try:
        instant = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if instant.tzinfo is None:
        return str(value)
    return instant.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")


def alerts_section(report: Report) -> str:
    catalogue, t = report.catalogue, report.t
    head = f'<h2>{esc(t("section.alerts"))}</h2>'
    if report.alerts is None:
        return f'{head}<p class="note alerts-unavailable">{esc(t("alerts.unavailable", error=report.alerts_error))}</p>'
    if not report.alerts:
        return f'{head}<p>{esc(t("alerts.none"))}</p>'
    rows = []
    for a in sorted(report.alerts, key=lambda a: str(a.get("started_at") or "")):
        spec = catalogue.indicator(str(a.get("indicator")))
        name = indicator_name(spec, t) if spec else a.get("indicator")
        value = fmt_value(spec, a.get("value")) if spec else a.get("value")
        severity, state = str(a.get("severity") or ""), str(a.get("state") or "")
        rows.append(f'<tr><td>{esc(name)}</td><td>{region_label(catalogue, str(a.get("region")), t)}</td>'
                    f'<td>{esc(a.get("category") or t("all_categories"))}</td>'
                    f'<td><span class="sev {esc(severity)}">{esc(t("severity." + severity))}</span></td>'
                    f'<td>{esc(t("state." + state))}</td><td class="num">{esc(value)}</td>'
                    f'<td class="num">{esc(cst_text(a.get("started_at")))}</td>'
                    f'<td class="num">{esc(cst_text(a.get("resolved_at")))}</td></tr>')
    return (f'{head}<table class="alerts"><thead><tr><th>{esc(t("col.indicator"))}</th><th>{esc(t("col.region"))}</th>'
            f'<th>{esc(t("col.category"))}</th><th>{esc(t("col.severity"))}</th><th>{esc(t("col.state"))}</th>'
            f'<th>{esc(t("col.value"))}</th><th>{esc(t("col.started"))}</th><th>{esc(t("col.resolved"))}</th>'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table>')


def issuer(catalogue: Catalogue, t: Translator) -> str:
    plan = catalogue.plan
    if t.locale == "en":
        return plan.report_issuer_en or plan.issued_by_en or plan.report_issuer or plan.issued_by
    return plan.report_issuer or plan.issued_by


def render(report: Report) -> str:
    catalogue, period, t = report.catalogue, report.period, report.t
    plan = catalogue.plan
    cst = dt.timezone(dt.timedelta(hours=8))
    generated = report.generated_at.astimezone(cst)
    province = region_name(catalogue, catalogue.province_code, t)
    title = t("title", province=province, period=period.name(t))
    previous_name = period.previous().name(t)
    paragraphs = narrative(catalogue, report.figures, report.previous, previous_name, t)
    paragraphs += loop_narrative(catalogue, report.figures, report.completeness, t)
    notes = [t("notes.stat"), t("notes.judge"), t("notes.windows"), t("notes.source")]
    meta = [t("report_period", period=period.name(t), start=period.start.date().isoformat(),
              end=period.last_day.isoformat()),
            t("plan_line", plan=plan.title_en if t.locale == "en" and plan.title_en else plan.title,
              plan_issuer=(plan.issued_by_en or plan.issued_by) if t.locale == "en" else plan.issued_by),
            t("plan_period", start=plan.start.isoformat(), deadline=plan.deadline.isoformat())]
    if generated < period.end:
        meta.append(t("period_partial", as_of=generated.strftime("%Y-%m-%d %H:%M")))
    if generated.date() > plan.deadline:
        meta.append(t("plan_over", deadline=plan.deadline.isoformat()))
    summary = (f'<section class="overview"><h2>{esc(t("section.summary"))}</h2>'
               + "".join(f'<p class="narrative">{esc(p)}</p>' for p in paragraphs) + "</section>")
    sections = "".join(indicator_section(spec, report, i) for i, spec in enumerate(catalogue.indicators, 1))
    body = (summary + summary_table(report) + f'<h2 class="new-page">{esc(t("section.indicators"))}</h2>'
            + sections + alerts_section(report)
            + loop_sections(catalogue, report.figures, report.completeness, report.basis, t)
            + f'<section class="notes"><h2>{esc(t("section.notes"))}</h2>'
            + "".join(f"<p>{esc(n)}</p>" for n in notes) + "</section>")
    unit = issuer(catalogue, t)
    date = f"{generated.year}年{generated.month}月{generated.day}日" if t.locale != "en" else \
        generated.strftime("%d %B %Y").lstrip("0")
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        lang=esc(t.locale), title=esc(title), issuer=esc(unit), issued_on=esc(date),
        doc_kind=esc(t("doc_kind")), meta="".join(f"<li>{esc(m)}</li>" for m in meta),
        generated=esc(t("generated", time=generated.strftime("%Y-%m-%d %H:%M"))),
        running=css_string(t("footer", issuer=unit, title=title)), page_css=t("page_css"),
        illustrative='<p class="illustrative">ILLUSTRATIVE · 示例目标</p>' if plan.illustrative else "",
        body=body)


def css_string(text: str) -> str:
    """Text as a CSS string literal (for running heads in ``@page`` rules)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("<", "\\3c ") + '"'


def render_report(catalogue: Catalogue, period: Period, figures: Figures, alerts: list[dict[str, Any]] | None,
                  alerts_error: str | None, *, generated_at: dt.datetime, previous: Figures | None = None,
                  locale: str = "zh-CN", completeness: list[dict[str, Any]] | None = None,
                  basis: str = "all") -> str:
    return render(Report(catalogue, period, figures, alerts, alerts_error, generated_at, previous, locale,
                         completeness, basis))
