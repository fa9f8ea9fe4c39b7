"""Issue 15, integrity: attacks with ordinary keys against the services as processes (real Kafka and
PostgreSQL, two intake instances on one database). Each asserts the refusal and that nothing was counted
or changed."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from devtools.launcher import ServiceProcesses
from shared.kafka import make_producer
from tests.support import wait_for

pytestmark = [pytest.mark.security, pytest.mark.e2e, pytest.mark.integration]
CST = dt.timezone(dt.timedelta(hours=8))
AGRI = "agri-routine-monitoring"
SPOT = "national-spot-check"


def now() -> str:
    return (dt.datetime.now(CST) - dt.timedelta(minutes=1)).replace(microsecond=0).isoformat()


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def inspection(event_id: str, lab: str, sample: str, region: str, *, verdict: str = "pass", revision: int = 1,
               programme: str = AGRI, category: str = "vegetables", **extra: Any) -> dict[str, Any]:
    data = {"sample_id": sample, "programme": programme, "category": category, "region": region,
            "verdict": verdict, "revision": revision, **extra}
    return {"event_id": event_id, "type": "inspection.completed", "occurred_at": now(), "lab_id": lab, "data": data}


def key(stack: ServiceProcesses, body: dict[str, Any]) -> str:
    with stack.client("intake") as admin:
        created = admin.post("/v1/api-keys", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["api_key"])


def lab_key(stack: ServiceProcesses, lab: str, **accreditation: Any) -> str:
    return key(stack, {"role": "lab", "lab_id": lab, **accreditation})


def post(stack: ServiceProcesses, token: str, body: Any, *, service: str = "intake", raw: bytes | None = None,
         batch: bool = False) -> httpx.Response:
    path = "/v1/events/batch" if batch else "/v1/events"
    with stack.client(service, token) as client:
        if raw is not None:
            return client.post(path, content=raw, headers={"Content-Type": "application/json"})
        return client.post(path, json=body)


def status(stack: ServiceProcesses, token: str, event_id: str) -> httpx.Response:
    with stack.client("intake", token) as client:
        return client.get(f"/v1/events/{event_id}")


def accepted_total(stack: ServiceProcesses) -> float:
    text = httpx.get(f"{stack.url('intake')}/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("qw_intake_events_accepted_total{"))


def metric(stack: ServiceProcesses, service: str, name: str) -> float:
    text = httpx.get(f"{stack.url(service)}/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def figure(stack: ServiceProcesses, indicator: str, region: str, window: str = "30d") -> dict[str, Any]:
    with stack.client("indicators") as client:
        response = client.get(f"/v1/indicators/{indicator}", params={"region": region, "window": window})
    assert response.status_code == 200, response.text
    return {k: response.json().get(k) for k in ("numerator", "denominator", "value")}


def settled(stack: ServiceProcesses, token: str, event_id: str) -> dict[str, Any]:
    """The event's status once indicators has an outcome for it."""
    def done() -> dict[str, Any] | None:
        answer = status(stack, token, event_id)
        body = answer.json()
        return body if answer.status_code == 200 and body["status"] != "accepted" else None
    return wait_for(done, timeout=30, what=f"an outcome for {event_id}")


def unchanged(read: Callable[[], Any], before: Any, *, seconds: float = 2.0) -> None:
    """``read()`` still equals ``before`` after the consumer had time to apply anything that slipped through."""
    deadline = dt.datetime.now() + dt.timedelta(seconds=seconds)
    while dt.datetime.now() < deadline:
        assert read() == before
        threading.Event().wait(0.3)


def test_lab_b_cannot_rewrite_lab_as_sample(stack: ServiceProcesses) -> None:
    lab_a, lab_b = lab_key(stack, "LAB-3201"), lab_key(stack, "LAB-3203")
    sample = uid("S-A")
    first = inspection(uid("a"), "LAB-3201", sample, "320100")
    assert post(stack, lab_a, first).status_code == 202
    assert settled(stack, lab_a, first["event_id"])["status"] == "applied"
    nanjing, xuzhou = figure(stack, "agri_sampling_pass_rate", "320100"), figure(stack, "agri_sampling_pass_rate",
                                                                                  "320300")
    counted = accepted_total(stack)

    attack = inspection(uid("b"), "LAB-3203", sample, "320300", verdict="fail", revision=999_999)
    refused = post(stack, lab_b, attack)
    assert refused.status_code == 403, refused.text
    assert refused.json()["rule"] == "not_owner" and "LAB-3201" not in refused.text
    assert status(stack, lab_b, attack["event_id"]).status_code == 404
    assert accepted_total(stack) == counted

    # The same attack past intake (a record published before intake knew the owner): indicators refuses it too.
    record = {**attack, "event_id": uid("b-direct")}
    producer = make_producer(stack.bootstrap, client_id="security-test")
    try:
        producer.send(f"{stack.topic_prefix}qw.events", key=f"sample:{sample}".encode(), value=orjson.dumps(record),
                      headers=[("qw-sender", b"lab:LAB-3203")]).get(timeout=10)
    finally:
        producer.close()
    wait_for(lambda: metric(stack, "indicators", 'qw_indicators_dead_letters_total{reason="not_owner"}') >= 1,
             timeout=30, what="a not_owner dead letter")
    with stack.client("indicators") as operator:
        letters = operator.get("/v1/dead-letters").json()
    letters = letters.get("dead_letters", letters) if isinstance(letters, dict) else letters
    assert any(d["event_id"] == record["event_id"] and d["reason"] == "not_owner" for d in letters)
    unchanged(lambda: (figure(stack, "agri_sampling_pass_rate", "320100"),
                       figure(stack, "agri_sampling_pass_rate", "320300")), (nanjing, xuzhou))
    assert settled(stack, lab_a, first["event_id"])["status"] == "applied"  # A's verdict stands


def test_a_xuzhou_lab_may_not_report_a_milestone_nor_a_suzhou_spot_check(stack: ServiceProcesses) -> None:
    xuzhou = lab_key(stack, "LAB-3203", regions=["320300"])
    counted = accepted_total(stack)
    awards = figure(stack, "china_quality_awards", "320000", "plan")
    suzhou = figure(stack, "national_spot_check_pass_rate", "320500")

    milestone = {"event_id": uid("award"), "type": "milestone.reported", "occurred_at": now(), "lab_id": "LAB-3203",
                 "data": {"indicator": "china_quality_awards", "region": "320000", "count": 1}}
    refused = post(stack, xuzhou, milestone)
    assert refused.status_code == 403, refused.text
    assert refused.json()["rule"] == "agency_statement"
    assert "agency key" in refused.json()["detail"] and "部门" in refused.json()["detail_zh"]

    spot = inspection(uid("spot"), "LAB-3203", uid("S-spot"), "320500", programme=SPOT, category="electronics")
    refused = post(stack, xuzhou, spot)
    assert refused.status_code == 403, refused.text
    assert refused.json()["rule"] == "region_not_accredited" and "320500" in refused.json()["detail"]

    # An agency may report only its own indicators: development-reform is not responsible for the awards.
    other = key(stack, {"role": "agency", "agency_id": "development-reform"})
    as_agency = {**milestone, "event_id": uid("award"), "lab_id": "development-reform"}
    refused = post(stack, other, as_agency)
    assert refused.status_code == 403 and refused.json()["rule"] == "not_responsible", refused.text

    for event_id in (milestone["event_id"], spot["event_id"]):
        assert status(stack, xuzhou, event_id).status_code == 404
    assert accepted_total(stack) == counted
    unchanged(lambda: (figure(stack, "china_quality_awards", "320000", "plan"),
                       figure(stack, "national_spot_check_pass_rate", "320500")), (awards, suzhou))

    # The lead agency may.
    lead = key(stack, {"role": "agency", "agency_id": "market-supervision"})
    allowed = {**milestone, "event_id": uid("award"), "lab_id": "market-supervision"}
    assert post(stack, lead, allowed).status_code == 202


def test_event_id_squatting_neither_blocks_nor_reveals(stack: ServiceProcesses) -> None:
    lab_a, lab_b = lab_key(stack, "LAB-3201"), lab_key(stack, "LAB-3203")
    event_id = uid("shared")  # B guesses A's next id and takes it first
    squat = inspection(event_id, "LAB-3203", uid("S-B"), "320300")
    assert post(stack, lab_b, squat).status_code == 202
    mine = inspection(event_id, "LAB-3201", uid("S-A"), "320100")
    answer = post(stack, lab_a, mine)
    assert answer.status_code == 202, answer.text
    assert answer.json()["accepted"] == 1 and answer.json()["duplicates"] == 0
    assert settled(stack, lab_a, event_id)["status"] == "applied"
    assert settled(stack, lab_b, event_id)["status"] == "applied"  # two events, one id each sender

    # B re-using its own id with other content gets a 409 about its own event only.
    again = post(stack, lab_b, {**squat, "data": {**squat["data"], "verdict": "fail"}})
    assert again.status_code == 409
    # ... naming B's own sample (issue 18's lab-facing errors), never A's
    assert again.json()["conflicts"] == [{"index": 0, "event_id": event_id, "sample_id": squat["data"]["sample_id"]}]
    assert "LAB-3201" not in again.text and mine["data"]["sample_id"] not in again.text
    # Each sender sees its own event; an id only another sender used is a 404, as an unknown one.
    lab_c = lab_key(stack, "LAB-3205")
    assert status(stack, lab_c, event_id).status_code == 404
    assert status(stack, lab_c, event_id).json() == status(stack, lab_c, uid("never")).json() | {
        "detail": status(stack, lab_c, event_id).json()["detail"]}


def test_a_stale_revision_is_reported_to_its_sender(stack: ServiceProcesses) -> None:
    lab = lab_key(stack, "LAB-3201")
    sample = uid("S-rev")
    second = inspection(uid("r2"), "LAB-3201", sample, "320100", revision=2, verdict="fail")
    first = inspection(uid("r1"), "LAB-3201", sample, "320100", revision=1)
    assert post(stack, lab, second).status_code == 202
    assert settled(stack, lab, second["event_id"])["status"] == "applied"
    assert post(stack, lab, first).status_code == 202
    stale = settled(stack, lab, first["event_id"])
    assert stale["status"] == "ignored_stale" and stale["standing_revision"] == 2
    assert stale["accepted_at"].endswith("+08:00")


@pytest.mark.parametrize(("case", "change", "status_code", "path"), [
    ("Unix seconds", lambda e: e | {"occurred_at": 1764900000}, 422, "$.occurred_at"),
    ("local time", lambda e: e | {"occurred_at": "2026-12-01T10:00:00"}, 422, "$.occurred_at"),
    ("control character in unit", lambda e: e | {"data": e["data"] | {"items": [
        {"name": "lead", "value": 0.1, "unit": "mg/kg\u0007", "verdict": "pass"}]}}, 422,
     "$.data.items[0].unit"),
    ("2^70 item value", lambda e: e | {"data": e["data"] | {"items": [
        {"name": "lead", "value": 2**70, "unit": "mg/kg", "verdict": "pass"}]}}, 422, "$.data.items[0].value"),
    ("revision 0", lambda e: e | {"data": e["data"] | {"revision": 0}}, 422, "$.data.revision"),
    ("revision above a million", lambda e: e | {"data": e["data"] | {"revision": 1_000_001}}, 422,
     "$.data.revision"),
])
def test_loose_input_is_refused_whole(stack: ServiceProcesses, case: str, change: Callable[[dict], dict],
                                      status_code: int, path: str) -> None:
    lab = lab_key(stack, "LAB-3201")
    counted = accepted_total(stack)
    event = change(inspection(uid("loose"), "LAB-3201", uid("S-loose"), "320100"))
    for batch in (False, True):
        answer = post(stack, lab, {"events": [event]} if batch else event, batch=batch)
        assert answer.status_code == status_code, (case, answer.text)
        assert [e["path"] for e in answer.json()["errors"]] == [path], (case, answer.text)
    assert status(stack, lab, event["event_id"]).status_code == 404
    assert accepted_total(stack) == counted


def test_duplicate_json_keys_are_a_400_on_both_event_routes(stack: ServiceProcesses) -> None:
    lab = lab_key(stack, "LAB-3201")
    counted = accepted_total(stack)
    event = inspection(uid("dup"), "LAB-3201", uid("S-dup"), "320100", verdict="fail")
    raw = orjson.dumps(event).replace(b'"verdict":"fail"', b'"verdict":"fail","verdict":"pass"', 1)
    for batch, body in ((False, raw), (True, b'{"events":[' + raw + b"]}")):
        answer = post(stack, lab, None, raw=body, batch=batch)
        assert answer.status_code == 400, answer.text
        assert "duplicate key 'verdict'" in answer.json()["detail"]
    assert status(stack, lab, event["event_id"]).status_code == 404
    assert accepted_total(stack) == counted


def _send(stack: ServiceProcesses, service: str, token: str, event: dict[str, Any], start: threading.Barrier,
          answers: list[int]) -> None:
    with stack.client(service, token) as client:
        start.wait()
        answers.append(client.post("/v1/events", json=event).status_code)


def test_two_intakes_given_one_id_with_different_content_at_once_answer_202_and_409(
        stack: ServiceProcesses) -> None:
    lab = lab_key(stack, "LAB-3201")
    for _ in range(5):
        event_id = uid("race")
        contents = [inspection(event_id, "LAB-3201", uid("S-race"), "320100", verdict=v) for v in ("pass", "fail")]
        answers: list[int] = []
        start = threading.Barrier(2)
        threads = [threading.Thread(target=_send, args=(stack, s, lab, e, start, answers))
                   for s, e in zip(("intake", "intake2"), contents, strict=True)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(answers) == [202, 409], answers
        assert settled(stack, lab, event_id)["status"] == "applied"
