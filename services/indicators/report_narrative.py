"""The quality report's narrative summary (pure): which targets were missed and by how much, which cities drive
each shortfall, and the change from the previous period — sentences built from the figures, in the report's
language."""

from __future__ import annotations

import datetime as dt
from typing import Any

from services.indicators.report_data import Figures
from services.indicators.report_format import JUDGED, SHORT, fmt_gap, fmt_value, indicator_name, verdict
from shared.catalogue import Catalogue, IndicatorSpec
from shared.i18n import Translator

MAX_DRIVERS = 3


def drivers(spec: IndicatorSpec, catalogue: Catalogue, figures: Figures, t: Translator) -> list[str]:
    """The cities behind a shortfall, largest first: for rates, by how many results short of the target the city
    is (its gap times its sample size), with its share of the province's gap; otherwise by how far it is below."""
    target = spec.target.value
    short: list[tuple[float, str, dict[str, Any]]] = []
    for code in catalogue.city_codes:
        fig = figures.get((spec.id, code))
        if verdict(fig) not in SHORT or fig is None or fig.get("value") is None:
            continue
        gap = abs(target - float(fig["value"]))
        weight = gap * float(fig.get("sample_size") or 0) if spec.is_rate else gap
        short.append((weight, code, fig))
    short.sort(key=lambda item: -item[0])
    total = sum(w for w, _c, _f in short)
    out = []
    for weight, code, fig in short[:MAX_DRIVERS]:
        city = catalogue.regions.cities[code]
        name = (city.name_en or city.name) if t.locale == "en" else city.name
        value = fmt_value(spec, fig.get("value"))
        if spec.is_rate and total > 0 and len(short) > 1:
            out.append(t("narrative.driver", city=name, value=value, share=f"{weight / total * 100:.0f} %"))
        else:
            out.append(t("narrative.driver_simple", city=name, value=value))
    return out


def change(spec: IndicatorSpec, now: dict[str, Any] | None, before: dict[str, Any] | None, previous_name: str,
           t: Translator) -> str:
    if not now or not before or now.get("value") is None or before.get("value") is None:
        return ""
    delta = float(now["value"]) - float(before["value"])
    if fmt_gap(spec, delta, t) == fmt_gap(spec, 0.0, t):
        return t("narrative.change_same", period=previous_name)
    return t("narrative.change", period=previous_name, value=fmt_value(spec, before["value"]),
             direction=t("narrative.up" if delta > 0 else "narrative.down"), delta=fmt_gap(spec, delta, t))


def narrative(catalogue: Catalogue, figures: Figures, previous: Figures | None, previous_name: str,
              t: Translator) -> list[str]:
    """Paragraphs of the summary: one per shortfall, then what could not be judged."""
    paragraphs: list[str] = []
    unjudged: list[str] = []
    missed_milestones: list[str] = []
    met = short = 0
    province = catalogue.province_code
    for spec in catalogue.indicators:
        fig = figures.get((spec.id, province))
        status = verdict(fig)
        name = indicator_name(spec, t)
        if status not in JUDGED:
            unjudged.append(name)
            continue
        city_short = [c for c in catalogue.city_codes if verdict(figures.get((spec.id, c))) in ("breach", "behind")]
        if status in SHORT:
            short += 1
        else:
            met += 1
        if status not in SHORT and not city_short:
            continue
        assert fig is not None
        value = fmt_value(spec, fig.get("value"))
        target = fmt_value(spec, spec.target.value)
        gap = fmt_gap(spec, spec.target.value - float(fig.get("value") or 0), t)
        if status == "missed":
            missed_milestones.append(t("narrative.milestone_item", indicator=name, value=value,
                                       target=fmt_value(spec, spec.target.value)))
            continue
        if status == "behind":
            sentence = t("narrative.milestone_behind", indicator=name, value=value,
                         expected=fmt_value(spec, due_at_pace(catalogue, spec, fig)))
        elif status in ("breach", "at_risk"):
            sentence = t("narrative.missed_rate" if status == "breach" else "narrative.at_risk_rate",
                         indicator=name, value=value, target=target, gap=gap)
        else:
            sentence = t("narrative.city_breach", indicator=name, count=len(city_short))
        named = drivers(spec, catalogue, figures, t)
        if named:
            sentence += " " + t("narrative.drivers", cities=("、" if t.locale != "en" else "; ").join(named))
        if previous is not None and spec.kind != "milestone":
            moved = change(spec, fig, previous.get((spec.id, province)), previous_name, t)
            sentence += (" " + moved) if moved else ""
        paragraphs.append(sentence)
    if missed_milestones:
        sep = "；" if t.locale != "en" else "; "
        paragraphs.insert(0, t("narrative.milestones_missed", count=len(missed_milestones),
                               deadline=catalogue.plan.deadline.isoformat(), items=sep.join(missed_milestones)))
    head = t("narrative.met_count", total=met + short, met=met, missed=short)
    if not paragraphs:
        paragraphs.append(t("narrative.all_met"))
    out = [head, *paragraphs]
    if unjudged:
        out.append(t("narrative.no_data", indicators=("、" if t.locale != "en" else "; ").join(unjudged)))
    return out


def due_at_pace(catalogue: Catalogue, spec: IndicatorSpec, fig: dict[str, Any]) -> float | None:
    """The count due by the figure's instant at linear pace from the plan's start to its deadline."""
    try:
        as_of = dt.datetime.fromisoformat(str(fig.get("as_of")))
    except ValueError:
        return None
    start = dt.datetime.combine(catalogue.plan.start, dt.time(), tzinfo=catalogue.tz)
    end = dt.datetime.combine(catalogue.plan.deadline + dt.timedelta(days=1), dt.time(), tzinfo=catalogue.tz)
    share = min(1.0, max(0.0, (as_of - start) / (end - start)))
    return spec.target.value * share
