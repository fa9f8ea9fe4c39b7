"""HTTP API of the indicator service (readers: agency or operator keys; dead letters: operators)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from kafka.errors import KafkaError
from pydantic import BaseModel, Field

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
from services.indicators.reader import FigureRequest, inspection_categories
from services.indicators.windows import is_window
from shared.catalogue import Catalogue, IndicatorSpec
from shared.db import transaction
from shared.error_answers import error_responses
from shared.figures import Figure

_ERROR_TEXT = {400: "the body is not valid JSON", 401: "missing or unknown token",
               403: "the token's role may not do this", 404: "unknown indicator",
               503: "Kafka unavailable; retry after Retry-After seconds"}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of a route's error answers (401/403 everywhere: credentials)."""
    return error_responses(_ERROR_TEXT, *codes)


router = APIRouter(prefix="/v1", tags=["figures"], responses=_errors())


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


@router.get("/indicators/{indicator}", responses=_errors(404))
def get_figure(principal: Reader, catalogue: CatalogueDep, reader: ReaderDep, indicator: str,
               region: RegionQuery = None, category: CategoryQuery = None, window: WindowQuery = None
               ) -> dict[str, Any]:
    """One figure: value, sample size, 95 % interval, target and status (CONTRACT "Figures")."""
    spec = _spec(catalogue, indicator)
    region = region or catalogue.province_code
    window = window or catalogue.windows(spec)[0]
    _check(catalogue, spec, region, category, window)
    # region_name (an addition): 昆山市 for 320583, from the catalogue's county list
    return {**figure_json(reader.figure(spec, region, category, window)), "region_name": catalogue.region_name(region)}


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


@router.get("/scorecard")
def scorecard(principal: Reader, catalogue: CatalogueDep, reader: ReaderDep,
              window: Annotated[str, Query(description="the window for every indicator it applies to")] = "30d",
              ) -> dict[str, Any]:
    """Every indicator for the province and each city. Milestones are always judged over the plan
    period (window ``plan``); every other indicator uses the requested window."""
    if not is_window(window):
        raise _unprocessable("window", f"unknown window {window!r}")
    regions = (catalogue.province_code, *catalogue.city_codes)
    requests = [FigureRequest(spec, "plan" if spec.kind == "milestone" else window, catalogue.judged_regions(spec))
                for spec in catalogue.indicators]
    now = reader.clock.now()
    figures = reader.figures(requests, now=now)
    by_indicator: dict[str, list[dict[str, Any]]] = {}
    for figure in figures:
        by_indicator.setdefault(figure.indicator, []).append(figure_json(figure))
    rows = []
    for spec, req in zip(catalogue.indicators, requests, strict=True):
        row: dict[str, Any] = {"indicator": spec.id, "name_zh": spec.name_zh, "name_en": spec.name_en,
                               "kind": spec.kind, "target": spec.target.model_dump(), "window": req.window,
                               "figures": by_indicator.get(spec.id, [])}
        if req.window != window:
            row["window_note"] = "milestones are judged by pace over the whole plan period"
        rows.append(row)
    counts: dict[str, int] = {}
    for figure in figures:
        counts[figure.status] = counts.get(figure.status, 0) + 1
    return {"window": window, "as_of": now.astimezone(catalogue.tz).isoformat(),
            "note": "milestone indicators use window 'plan' whatever the requested window",
            "regions": [{"code": code, "name": catalogue.region_name(code)} for code in regions],
            "status_counts": counts, "indicators": rows}


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
        "received_at": r.received_at.isoformat(), "replayed_at": r.replayed_at.isoformat() if r.replayed_at else None,
    } for r in rows]}


@router.post("/dead-letters/replay", tags=["operations"], responses=_errors(400, 503))
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
