"""The quality report's formatting helpers (pure): escaping, units, values, targets, intervals,
sample sizes, status badges and region names."""

from __future__ import annotations

import html
from typing import Any

from shared.catalogue import Catalogue, IndicatorSpec

STATUS_LABELS = {"ok": "达标 ok", "at_risk": "有风险 at risk", "breach": "未达标 breach",
                 "insufficient_data": "样本不足 insufficient data", "on_track": "进度正常 on track",
                 "behind": "进度落后 behind", "no_data": "未报送 no data"}


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
