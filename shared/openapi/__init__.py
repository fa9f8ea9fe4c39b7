"""API docs that work offline, and every schema field described in Chinese and English with an example.

``install_api_docs(app)`` is the one place each service's docs are set up:

- ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) load their scripts and styles from ``/docs-assets/``, which
  the service serves from the ``fastapi-offline`` package's bundled copies (pinned in pyproject.toml): no
  CDN, no font service, so the pages work on a network without internet (a government intranet).
- the OpenAPI document, as the app builds it, gets each component schema field's description and example
  from ``fields.yaml`` beside this file (Chinese first, then English). The models stay as they are, and a
  field added anywhere is documented by adding its entry there; a test fails for any field without one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_PATH = "/docs-assets"
FIELDS_FILE = Path(__file__).with_name("fields.yaml")


def assets_dir() -> Path:
    """The folder of the installed ``fastapi_offline`` package that holds Swagger UI's and ReDoc's files."""
    return Path(str(resources.files("fastapi_offline") / "static"))


@lru_cache(maxsize=1)
def field_docs() -> dict[str, Any]:
    with FIELDS_FILE.open(encoding="utf-8") as handle:
        loaded = yaml.safe_load(handle)
    return {"common": loaded.get("common") or {}, "schemas": loaded.get("schemas") or {}}


def field_doc(schema: str, field: str) -> Mapping[str, Any] | None:
    """The catalogue's entry for a field: the schema's own, else the common one."""
    docs = field_docs()
    own = (docs["schemas"].get(schema) or {}).get(field)
    return own if own is not None else docs["common"].get(field)


def describe_fields(document: dict[str, Any]) -> dict[str, Any]:
    """Put each catalogued field's bilingual description and example into the document's component schemas."""
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        for field, prop in (schema.get("properties") or {}).items():
            entry = field_doc(name, field)
            if entry is None:
                continue
            prop["description"] = f"{entry['zh']}\n\n{entry['en']}"
            example = prop["const"] if "const" in prop else entry.get("example")
            prop["examples"] = [example]
    return document


def install_api_docs(app: FastAPI) -> None:
    """Offline Swagger UI and ReDoc, and the field descriptions; call last in ``create_app`` (after any
    other OpenAPI customisation, which it wraps). The app is made with ``docs_url=None, redoc_url=None``."""
    app.mount(ASSETS_PATH, StaticFiles(directory=assets_dir()), name="docs-assets")
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        app.openapi_schema = describe_fields(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} — API 文档",
                                   swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
                                   swagger_favicon_url=f"{ASSETS_PATH}/favicon.png")

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} — API 文档",
                              redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
                              redoc_favicon_url=f"{ASSETS_PATH}/favicon.png", with_google_fonts=False)
