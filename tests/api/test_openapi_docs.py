"""API docs: every field of every schema described in Chinese and English with an example; the docs pages
load their assets from the service itself."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shared.openapi import ASSETS_PATH
from tests.api.apps import Services, running_services

HAN = re.compile(r"[\u4e00-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with running_services(tmp_path_factory.mktemp("docs")) as running:
        yield running


@pytest.mark.parametrize("service", ["intake", "indicators", "alerts"])
def test_every_field_of_every_schema_is_described_in_chinese_and_english_with_an_example(
        services: Services, service: str) -> None:
    document = services.client(service).get("/openapi.json").json()
    undocumented = []
    fields = 0
    for name, schema in document["components"]["schemas"].items():
        for field, prop in (schema.get("properties") or {}).items():
            fields += 1
            text = prop.get("description", "")
            zh, _, en = text.partition("\n\n")
            if not (HAN.search(zh) and LATIN_WORD.search(en) and prop.get("examples")):
                undocumented.append(f"{name}.{field}")
    assert fields > 0
    assert undocumented == [], "add these to shared/openapi/fields.yaml (zh, en, example)"


@pytest.mark.parametrize("service", ["intake", "indicators", "alerts"])
def test_the_docs_pages_load_their_assets_from_the_service_only(services: Services, service: str) -> None:
    client: TestClient = services.client(service)
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        external = [url for url in re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
                    if not url.startswith("/")]
        assert external == [], (page, external)
        assets = re.findall(rf"""["']({ASSETS_PATH}/[^"']+)["']""", html)
        assert assets, page
        for asset in assets:
            response = client.get(asset)
            assert response.status_code == 200 and len(response.content) > 1000, asset
    assert "fonts.googleapis" not in client.get("/redoc").text


def test_the_docs_assets_come_from_the_installed_package_not_the_network() -> None:
    from shared.openapi import assets_dir

    folder = Path(assets_dir())
    assert {"swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"} <= {p.name for p in folder.iterdir()}
