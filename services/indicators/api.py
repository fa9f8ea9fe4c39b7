"""HTTP API of the indicator service (readers: agency or operator keys; dead letters: operators)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from kafka.errors import KafkaError
from pydantic import BaseModel, Field

from services.indicators.completeness import completeness, latest_due_period, reported_keys
from services.indicators.deadletters import list_dead_letters, replay_dead_letters
from services.indicators.deps import (
    CatalogueDep,
    ClockDep,
    Operator,
    ProducerDep,
    Reader,
    ReaderDep,
    SessionsDep,
    SettingsDep,
)
from services.indicators.reader import FigureReader, FigureRequest, inspection_categories
from services.indicators.windows import is_window
from shared.catalogue import Catalogue, IndicatorSpec
from shared.clock import rfc3339, rfc3339_or_none
from shared.db import transaction
from shared.error_answers import error_responses
from shared.figures import Figure
from shared.jsonbody import StrictJsonRoute

_ERROR_TEXT = {400: "the body is not valid JSON, or names a key twice", 401: "missing or unknown token",
               413: "the body is larger than the route's limit (the connection is then closed)",
               403: "the token's role may not do this", 404: "unknown indicator",
               503: "Kafka unavailable; retry after Retry-After seconds"}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of a route's error answers (401/403 everywhere: credentials)."""
    return error_responses(_ERROR_TEXT, *codes)


router = APIRouter(prefix="/v1", tags=["figures"], responses=_errors(), route_class=StrictJsonRoute)


def _unprocessable(param: str, message: str) -> HTTPException:
    return HTTPException(status_code=422, detail=[{"loc": ["query", param], "msg": message, "type": "value_error"}])


def figure_json(figure: Figure) -> dict[str, Any]:
    """The contract's figure JSON; whole counts stay integers (970, not 970.0)."""
    out = figure.model_dump(mode="json")
    for name in ("numerator", "denominator"):
        value = out.get(name)
        if isinstance(value, float) and value.is_integer():
            out[name] = int(value)
    return out


def _spec(catalogue: Catalogue, indicator: str) -> IndicatorSpec:
    spec = catalogue.indicator(indicator)
    if spec is None:
        raise HTTPException(status_code=404, detail=f"unknown indicator {indicator!r}")
    return spec


def _check(catalogue: Catalogue, spec: IndicatorSpec, region: str, category: str | None, window: str) -> None:
    if catalogue.resolve_region(region) is None:
        raise _unprocessable("region", f"region {region!r} is not a region of {catalogue.regions.province.name}")
    if category is not None:
        known = inspection_categories(catalogue, spec)
        if not known:
            raise _unprocessable("category", f"indicator {spec.id!r} has no categories "
                                             "(categories apply to inspection pass rates)")
        if category not in known:
            raise _unprocessable("category", f"indicator {spec.id!r} has no category {category!r} "
                                             f"(known: {', '.join(known)})")
    if not is_window(window):
        raise _unprocessable("window", f"unknown window {window!r}: use 7d, 30d, 90d, 365d, mtd, qtd, ytd, plan, "
                                       "or a calendar period such as 2026-11, 2026-Q4 or 2026")


RegionQuery = Annotated[str | None, Query(description="region code; default the province (320000)")]
CategoryQuery = Annotated[str | None, Query(description="a category of the indicator's programme")]
WindowQuery = Annotated[str | None, Query(description="7d, 30d, 90d, 365d, mtd, qtd, ytd, plan, 2026-11, "
                                                     "2026-Q4, 2026; default: the indicator's first evaluated window")]


@router.get("/indicators")
def list_indicators(principal: Reader, catalogue: CatalogueDep) -> dict[str, Any]:
    """The catalogue's indicators with their targets, kinds, windows and agencies."""
    items = []
    for spec in catalogue.indicators:
        items.append({
            "indicator": spec.id, "name_zh": spec.name_zh, "name_en": spec.name_en, "clause": spec.clause,
            "kind": spec.kind, "source": spec.source, "target": spec.target.model_dump(),
            "min_sample": catalogue.min_sample(spec), "windows": list(catalogue.windows(spec)),
            "agencies": list(catalogue.agencies_for(spec, catalogue.province_code)),
            "lead_agency": spec.lead_agency, "other_agencies": list(spec.other_agencies),
            "categories": list(inspection_categories(catalogue, spec)),
        })
    return {"plan": catalogue.plan.id, "catalogue_version": catalogue.catalogue_version, "indicators": items}


BasisQuery = Annotated[Literal["all", "final"], Query(
    description="all (default): every verdict, provisional failures included; final: settled verdicts only "
                "(failures still inside their objection period, or objected to and awaiting the re-test, "
                "left out). `provisional` counts those failures either way")]


@router.get("/indicators/{indicator}", responses=_errors(404))
def get_figure(principal: Reader, catalogue: CatalogueDep, reader: ReaderDep, indicator: str,
               region: RegionQuery = None, category: CategoryQuery = None, window: WindowQuery = None,
               basis: BasisQuery = "all") -> dict[str, Any]:
    """One figure: value, sample size, 95 % interval, target and status (CONTRACT "Figures"). Status
    ``no_data`` when nothing was reported; ``provisional`` (inspection pass rates): failures not yet final."""
    spec = _spec(catalogue, indicator)
    region = region or catalogue.province_code
    window = window or catalogue.windows(spec)[0]
    _check(catalogue, spec, region, category, window)
    # region_name (an addition): 昆山市 for 320583, from the catalogue's county list
    figure = reader.figures([FigureRequest(spec, window, (region,), (category,), basis)])[0]
    return {**figure_json(figure), "region_name": catalogue.region_name(region)}


@router.get("/regions")
def list_regions(principal: Reader, catalogue: CatalogueDep) -> dict[str, Any]:
    """The province, its cities and each city's county-level divisions (GB/T 2260 codes and names; the
    edition is ``county_source``). 省、设区市及其县级行政区划。"""
    cities = [{"code": code, "name": catalogue.region_name(code), "name_en": catalogue.region_name_en(code),
               "counties": [{"code": c, "name": catalogue.region_name(c)} for c in catalogue.counties_of(code)]}
              for code in catalogue.city_codes]
    return {"province": {"code": catalogue.province_code, "name": catalogue.regions.province.name},
            "county_source": catalogue.regions.county_source, "cities": cities}


@router.get("/indicators/{indicator}/trend", responses=_errors(404))
def get_trend(principal: Reader, catalogue: CatalogueDep, reader: ReaderDep, indicator: str,
              region: RegionQuery = None, category: CategoryQuery = None, window: WindowQuery = None,
              days: Annotated[int, Query(ge=1, le=400)] = 90) -> dict[str, Any]:
    """The figure at the end of each of the last ``days`` CST days (today: now), for charts."""
    spec = _spec(catalogue, indicator)
    region = region or catalogue.province_code
    window = window or catalogue.windows(spec)[0]
    _check(catalogue, spec, region, category, window)
    figures = reader.trend(spec, region, category, window, days)
    points = [{"date": f.as_of.date().isoformat(), "value": f.value, "numerator": figure_json(f)["numerator"],
               "denominator": figure_json(f)["denominator"], "n": f.sample_size, "ci95": f.ci95,
               "status": f.status} for f in figures]
    return {"indicator": spec.id, "region": region, "region_name": catalogue.region_name(region),
            "category": category, "window": window, "days": days, "target": spec.target.model_dump(), "points": points}


JUDGED = "judged"


def judged_window(catalogue: Catalogue, spec: IndicatorSpec) -> str:
    """The window an indicator is judged on (按考核口径): the first the catalogue evaluates it over."""
    return "plan" if spec.kind == "milestone" else catalogue.windows(spec)[0]


@router.get("/scorecard")
def scorecard(principal: Reader, catalogue: CatalogueDep, reader: ReaderDep, sessions: SessionsDep,
              window: Annotated[str, Query(description="the window for every indicator it applies to, or "
                                                       "'judged': each indicator at the window it is judged on "
                                                       "(按考核口径, from the catalogue)")] = "30d",
              parent: Annotated[str | None, Query(description="a city code: the figures of its counties instead "
                                                             "of the province and cities (indicators judged "
                                                             "for cities only)")] = None,
              basis: BasisQuery = "all") -> dict[str, Any]:
    """Every indicator for the province and each city. Milestones are always judged over the plan
    period (window ``plan``); every other indicator uses the requested window, or with ``window=judged``
    its own judged window. Each row says the window its figures are for (``window``) and the window it is
    judged on (``judged_window``). ``basis=final``: settled verdicts only. ``completeness``: of the reports the
    catalogue expects for the latest period due (or the window, when it is a calendar period), how many are in."""
    if window != JUDGED and not is_window(window):
        raise _unprocessable("window", f"unknown window {window!r}: use judged, 7d, 30d, 90d, 365d, mtd, qtd, ytd, "
                                       "or a calendar period such as 2026-11")
    specs = list(catalogue.indicators)
    if parent is None:
        regions: tuple[str, ...] = (catalogue.province_code, *catalogue.city_codes)
    else:
        if parent not in catalogue.regions.cities:
            raise _unprocessable("parent", f"parent {parent!r} is not a city of {catalogue.regions.province.name}")
        regions = tuple(child["code"] for child in child_regions(catalogue, reader, parent))
        specs = [spec for spec in specs if spec.scope == "all"]
    requests = [FigureRequest(spec, judged_window(catalogue, spec) if window == JUDGED or spec.kind == "milestone"
                              else window, catalogue.judged_regions(spec) if parent is None else regions,
                              basis=basis)
                for spec in specs]
    now = reader.clock.now()
    figures = reader.figures(requests, now=now)
    by_indicator: dict[str, list[dict[str, Any]]] = {}
    for figure in figures:
        by_indicator.setdefault(figure.indicator, []).append(figure_json(figure))
    rows = []
    for spec, req in zip(specs, requests, strict=True):
        row: dict[str, Any] = {"indicator": spec.id, "name_zh": spec.name_zh, "name_en": spec.name_en,
                               "kind": spec.kind, "target": spec.target.model_dump(), "window": req.window,
                               "judged_window": judged_window(catalogue, spec), "scope": spec.scope,
                               "figures": by_indicator.get(spec.id, [])}
        if req.window != window and window != JUDGED:
            row["window_note"] = "milestones are judged by pace over the whole plan period"
        rows.append(row)
    counts: dict[str, int] = {}
    for figure in figures:
        counts[figure.status] = counts.get(figure.status, 0) + 1
    period = window if re.fullmatch(r"\d{4}(-\d{2}|-Q[1-4])?", window) else latest_due_period(catalogue, now)
    with sessions() as session:
        reported = reported_keys(session, (e.indicator for e in catalogue.expected_reports))
    return {"window": window, "as_of": rfc3339(now), "basis": basis,
            "note": "milestone indicators use window 'plan' whatever the requested window",
            "regions": [{"code": code, "name": catalogue.region_name(code)} for code in regions],
            "status_counts": counts, "indicators": rows,
            "completeness": completeness(catalogue, reported, period)}


@router.get("/regions/{region}/children", responses=_errors(404))
def region_children(principal: Reader, catalogue: CatalogueDep, reader: ReaderDep, region: str) -> dict[str, Any]:
    """The regions directly under a region: the province's cities, or a city's counties as the catalogue
    lists them (code and name). A catalogue that lists no counties answers an empty list for a city; a
    county's figures are still served by ``/v1/indicators/{indicator}?region=<county code>``."""
    if region == catalogue.province_code:
        children = [{"code": code, "name": city.name, "name_en": city.name_en}
                    for code, city in sorted(catalogue.regions.cities.items())]
        return {"region": region, "level": "province", "children": children}
    if region not in catalogue.regions.cities:
        raise HTTPException(status_code=404, detail=f"region {region!r} is not the province or one of its cities")
    return {"region": region, "level": "city", "children": child_regions(catalogue, reader, region)}


def child_regions(catalogue: Catalogue, reader: FigureReader, city: str) -> list[dict[str, str]]:
    """A city's counties: those the catalogue lists (with names), and any other county code of the city that
    figures have been counted for (named by its code)."""
    listed: dict[str, Any] = getattr(catalogue.regions, "counties", None) or {}
    children = {code: {"code": code, "name": getattr(spec, "name", code), "name_en": getattr(spec, "name_en", "")
                       or ""} for code, spec in listed.items() if code[:4] == city[:4] and code != city}
    for code in reader.counted_regions(city[:4], limit=200):
        if code != city and code not in children and catalogue.resolve_region(code) is not None:
            children[code] = {"code": code, "name": catalogue.region_name(code), "name_en": ""}
    return [children[code] for code in sorted(children)]


# ---- dead letters (operators) ---------------------------------------------------------------------
class ReplayRequest(BaseModel):
    ids: list[int] | None = Field(None, description="dead-letter ids; omit to replay every one not yet replayed")


@router.get("/dead-letters", tags=["operations"])
def get_dead_letters(principal: Operator, sessions: SessionsDep, include_replayed: bool = False,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    with sessions() as session:
        rows = list_dead_letters(session, include_replayed=include_replayed, limit=limit)
    return {"dead_letters": [{
        "id": r.id, "reason": r.reason, "error": r.error, "event_id": r.event_id, "source_topic": r.source_topic,
        "source_partition": r.source_partition, "source_offset": r.source_offset,
        "key": r.key.decode(errors="replace") if r.key else None,
        "value": r.raw_value.decode(errors="replace")[:10_000] if r.raw_value else None,
        "received_at": rfc3339(r.received_at), "replayed_at": rfc3339_or_none(r.replayed_at),
    } for r in rows]}


@router.post("/dead-letters/replay", tags=["operations"], responses=_errors(400, 413, 503))
def replay(principal: Operator, producer_of: ProducerDep, sessions: SessionsDep, settings: SettingsDep,
           clock: ClockDep, body: ReplayRequest | None = None) -> dict[str, Any]:
    """Re-publish stored dead letters to the events topic (after a catalogue fix they apply; events
    already applied stay deduplicated) and mark them replayed."""
    try:
        producer = producer_of()
    except KafkaError as exc:
        raise HTTPException(status_code=503, detail=f"Kafka unavailable, retry: {type(exc).__name__}",
                            headers={"Retry-After": "5"}) from exc
    with transaction(sessions) as session:
        ids = replay_dead_letters(session, producer, settings.events_topic, body.ids if body else None, clock.now())
    return {"replayed": len(ids), "ids": ids}
