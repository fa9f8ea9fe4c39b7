"""The dashboard a person reads at the indicator service's ``GET /``.

The page itself is static (``static/``): a small vanilla-JS app that reads the scorecard and trends
from this service's ``/v1`` API and the firing alerts from the alert service, with the caller's
bearer token. Nothing here needs a token: the page, its assets and ``/dashboard/config.json`` (the
catalogue's names and the alert service's public URL) hold no figures.

Wiring: ``app.include_router(dashboard.router)`` (this router also carries the quality report).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

from services.indicators import report
from services.indicators.api import JUDGED, judged_window
from services.indicators.deps import CatalogueDep, SettingsDep
from shared.catalogue import Catalogue
from shared.i18n import LANG_COOKIE, LOCALES, negotiate
from shared.i18n import catalogue as strings_of
from shared.jsonbody import StrictJsonRoute

STATIC_DIR = Path(__file__).parent / "static"
ASSETS = {"dashboard.js": "text/javascript", "dashboard.css": "text/css", "loop.js": "text/javascript"}
WINDOWS = (JUDGED, "7d", "30d", "90d", "ytd")
REFRESH_SECONDS = 10

router = APIRouter(route_class=StrictJsonRoute)
router.include_router(report.router)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def dashboard_page() -> HTMLResponse:
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})


@router.get("/dashboard/static/{name}", include_in_schema=False)
def dashboard_asset(name: str) -> FileResponse:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(status_code=404, detail=f"no dashboard asset {name!r}")
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers={"Cache-Control": "no-cache"})


@router.get("/dashboard/config.json", tags=["dashboard"])
def dashboard_config(request: Request, settings: SettingsDep, catalogue: CatalogueDep,
                     lang: str | None = None) -> dict[str, Any]:
    """What the page needs besides figures: names from the catalogue, where the alerts live, and the page's
    strings in the reader's language: ``lang``, else the ``qw_lang`` cookie the page's toggle sets, else Chinese.
    Chinese first: the browser's ``Accept-Language`` is not consulted (an office PC set up in English still
    opens the Chinese page; English is one click on the toggle, and remembered)."""
    locale = negotiate(lang, request.cookies.get(LANG_COOKIE))
    return {
        "alerts_url": settings.alerts_public_url.rstrip("/"),
        "refresh_seconds": REFRESH_SECONDS,
        "windows": list(WINDOWS),
        "default_window": JUDGED,
        "trend_days": 90,
        "locale": locale,
        "locales": list(LOCALES),
        "lang_cookie": LANG_COOKIE,
        "strings": dict(strings_of("dashboard", locale)),
        **catalogue_summary(catalogue),
    }


def catalogue_summary(catalogue: Catalogue) -> dict[str, Any]:
    """Plan, regions (province first) and indicators, as the page and the report show them."""
    province = catalogue.regions.province
    regions = [{"code": province.code, "name": province.name, "name_en": province.name_en, "level": "province"}]
    for code in catalogue.city_codes:
        city = catalogue.regions.cities[code]
        regions.append({"code": code, "name": city.name, "name_en": city.name_en, "level": "city"})
    indicators = [
        {"id": spec.id, "name_zh": spec.name_zh, "name_en": spec.name_en, "kind": spec.kind,
         "unit": report.unit_of(spec), "target": spec.target.model_dump(), "clause": spec.clause,
         "min_sample": catalogue.min_sample(spec), "scope": spec.scope,
         "judged_window": judged_window(catalogue, spec)}
        for spec in catalogue.indicators
    ]
    plan = catalogue.plan
    today = dt.datetime.now(catalogue.tz).date()
    return {
        "plan": {"id": plan.id, "title": plan.title, "title_en": plan.title_en, "issued_by": plan.issued_by,
                 "start": plan.start.isoformat(), "deadline": plan.deadline.isoformat(),
                 "over": today > plan.deadline, "illustrative": plan.illustrative},
        "regions": regions,
        "indicators": indicators,
    }

