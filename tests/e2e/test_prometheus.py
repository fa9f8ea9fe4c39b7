"""A real Prometheus (Debian's package) scrapes the running services and loads our alert rules."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from devtools.launcher import ServiceProcesses
from tests.support import free_port, wait_for
from tests.tooling import missing_tool

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
RULES = Path(__file__).parents[2] / "deploy" / "prometheus" / "rules" / "qualitywatch.yml"


@pytest.fixture
def prometheus(stack: ServiceProcesses, tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        missing_tool("the prometheus binary is not installed (Debian package 'prometheus'; .ci/run installs it)")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {"job_name": f"qw-{name}", "static_configs": [{"targets": [f"127.0.0.1:{stack.ports[name]}"]}]}
            for name in ("intake", "indicators", "alerts")
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    address = f"127.0.0.1:{free_port()}"
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen([binary, f"--config.file={tmp_path / 'prometheus.yml'}",
                                f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address={address}"],
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        yield f"http://{address}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def query(base: str, promql: str) -> list[dict]:
    try:
        response = httpx.get(f"{base}/api/v1/query", params={"query": promql}, timeout=5)
    except httpx.HTTPError:
        return []
    if response.status_code != 200:  # still starting
        return []
    body = response.json()
    return body.get("data", {}).get("result", []) if body.get("status") == "success" else []


def test_prometheus_scrapes_every_service_and_reads_our_metrics_back(prometheus: str,
                                                                    stack: ServiceProcesses) -> None:
    for name in ("intake", "indicators", "alerts"):
        with stack.client(name) as client:
            client.get("/readyz")  # sets qw_ready
    ready = wait_for(lambda: (r := query(prometheus, "qw_ready == 1")) and len(r) == 3 and r,
                 timeout=40, what="qw_ready == 1 from all three services")
    assert sorted(r["metric"]["job"] for r in ready) == ["qw-alerts", "qw-indicators", "qw-intake"]
    requests = wait_for(lambda: query(prometheus, 'sum by (job) (qw_http_requests_total{route="/readyz"})'),
                    timeout=20, what="request counters")
    assert {r["metric"]["job"] for r in requests} == {"qw-intake", "qw-indicators", "qw-alerts"}

    rules = httpx.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
    names = {rule["name"] for group in rules for rule in group["rules"]}
    assert len(names) >= 5
    assert all(rule.get("health") in ("ok", "unknown") for group in rules for rule in group["rules"])
