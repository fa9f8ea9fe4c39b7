"""A running stack with known figures, for the dashboard page and the quality report.

The three services run as processes (real Kafka broker, one SQLite file); events go in through
intake's API like a lab's, so the page and the report read exactly what the pipeline made of them.
Seeded (all inside the current CST month, spread over up to 20 days so trends have a line):
- agri_sampling_pass_rate: Suzhou 180/200 (breach, 85.1–93.4 %; posted from two of its counties, 昆山市 320583 and
  吴中区 320506, half each, so the city's counties have figures), Nanjing 300/300 (ok), Wuxi 40/42 (at risk);
- national_spot_check_pass_rate: Xuzhou 50/50 (ok);
- producer_services_satisfaction: Nanjing, 50 respondents scoring 90.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devtools.launcher import ServiceProcesses
from devtools.localinfra import LocalKafka
from shared.db import migrate
from tests.support import free_port, wait_for

CST = dt.timezone(dt.timedelta(hours=8))
LAB = "LAB-0001"
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"


@dataclass(frozen=True)
class Seeded:
    stack: ServiceProcesses
    agency_key: str
    lab_key: str
    period: str  # the CST month holding every seeded event, e.g. "2026-11"

    @property
    def indicators_url(self) -> str:
        return self.stack.url("indicators")


def seed_window(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """From up to 20 days back to two hours ago, never leaving the month of two hours ago."""
    end = now.astimezone(CST) - dt.timedelta(hours=2)
    month_start = end.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return max(month_start + dt.timedelta(minutes=1), end - dt.timedelta(days=20)), end


def _spread(items: list[dict[str, Any]], start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    step = (end - start) / max(len(items), 1)
    return [{**item, "occurred_at": (start + step * i).isoformat(timespec="seconds")} for i, item in enumerate(items)]


def inspections(programme: str, city: str, passes: int, fails: int) -> list[dict[str, Any]]:
    category = "vegetables" if programme == "agri-routine-monitoring" else "electronics"
    # Failures spread evenly through the run, so the rolling value is about the same every day.
    total = passes + fails
    failing = {k * total // fails for k in range(fails)}
    return [{"event_id": f"dash-{programme[:4]}-{city}-{i:05d}", "type": "inspection.completed", "lab_id": LAB,
             "data": {"sample_id": f"dash-{programme[:4]}-{city}-S{i:05d}", "programme": programme,
                      "category": category, "region": city, "verdict": "fail" if i in failing else "pass"}}
            for i in range(total)]


SUZHOU_COUNTIES = ("320583", "320506")


def in_counties(events: list[dict[str, Any]], counties: tuple[str, ...]) -> list[dict[str, Any]]:
    """The same events, sent from the city's counties in turn (they roll up to the city unchanged)."""
    return [{**e, "data": {**e["data"], "region": counties[i % len(counties)]}} for i, e in enumerate(events)]


def seed_events(start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    events = [*in_counties(inspections("agri-routine-monitoring", "320500", 180, 20), SUZHOU_COUNTIES),
              *inspections("agri-routine-monitoring", "320100", 300, 0),
              *inspections("agri-routine-monitoring", "320200", 40, 2),
              *inspections("national-spot-check", "320300", 50, 0)]
    events += [{"event_id": f"dash-survey-320100-{i}", "type": "survey.scored", "lab_id": LAB,
                "data": {"sector": "producer_services", "region": "320100", "score": 90, "respondents": 10}}
               for i in range(5)]
    return _spread(events, start, end)


@pytest.fixture(scope="session")
def seeded(kafka_broker: LocalKafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    data_dir = tmp_path_factory.mktemp("dashboard-stack")
    ports = {name: free_port() for name in ("intake", "indicators", "alerts")}
    page_origin = f"http://127.0.0.1:{ports['indicators']}"
    stack = ServiceProcesses(
        bootstrap=kafka_broker.bootstrap, database_url=f"sqlite:///{data_dir / 'qw.db'}",
        topic_prefix=f"dash{uuid.uuid4().hex[:10]}.", data_dir=data_dir, ports=ports,
        extra_env={"QW_ALERTS_PUBLIC_URL": f"http://127.0.0.1:{ports['alerts']}",
                   "QW_DASHBOARD_ORIGINS": page_origin, "QW_ALERT_FOR_SECONDS": "0"})
    # Migrate once up front: three services migrating one fresh SQLite file at once would race.
    migrate(stack.database_url)
    try:
        stack.start()
        with stack.client("intake") as admin:
            lab_key = admin.post("/v1/api-keys", json={"role": "lab", "lab_id": LAB}).json()["api_key"]
            agency_key = admin.post("/v1/api-keys", json={"role": "agency", "agency_id": "agri"}).json()["api_key"]
        start, end = seed_window(dt.datetime.now(CST))
        events = seed_events(start, end)
        # Lab results beside a development-reform survey: only an operator key may post both.
        with stack.client("intake") as lab:
            for i in range(0, len(events), 500):
                response = lab.post("/v1/events/batch", json={"events": events[i:i + 500]})
                assert response.status_code == 202, response.text
        seeded = Seeded(stack, agency_key, lab_key, end.strftime("%Y-%m"))
        with stack.client("indicators", agency_key) as reader:
            wait_for(lambda: reader.get("/v1/indicators/agri_sampling_pass_rate",
                                    params={"region": "320000", "window": "30d"}).json().get("denominator") == 542,
                 timeout=30, what="the seeded inspections in the provincial figure")
        yield seeded
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def firing_suzhou_alert(seeded: Seeded) -> dict[str, Any]:
    """Wait until the alert service fires on Suzhou's agricultural pass rate (it evaluates on a timer)."""
    with seeded.stack.client("alerts", seeded.agency_key) as client:
        def firing() -> dict[str, Any] | None:
            body = client.get("/v1/alerts", params={"state": "firing"}).json()
            alerts = body["alerts"] if isinstance(body, dict) else body
            return next((a for a in alerts if a["indicator"] == "agri_sampling_pass_rate"
                         and a["region"] == "320500"), None)
        return wait_for(firing, timeout=40, what="a firing alert for Suzhou's agricultural pass rate")
