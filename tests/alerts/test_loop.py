"""The rectification loop over a real database (SQLite and PostgreSQL) and a real webhook receiver: a
breach fires, an agency sets a plan through the API, follow-up inspections arrive, the alert goes
rectified → resolved → closed, and every step is in the append-only timeline."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from services.alerts.app import AlertsRuntime, create_app
from services.alerts.evaluate import Rule
from services.alerts.loop_models import AlertTimelineEntry, AppendOnlyError
from services.alerts.rules import RuleBook
from shared.auth import create_key
from shared.db import migrate
from shared.figures import Contributor, FigureChanged
from shared.followups import FollowUpInspection
from shared.settings import Settings
from tests.alerts.support import SECRET, T0, Receiver, figure
from tests.support import FixedClock


class Loop:
    def __init__(self, db_url: str, tmp_path: Path) -> None:
        migrate(db_url)
        settings = Settings(database_url=db_url, data_dir=tmp_path, admin_token="admin-token",
                            allow_private_webhooks=True, dashboard_origins="")
        self.clock = FixedClock(T0)
        app = create_app(settings, clock=self.clock, registry=CollectorRegistry(),
                         rules=RuleBook(Rule(resolve_for_seconds=0)), jitter=lambda cap: cap, run_background=False)
        self.rt: AlertsRuntime = app.state.alerts
        self.client = TestClient(app)
        self.keys: dict[str, dict[str, str]] = {}
        with self.rt.service.write() as session:
            for agency in ("agri", "transport", "city-3203"):
                _, raw = create_key(session, role="agency", agency_id=agency)
                self.keys[agency] = {"Authorization": f"Bearer {raw}"}

    def figures(self, *figs: object) -> None:
        self.clock.advance(dt.timedelta(seconds=1))
        now = self.clock.now()
        self.rt.service.handle_figures([FigureChanged(figure=f, changed_at=now) for f in figs], now)  # type: ignore[arg-type]

    def subscribe(self, agency: str, url: str) -> None:
        answer = self.client.post(f"/v1/agencies/{agency}/subscriptions", headers=self.keys[agency],
                                  json={"url": url, "secret": SECRET, "min_severity": "warning"})
        assert answer.status_code == 201, answer.text

    def follow_up(self, alert_id: str, sample_id: str, verdict: str = "pass") -> None:
        now = self.clock.now()
        with self.rt.service.write() as session:
            session.add(FollowUpInspection(sample_id=sample_id, alert_id=alert_id, indicator="agri_sampling_pass_rate",
                                           region="320321", verdict=verdict, revision=1, occurred_at=now,
                                           event_id=f"ev-{sample_id}", recorded_at=now))

    def timeline(self, alert_id: str, who: str = "agri") -> list[str]:
        answer = self.client.get(f"/v1/alerts/{alert_id}/timeline", headers=self.keys[who])
        assert answer.status_code == 200, answer.text
        return [e["kind"] for e in answer.json()["entries"]]


@pytest.fixture
def loop(db_url: str, tmp_path: Path) -> Iterator[Loop]:
    harness = Loop(db_url, tmp_path)
    yield harness
    harness.rt.worker.close()
    harness.rt.engine.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def _notices(receiver: Receiver) -> list[tuple[str, str | None]]:
    return [(r.json["agency_id"], a.get("notice")) for r in receiver.requests for a in r.json["alerts"]]


def test_a_breach_goes_from_plan_to_closed_and_every_step_is_in_the_timeline(loop: Loop, receiver: Receiver) -> None:
    loop.subscribe("agri", receiver.url("/agri"))
    loop.subscribe("city-3203", receiver.url("/xuzhou"))
    loop.figures(figure("breach", region="320300"))
    (alert,) = loop.client.get("/v1/alerts", headers=loop.keys["agri"]).json()["alerts"]
    alert_id = alert["alert_id"]
    deadline = (loop.clock.now() + dt.timedelta(days=10)).isoformat()
    plan = {"unit": "徐州市农业农村局", "deadline": deadline, "comment": "对超标基地整改并跟踪抽检"}

    refused = loop.client.post(f"/v1/alerts/{alert_id}/rectification", headers=loop.keys["transport"], json=plan)
    assert refused.status_code == 404  # not an agency this alert concerns: it does not learn the alert exists
    late = loop.client.post(f"/v1/alerts/{alert_id}/rectification", headers=loop.keys["agri"],
                            json={**plan, "deadline": (loop.clock.now() - dt.timedelta(hours=1)).isoformat()})
    assert late.status_code == 422 and late.json()["detail"][0]["loc"] == ["body", "deadline"]
    answer = loop.client.post(f"/v1/alerts/{alert_id}/rectification", headers=loop.keys["city-3203"], json=plan)
    assert answer.status_code == 200, answer.text
    assert answer.json()["rectification"]["stage"] == "planned"
    assert answer.json()["rectification"]["plan"]["unit"] == "徐州市农业农村局"

    for n in range(3):
        loop.clock.advance(dt.timedelta(days=1))
        loop.follow_up(alert_id, f"FU-{n}")
    loop.rt.service.run_periodic(loop.clock.now())
    assert loop.timeline(alert_id)[-1] == "follow_up_received"  # three, but the figure is still in breach

    loop.figures(figure("ok", region="320300"))  # back on target: resolves (resolve_for 0) …
    loop.rt.service.run_periodic(loop.clock.now())  # … and the follow-ups make it rectified, then closed
    steps = loop.timeline(alert_id, "city-3203")
    # A plan acknowledges the alert for the planning agency (its daily reminders stop; agri's go on).
    assert [s for s in steps if s != "notified"] == ["fired", "acknowledged", "plan_set", "follow_up_received",
                                                     "resolved", "rectified", "closed"]
    assert steps[1] == "notified" and steps[-2:] == ["notified", "notified"]  # firing; rectified and closed
    body = loop.client.get(f"/v1/alerts/{alert_id}/timeline", headers=loop.keys["agri"]).json()
    assert body["rectification"]["stage"] == "closed" and body["rectification"]["follow_ups"] == 3
    assert all(e["at"].endswith("+08:00") for e in body["entries"])

    while loop.rt.worker.run_once(loop.clock.now()):
        pass
    notices = _notices(receiver)
    assert ("agri", "started") in notices and ("city-3203", "started") in notices  # the notice names the step
    assert ("agri", "closed") in notices and ("city-3203", "rectified") in notices


def test_a_plan_past_its_deadline_escalates_once_to_the_provincial_lead_agency(
        loop: Loop, receiver: Receiver) -> None:
    loop.subscribe("agri", receiver.url("/agri"))
    loop.figures(figure("breach", region="320300"))
    (alert,) = loop.client.get("/v1/alerts", headers=loop.keys["agri"]).json()["alerts"]
    deadline = loop.clock.now() + dt.timedelta(days=2)
    assert loop.client.post(f"/v1/alerts/{alert['alert_id']}/rectification", headers=loop.keys["agri"],
                            json={"unit": "徐州市", "deadline": deadline.isoformat()}).status_code == 200
    for _ in range(4):
        loop.clock.advance(dt.timedelta(days=1))
        loop.rt.service.run_periodic(loop.clock.now())
    while loop.rt.worker.run_once(loop.clock.now()):
        pass
    assert _notices(receiver).count(("agri", "rectify_overdue")) == 1
    assert loop.timeline(alert["alert_id"]).count("escalated") == 1


def test_a_rectification_plan_needs_a_firing_alert_and_a_readable_body(loop: Loop) -> None:
    loop.figures(figure("breach", region="320300"))
    (alert,) = loop.client.get("/v1/alerts", headers=loop.keys["agri"]).json()["alerts"]
    url = f"/v1/alerts/{alert['alert_id']}/rectification"
    missing = loop.client.post(url, headers=loop.keys["agri"], json={"deadline": "2026-12-31T17:00:00+08:00"})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"][-1] == "unit"
    naive = loop.client.post(url, headers=loop.keys["agri"], json={"unit": "u", "deadline": "2026-12-31T17:00:00"})
    assert naive.status_code == 422
    loop.figures(figure("ok", region="320300"))
    resolved = loop.client.post(url, headers=loop.keys["agri"],
                                json={"unit": "u", "deadline": "2026-12-31T17:00:00+08:00"})
    assert resolved.status_code == 409
    assert loop.client.get("/v1/alerts/0000000000000000/timeline", headers=loop.keys["agri"]).status_code == 404


def test_timeline_entries_cannot_be_edited_or_deleted(loop: Loop) -> None:
    loop.figures(figure("breach", region="320300"))
    with loop.rt.sessions() as session:
        entry = session.query(AlertTimelineEntry).first()
        assert entry is not None
        entry.kind = "forged"
        with pytest.raises(AppendOnlyError):
            session.flush()
        session.rollback()
    for statement in ("UPDATE alert_timeline SET kind = 'forged'", "DELETE FROM alert_timeline"):
        with loop.rt.engine.connect() as connection, pytest.raises(DatabaseError, match="append-only"):
            connection.execute(text(statement))


def test_a_provincial_alert_names_the_cities_behind_its_shortfall_and_carries_their_alerts_named_in_it(
        loop: Loop, receiver: Receiver) -> None:
    loop.subscribe("agri", receiver.url("/agri"))
    loop.subscribe("city-3203", receiver.url("/xuzhou"))
    xuzhou = Contributor(region="320300", points=1.35, numerator=850, denominator=1000, value=0.85)
    nanjing = Contributor(region="320100", points=0.2, numerator=960, denominator=1000, value=0.96)
    province = figure("breach", region="320000").model_copy(update={"contributors": (xuzhou, nanjing)})
    loop.figures(province, figure("breach", region="320300"))
    while loop.rt.worker.run_once(loop.clock.now()):
        pass
    by_agency = {r.json["agency_id"]: r.json["alerts"] for r in receiver.requests}
    # One delivery to agri: the province's alert names the city, whose own alert rides along marked named_in
    # (machines read every alert by id; people read the city once, inside the province's notice).
    province_alert, city_alert = sorted(by_agency["agri"], key=lambda a: a["region"])
    assert (province_alert["region"], city_alert["region"]) == ("320000", "320300")
    assert city_alert["named_in"] == province_alert["alert_id"]
    only = province_alert
    assert [(c["region"], c["name"], c["points"], c["n"], c["alerting"]) for c in only["contributors"]] == [
        ("320300", "徐州市", 1.35, 1000, True), ("320100", "南京市", 0.2, 1000, False)]
    assert [a["region"] for a in by_agency["city-3203"]] == ["320300"]  # the city government still hears
    listed = loop.client.get("/v1/alerts?region=320000", headers=loop.keys["agri"]).json()["alerts"]
    assert listed[0]["contributors"][0]["region"] == "320300"
