"""``/docs`` renders every operation in headless Chromium with all network except the service blocked.

Chromium resolves no host name but 127.0.0.1 and sends everything else to a proxy that is not there (a
government intranet without internet, or worse); loopback bypasses the proxy. The page must still show
Swagger UI with the service's operations, having loaded only from the service.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import uvicorn

from tests.api.apps import Services, running_services
from tests.dashboard.cdp import Browser, find_chromium
from tests.support import free_port, wait_for
from tests.tooling import missing_tool

pytestmark = [pytest.mark.e2e]
OFFLINE = ("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--proxy-server=http://127.0.0.1:9")


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with running_services(tmp_path_factory.mktemp("docs-offline")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = find_chromium()
    if executable is None:
        missing_tool("no Chromium found (install the Debian package 'chromium', or set QW_CHROMIUM)")
    chromium = Browser(executable, width=1400, height=1000, extra_args=OFFLINE)
    try:
        yield chromium
    finally:
        chromium.close()


def serve(services: Services, name: str) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(services.apps[name], host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{name}", daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=15, what=f"{name} serving")
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("name", ["intake", "indicators", "alerts"])
def test_docs_render_the_operations_with_the_network_blocked(services: Services, browser: Browser,
                                                            name: str) -> None:
    server, thread, url = serve(services, name)
    try:
        page = browser.new_page()
        page.send("Network.enable")
        page.goto("about:blank")
        # The network really is blocked: a CDN Swagger UI would have loaded from fails here.
        blocked = page.evaluate("fetch('https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js')"
                                ".then(() => 'loaded', () => 'blocked')")
        assert blocked == "blocked"
        seen_before = len(browser.events(page.session))
        page.goto(f"{url}/docs")
        page.wait_for("document.querySelectorAll('.opblock').length", timeout=30, what="Swagger UI's operations")
        shown = page.evaluate("[...document.querySelectorAll('.opblock')].map(b => "
                              "b.querySelector('.opblock-summary-method').textContent.toLowerCase() + ' ' + "
                              "b.querySelector('.opblock-summary-path').getAttribute('data-path'))")
        paths = services.client(name).get("/openapi.json").json()["paths"]
        assert set(shown) == {f"{method} {path}" for path, item in paths.items() for method in item}
        assert page.evaluate("document.querySelector('.information-container .title').textContent") \
            .startswith(services.apps[name].title)
        requested = [e["params"]["request"]["url"] for e in browser.events(page.session)[seen_before:]
                     if e["method"] == "Network.requestWillBeSent"]
        assert requested and all(u.startswith(url) for u in requested if u.startswith("http")), requested
        page.goto(f"{url}/redoc")
        page.wait_for("document.querySelectorAll('[data-section-id^=\"operation/\"]').length > 0", timeout=30,
                      what="ReDoc's operations")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
