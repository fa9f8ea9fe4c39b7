"""The quality report's formatting helpers (pure): escaping, units, values, targets, intervals, sample sizes,
verdicts and region names, in the report's language."""

from __future__ import annotations

import html
from typing import Any

from shared.catalogue import Catalogue, IndicatorSpec
from shared.i18n import Translator

# Verdicts of a figure that fall short of the target (the narrative names them) and that are judged at all.
SHORT = ("breach", "at_risk", "behind", "missed")
JUDGED = ("ok", "on_track", "achieved", *SHORT)


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


def fmt_gap(spec: IndicatorSpec, gap: float, t: Translator) -> str:
    """A distance between two values: percentage points for rates, points for scores, a count for milestones."""
    unit = unit_of(spec)
    if unit == "percent":
        return t("gap.points", gap=f"{abs(gap) * 100:.1f}")
    if unit == "score":
        return t("gap.score", gap=f"{abs(gap):.1f}")
    return t("gap.count", gap=f"{abs(gap):.0f}")


def indicator_name(spec: IndicatorSpec, t: Translator) -> str:
    return spec.name_en if t.locale == "en" and spec.name_en else spec.name_zh


def fmt_target(spec: IndicatorSpec, catalogue: Catalogue, t: Translator) -> str:
    op = {">=": "≥", "<=": "≤", ">": ">", "<": "<"}.get(spec.target.op, spec.target.op)
    text = f"{op} {fmt_value(spec, spec.target.value)}"
    if spec.kind == "milestone":
        return t("target.by", target=text, deadline=catalogue.plan.deadline.isoformat())
    return text


def interval_applies(spec: IndicatorSpec) -> bool:
    """A 95 % interval means something for figures estimated from samples: inspection and completion rates
    and survey means. Reported (administrative) figures, coverage against a quota and counts have none."""
    return spec.kind in ("pass_rate", "completion_share", "mean_score")


def fmt_ci(spec: IndicatorSpec, fig: dict[str, Any] | None, t: Translator) -> str:
    if not interval_applies(spec):
        return t("not_applicable")
    ci = (fig or {}).get("ci95")
    if not ci or len(ci) != 2 or ci[0] is None:
        return "—"
    low, high = fmt_value(spec, ci[0]), fmt_value(spec, ci[1])
    # An interval that collapses to a point at the shown precision (every respondent gave the same score)
    # says nothing an interval should say: show none.
    return "—" if low == high else f"{low} – {high}"


def sample_size(spec: IndicatorSpec | None, fig: dict[str, Any] | None, t: Translator) -> str:
    if spec is not None and spec.kind in ("milestone", "reported_value", "quota_coverage"):
        return t("not_applicable")
    if not fig:
        return "—"
    n = fig.get("sample_size") if fig.get("sample_size") is not None else fig.get("denominator")
    return "—" if n is None else f"{n:,.0f}"


def verdict(fig: dict[str, Any] | None) -> str:
    """The figure's verdict; a figure with nothing behind it reads "no data", not "too few samples"."""
    if not fig:
        return "no_data"
    status = str(fig.get("status") or "insufficient_data")
    if status == "insufficient_data" and not fig.get("sample_size") and fig.get("value") is None:
        return "no_data"
    return status


def status_badge(status: str, t: Translator) -> str:
    return f'<span class="status {esc(status)}">{esc(t("status." + status))}</span>'


def region_name(catalogue: Catalogue, code: str, t: Translator) -> str:
    province = catalogue.regions.province
    spec = province if code == catalogue.province_code else catalogue.regions.cities.get(code)
    if spec is None:
        return catalogue.region_name(code)
    return spec.name_en or spec.name if t.locale == "en" else spec.name


def region_label(catalogue: Catalogue, code: str, t: Translator) -> str:
    return esc(region_name(catalogue, code, t))
