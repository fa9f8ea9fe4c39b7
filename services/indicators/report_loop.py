"""The quality report's issue-19 parts (pure): the basis of the figures (final for a closed period: failures
still open to objection or awaiting a re-test are left out; every verdict while the period runs), which
figures still hold provisional failures, and the completeness of reported figures (reported ÷ expected, with
the regions missing), in the report's language."""

from __future__ import annotations

from typing import Any

from services.indicators.report_format import esc, indicator_name, region_label, region_name
from shared.catalogue import Catalogue
from shared.i18n import Translator

Figures = dict[tuple[str, str], dict[str, Any]]


def provisional_figures(figures: Figures) -> list[tuple[tuple[str, str], int]]:
    """(indicator, region) of the figures holding provisional failures, with their count, in report order."""
    return [(key, int(fig["provisional"])) for key, fig in sorted(figures.items()) if fig.get("provisional")]


def completeness_shortfalls(completeness: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The expected reports past their due date and not all in (``due`` absent: taken as due)."""
    return [c for c in completeness or [] if c["reported"] < c["expected"] and c.get("due", True)]


def missing_text(catalogue: Catalogue, entry: dict[str, Any], t: Translator) -> str:
    sep = "、" if t.locale != "en" else ", "
    several = len({m["period"] for m in entry["missing"]}) > 1
    return sep.join(region_name(catalogue, m["region"], t) + (f" ({m['period']})" if several else "")
                    for m in entry["missing"]) or "—"


def loop_sections(catalogue: Catalogue, figures: Figures, completeness: list[dict[str, Any]] | None, basis: str,
                  t: Translator) -> str:
    """Section 5 (provisional results) and section 6 (completeness of reported figures)."""
    basis_line = t("basis.final" if basis == "final" else "basis.all")
    pending = provisional_figures(figures)
    rows = []
    for (indicator, region), count in pending:
        spec = catalogue.indicator(indicator)
        rows.append(f'<tr data-indicator="{esc(indicator)}" data-region="{esc(region)}">'
                    f'<td>{esc(indicator_name(spec, t) if spec else indicator)}</td>'
                    f'<td>{region_label(catalogue, region, t)}</td><td class="num">{count}</td></tr>')
    table = (f'<table class="provisional"><thead><tr><th>{esc(t("col.indicator"))}</th>'
             f'<th>{esc(t("col.region"))}</th><th>{esc(t("col.provisional"))}</th></tr></thead>'
             f'<tbody>{"".join(rows)}</tbody></table>' if rows else f'<p>{esc(t("provisional.none"))}</p>')
    if completeness is None:
        comp = f'<p class="note">{esc(t("completeness.unavailable"))}</p>'
    elif not completeness:
        comp = f'<p>{esc(t("completeness.none"))}</p>'
    else:
        comp_rows = []
        for c in completeness:
            spec = catalogue.indicator(c["indicator"])
            due = c.get("due", True)
            short = " short" if c["reported"] < c["expected"] and due else ""
            missing = missing_text(catalogue, c, t) if due or not c["missing"] else \
                t("completeness.not_due", date=c.get("due_on", ""))
            comp_rows.append(
                f'<tr class="completeness-row{short}" data-indicator="{esc(c["indicator"])}">'
                f'<td>{esc(indicator_name(spec, t) if spec else c["indicator"])}</td>'
                f'<td class="num">{c["reported"]} / {c["expected"]}</td>'
                f'<td class="num">{c["value"] * 100:.1f} %</td>'
                f'<td>{esc(missing)}</td></tr>')
        comp = (f'<table class="completeness"><thead><tr><th>{esc(t("col.indicator"))}</th>'
                f'<th>{esc(t("col.reported"))}</th><th>{esc(t("col.completeness"))}</th>'
                f'<th>{esc(t("col.missing"))}</th></tr></thead><tbody>{"".join(comp_rows)}</tbody></table>'
                f'<p class="muted">{esc(t("completeness.note"))}</p>')
    return (f'<section class="provisional-results"><h2>{esc(t("section.provisional"))}</h2>'
            f'<p class="note basis">{esc(basis_line)}</p>{table}</section>'
            f'<section class="report-completeness"><h2>{esc(t("section.completeness"))}</h2>{comp}</section>')


def loop_narrative(catalogue: Catalogue, figures: Figures, completeness: list[dict[str, Any]] | None,
                   t: Translator) -> list[str]:
    """Summary sentences: how many provisional failures the figures hold, and which reports are missing."""
    out = []
    pending = [(key, n) for key, n in provisional_figures(figures) if key[1] == catalogue.province_code]
    if pending:
        sep = "、" if t.locale != "en" else "; "
        items = sep.join(t("narrative.provisional_item", indicator=indicator_name(spec, t) if spec else key[0],
                           count=n)
                         for key, n in pending for spec in [catalogue.indicator(key[0])])
        out.append(t("narrative.provisional", count=sum(n for _k, n in pending), items=items))
    short = completeness_shortfalls(completeness)
    if short:
        sep = "；" if t.locale != "en" else "; "
        items = sep.join(t("narrative.completeness_item", indicator=indicator_name(spec, t) if spec else c["indicator"],
                           reported=c["reported"], expected=c["expected"], missing=missing_text(catalogue, c, t))
                         for c in short for spec in [catalogue.indicator(c["indicator"])])
        out.append(t("narrative.completeness", items=items))
    return out
